"""``mlgate merge``: join the partial runs of ``--mlgate-shard K/N`` and gate the whole.

The shards must be complete (1..N, each once), from the same checkpoint, config, suite,
versions and prompt settings, and disjoint (no document in two shards). Each task's per-example
scores are joined and every metric recomputed from them: a metric whose value is not the mean
of its per-example scores (a corpus-level F1 or BLEU) cannot be joined and is an error, never a
guess. The joined run is then gated exactly as an unsharded run is: same thresholds, baseline,
anchor, reference families and corrections.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TypeVar

from pytest_mlgate.backend import EvalRequest
from pytest_mlgate.config.schema import MetricThreshold, MlgateConfig, SuiteConfig
from pytest_mlgate.errors import ConfigError, RecordError
from pytest_mlgate.gate.verdicts import GateOutcome
from pytest_mlgate.manifest import Manifest, task_info
from pytest_mlgate.results import EvalRun, MetricResult, TaskResult, combined, total_seconds
from pytest_mlgate.store import new_run_id
from pytest_mlgate.store.codec import loads_outcome

TOLERANCE = 1e-9
V = TypeVar("V")


def load_partials(paths: Sequence[Path]) -> list[tuple[Path, GateOutcome]]:
    found = []
    for path in paths:
        try:
            outcome = loads_outcome(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, RecordError) as exc:
            raise ConfigError(f"{path}: not a readable partial run: {exc}") from None
        if outcome.manifest.suite.shard is None:
            raise ConfigError(f"{path}: run {outcome.run_id} is not a shard's partial run")
        found.append((path, outcome))
    return found


def check_shards(partials: Sequence[tuple[Path, GateOutcome]]) -> None:
    """Complete, each shard once, all made the same way."""
    if not partials:
        raise ConfigError("mlgate merge: no partial run given")
    counts = {o.manifest.suite.shard[1] for _, o in partials if o.manifest.suite.shard}
    if len(counts) != 1:
        raise ConfigError(f"the partial runs split the documents differently: N = {sorted(counts)}")
    (n,) = counts
    by_shard: dict[int, list[Path]] = {}
    for path, outcome in partials:
        shard = outcome.manifest.suite.shard
        assert shard is not None
        by_shard.setdefault(shard[0], []).append(path)
    twice = {k: paths for k, paths in by_shard.items() if len(paths) > 1}
    if twice:
        k, paths = next(iter(sorted(twice.items())))
        raise ConfigError(f"shard {k}/{n} given twice: {', '.join(map(str, paths))}")
    missing = sorted(set(range(1, n + 1)) - set(by_shard))
    if missing:
        raise ConfigError(
            f"shard(s) {', '.join(f'{k}/{n}' for k in missing)} missing: a merge of "
            f"{len(by_shard)} of {n} shards would gate part of the documents"
        )
    first_path, first = partials[0]
    for path, other in partials[1:]:
        why = _made_differently(first.manifest, other.manifest)
        if why:
            raise ConfigError(f"{path} and {first_path} were made differently: {why}")


def _made_differently(a: Manifest, b: Manifest) -> str | None:
    pairs = {
        "checkpoint": (a.checkpoint.fingerprint, b.checkpoint.fingerprint),
        "config": (a.config.hash, b.config.hash),
        "suite": (
            dataclasses.replace(a.suite, shard=None),
            dataclasses.replace(b.suite, shard=None),
        ),
        "versions": (a.versions, b.versions),
        "model": (a.model, b.model),
        "prompt settings": (a.prompt, b.prompt),
        "tasks": (sorted(a.tasks), sorted(b.tasks)),
        "commit": (a.git.commit, b.git.commit),
    }
    differ = [name for name, (x, y) in pairs.items() if x != y]
    return ", ".join(differ) or None


def join_runs(runs: Sequence[EvalRun]) -> EvalRun:
    """Runs of disjoint shards of the same tasks as one run."""
    names = list(runs[0].tasks)
    for run in runs[1:]:
        if sorted(run.tasks) != sorted(names):
            raise ConfigError(
                f"the shards evaluated different tasks: {sorted(run.tasks)} vs {names}"
            )
    tasks = {name: join_task(name, [run[name] for run in runs]) for name in names}
    info = dataclasses.replace(
        runs[0].info,
        throughput=combined(*(run.info.throughput for run in runs)),
        seconds=total_seconds(*(run.info.seconds for run in runs)),
        scoring={
            name: path
            for name in names
            if (path := joined_scoring([r.info.scoring.get(name) for r in runs]))
        },
    )
    return EvalRun(tasks, info)


def joined_scoring(paths: Sequence[str | None]) -> str:
    """The scoring path of a task over its shards: every path some shard used, ``+``-joined
    in a fixed order ("" when no shard recorded one)."""
    used = {part for path in paths if path for part in path.split("+")}
    return "+".join(sorted(used, key=lambda part: (part != "shared-context", part)))


def join(partials: Sequence[GateOutcome]) -> tuple[EvalRun, Manifest]:
    """The shards' runs as one run, and its manifest (the first shard's, unsharded)."""
    run = join_runs([p.run for p in partials])
    tasks = run.tasks
    first = partials[0].manifest
    manifest = dataclasses.replace(
        first,
        run_id=new_run_id(),
        timestamp=dt.datetime.now(dt.timezone.utc).isoformat(timespec="microseconds"),
        suite=dataclasses.replace(first.suite, shard=None),
        tasks={
            name: task_info(
                task, joined_scoring([_scoring(p.manifest, name) for p in partials]) or None
            )
            for name, task in tasks.items()
        },
        throughput=combined(*(p.manifest.throughput for p in partials)),
        evaluation_seconds=total_seconds(*(p.manifest.evaluation_seconds for p in partials)),
    )
    return run, manifest


def _scoring(manifest: Manifest, task: str) -> str | None:
    info = manifest.tasks.get(task)
    return None if info is None else info.scoring


def join_task(name: str, parts: Sequence[TaskResult]) -> TaskResult:
    first = parts[0]
    for part in parts[1:]:
        for field in ("version", "task_hash", "num_fewshot", "output_type"):
            if getattr(part, field) != getattr(first, field):
                raise ConfigError(f"{name}: the shards disagree on its {field}")
        if set(part.metrics) != set(first.metrics):
            raise ConfigError(f"{name}: the shards report different metrics")
    metrics = {key: _join_metric(name, [p.metrics[key] for p in parts]) for key in first.metrics}
    n = sum(p.n for p in parts)
    chances = [(p.chance, p.n) for p in parts if p.chance is not None]
    return dataclasses.replace(
        first,
        metrics=metrics,
        n=n,
        doc_hashes=_union(name, [p.doc_hashes for p in parts]),
        subgroups=_union(name, [p.subgroups for p in parts]),
        examples=_union(name, [p.examples for p in parts]),
        prompt_hashes=_union(name, [p.prompt_hashes for p in parts]),
        loglikelihoods={},
        chance=sum(c * k for c, k in chances) / sum(k for _, k in chances) if chances else None,
    )


def _union(name: str, parts: Sequence[Mapping[int, V]]) -> dict[int, V]:
    joined: dict[int, V] = {}
    for part in parts:
        both = joined.keys() & part.keys()
        if both:
            raise ConfigError(f"{name}: document {min(both)} is in two shards: the shards overlap")
        joined.update(part)
    return joined


def _join_metric(task: str, parts: Sequence[MetricResult]) -> MetricResult:
    for part in parts:
        if not part.scores or len(part.scores) != len(part.doc_ids):
            raise ConfigError(
                f"{task} {part.key}: a shard has no per-example scores for it; shards join "
                "only metrics that are means of per-example scores"
            )
        mean = sum(part.scores) / len(part.scores)
        if not math.isclose(mean, part.value, rel_tol=TOLERANCE, abs_tol=TOLERANCE):
            raise ConfigError(
                f"{task} {part.key}: its value {part.value} is not the mean of its "
                f"per-example scores ({mean}): an aggregate (F1, BLEU...) that shards cannot join"
            )
    pairs = sorted(
        (doc, score) for part in parts for doc, score in zip(part.doc_ids, part.scores, strict=True)
    )
    ids = tuple(doc for doc, _ in pairs)
    if len(set(ids)) != len(ids):
        raise ConfigError(f"{task} {parts[0].key}: a document is in two shards: they overlap")
    scores = tuple(score for _, score in pairs)
    value = sum(scores) / len(scores)
    stderr = None
    if all(p.stderr is not None for p in parts) and len(scores) > 1:
        spread = sum((s - value) ** 2 for s in scores) / (len(scores) - 1)
        stderr = math.sqrt(spread / len(scores))  # lm-eval's mean_stderr
    return dataclasses.replace(
        parts[0], value=value, stderr=stderr, n=sum(p.n for p in parts), doc_ids=ids, scores=scores
    )


class Joined:
    """A backend that answers with the joined run: the session gates it like any other."""

    def __init__(self, run: EvalRun) -> None:
        self.run = run

    def check(self, tasks: Sequence[str]) -> None:
        missing = [t for t in tasks if t not in self.run]
        if missing:
            raise ConfigError(f"the shards did not evaluate {', '.join(missing)}")

    def evaluate(self, request: EvalRequest) -> EvalRun:
        self.check(request.tasks)
        return self.run.subset(request.tasks)

    def model(self) -> object:
        return self

    def close(self) -> None:
        pass


def gated_thresholds(
    config: MlgateConfig, suite: SuiteConfig, run: EvalRun
) -> list[MetricThreshold]:
    """The suite's gated metrics, with an item per subgroup large enough, as the plugin
    collects them."""
    found = []
    for threshold in config.thresholds_for(suite.all_tasks):
        found.append(threshold)
        if threshold.gates_subgroups and threshold.task in run:
            sizes = run[threshold.task].subgroup_sizes()
            found += [
                threshold.for_subgroup(group)
                for group, size in sorted(sizes.items())
                if size >= threshold.min_subgroup_n
            ]
    return found
