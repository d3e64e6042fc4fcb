"""Pairing two runs example by example: by doc id and document hash, with the request each
document was given; and what pairing shows (the examples that flipped, how much two runs
disagree). Pure functions on results."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from pytest_mlgate.config.schema import MetricThreshold
from pytest_mlgate.errors import MetricNotFound
from pytest_mlgate.results import DOC_HASH_CHARS, EvalRun, MetricResult, TaskResult


@dataclass(frozen=True)
class Pairing:
    baseline: tuple[float, ...]
    current: tuple[float, ...]
    paired: bool
    uncovered: int  # current examples the baseline does not hold (by id and document hash)
    docs: tuple[int, ...] = ()  # the doc ids paired, in order


def paired_docs(
    current: MetricResult, current_task: TaskResult, base: MetricResult, base_task: TaskResult
) -> tuple[list[tuple[int, float, float]], int]:
    """(doc id, baseline score, current score) for every current example the baseline holds,
    matched by doc id and, where both runs have them, document hash; and how many it lacks."""
    use_hash = bool(current_task.doc_hashes) and bool(base_task.doc_hashes)

    def key(task: TaskResult, doc: int) -> tuple[int, str | None]:
        if not use_hash:
            return (doc, None)
        digest = task.doc_hashes.get(doc)
        return (doc, None if digest is None else digest[:DOC_HASH_CHARS])

    base_scores = {key(base_task, d): s for d, s in zip(base.doc_ids, base.scores, strict=True)}
    pairs, uncovered = [], 0
    for doc, score in zip(current.doc_ids, current.scores, strict=True):
        match = base_scores.get(key(current_task, doc))
        if match is None:
            uncovered += 1
        else:
            pairs.append((doc, match, score))
    return pairs, uncovered


def pair_examples(
    current: MetricResult, current_task: TaskResult, base: MetricResult, base_task: TaskResult
) -> Pairing:
    """Paired when the baseline holds every current example (a PR's sample of a baseline's full
    run pairs fine); otherwise the full score lists go to an unpaired test."""
    pairs, uncovered = paired_docs(current, current_task, base, base_task)
    if uncovered or not pairs:
        return Pairing(base.scores, current.scores, False, uncovered)
    return Pairing(
        tuple(p[1] for p in pairs), tuple(p[2] for p in pairs), True, 0, tuple(p[0] for p in pairs)
    )


def prompt_mismatches(
    current: TaskResult, base: TaskResult, docs: Iterable[int]
) -> tuple[int, int]:
    """Of the documents both runs rendered (and fingerprinted), how many were rendered
    differently, and how many were compared."""
    shared = [d for d in docs if d in current.prompt_hashes and d in base.prompt_hashes]
    differ = sum(
        current.prompt_hashes[d][:DOC_HASH_CHARS] != base.prompt_hashes[d][:DOC_HASH_CHARS]
        for d in shared
    )
    return differ, len(shared)


def flipped(
    current: MetricResult, current_task: TaskResult, base: MetricResult, base_task: TaskResult
) -> tuple[list[int], list[int]]:
    """Doc ids of the paired 0/1 examples that went right->wrong and wrong->right."""
    if not (current.is_binary and base.is_binary):
        return [], []
    good = 1.0 if current.higher_is_better else 0.0
    pairs, _ = paired_docs(current, current_task, base, base_task)
    lost = [doc for doc, before, now in pairs if before == good and now != good]
    gained = [doc for doc, before, now in pairs if before != good and now == good]
    return lost, gained


def discordance(previous: EvalRun, baseline: EvalRun) -> dict[tuple[str, str], float]:
    """Share of examples whose 0/1 score flipped between two neighbouring recorded runs: how
    much two checkpoints one merge apart really disagree, which sets the paired test's power."""
    shares = {}
    for name, task in baseline.tasks.items():
        if name not in previous:
            continue
        for key, metric in task.metrics.items():
            before = previous[name].metrics.get(key)
            if before is None or not metric.is_binary or not before.is_binary:
                continue
            pairing = pair_examples(metric, task, before, previous[name])
            if pairing.paired and pairing.current:
                changed = sum(
                    a != b for a, b in zip(pairing.baseline, pairing.current, strict=True)
                )
                shares[(name, key)] = max(changed, 1) / len(pairing.current)
    return shares


@dataclass(frozen=True)
class Flips:
    """The examples of one task that changed answer against the baseline, on one 0/1 metric."""

    task: str
    metric: str
    lost: tuple[int, ...]  # right -> wrong
    gained: tuple[int, ...]  # wrong -> right


def task_flips(
    run: EvalRun, baseline: EvalRun | None, thresholds: Sequence[MetricThreshold]
) -> list[Flips]:
    """Per task, the flips on its first gated 0/1 metric (else its first 0/1 metric)."""
    if baseline is None:
        return []
    found = []
    for name, task in run.tasks.items():
        if name not in baseline:
            continue
        gated = [t.metric for t in thresholds if t.task == name]
        keys = [k for k in (_resolve(task, m) for m in gated) if k] + list(task.metrics)
        for key in keys:
            metric, base = task.metrics[key], baseline[name].metrics.get(key)
            if base is None or not metric.is_binary or not base.is_binary:
                continue
            lost, gained = flipped(metric, task, base, baseline[name])
            found.append(Flips(name, key, tuple(lost), tuple(gained)))
            break
    return found


def _resolve(task: TaskResult, metric: str) -> str | None:
    try:
        return task.resolve(metric)
    except MetricNotFound:
        return None
