"""Evaluation results as plain, frozen Python objects (no numpy scalars, no lm-eval types).

``EvalRun["task"].metric("acc")`` is the user-facing path (DESIGN §4). Metric keys follow lm-eval's
``metric,filter`` naming; ``",none"`` may be omitted.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from pytest_mlgate.errors import MetricNotFound, TaskNotFound

# Document hashes are compared (and stored) at this width: 64 bits tell documents apart.
DOC_HASH_CHARS = 16


def metric_not_found(
    task: str, metric: str, available: Iterable[str], why: str = ""
) -> MetricNotFound:
    listed = ", ".join(sorted(available)) or "none"
    reason = why or f"metric {metric!r} is not in the results of {task!r}"
    return MetricNotFound(f"{reason} (available: {listed})")


def task_not_found(task: str, available: Iterable[str]) -> TaskNotFound:
    listed = ", ".join(sorted(available)) or "none"
    return TaskNotFound(f"task {task!r} is not in this run (tasks: {listed})")


@dataclass(frozen=True)
class MetricResult:
    """One metric of one task: its value and the per-example scores behind it."""

    task: str
    key: str  # lm-eval's "metric,filter"
    value: float
    stderr: float | None
    n: int
    higher_is_better: bool | None = True  # None: lm-eval does not say (a custom metric)
    doc_ids: tuple[int, ...] = ()
    scores: tuple[float, ...] = ()  # aligned with doc_ids

    @property
    def name(self) -> str:
        """The metric's name without its filter (``acc`` of ``acc,none``)."""
        return self.key.partition(",")[0]

    @property
    def is_binary(self) -> bool:
        """Whether every per-example score is 0 or 1 (then the paired test is McNemar's)."""
        return bool(self.scores) and all(s in (0.0, 1.0) for s in self.scores)

    def ci(self, level: float = 0.95) -> tuple[float, float]:
        """Confidence interval of the value: Wilson for 0/1 scores, else normal from stderr."""
        from pytest_mlgate import stats  # numpy: only when an interval is asked for

        if math.isnan(self.value):
            return (math.nan, math.nan)
        if self.is_binary:
            successes = int(sum(self.scores))
            return stats.wilson_interval(successes, len(self.scores), level)
        if self.stderr is not None and self.n > 1:
            half = stats.normal_quantile(0.5 + level / 2) * self.stderr
            return (self.value - half, self.value + half)
        return (math.nan, math.nan)


@dataclass(frozen=True)
class Example:
    """What a reviewer needs to see of one evaluated document."""

    prompt: str
    target: str
    response: str


@dataclass(frozen=True)
class TaskResult:
    """One task's results: its metrics, documents, version and the examples kept."""

    name: str
    metrics: Mapping[str, MetricResult]
    n: int
    version: str | None = None
    num_fewshot: int | None = None
    task_hash: str | None = None
    # lm-eval's hash of each document, by doc id: pairs two runs example by example even when
    # the doc ids were renumbered, and tells when the "same" id holds a different document.
    doc_hashes: Mapping[int, str] = field(default_factory=dict)
    # The subgroup of each document (a `category` field, a subject...), by doc id.
    subgroups: Mapping[int, str] = field(default_factory=dict)
    # Prompt, target and response by doc id: kept for the run in memory; a recorded run keeps
    # only the examples that flipped against its baseline.
    examples: Mapping[int, Example] = field(default_factory=dict)
    output_type: str | None = None  # lm-eval's: multiple_choice, generate_until, ...
    chance: float | None = None  # multiple choice: the mean of 1 / #choices over the documents
    # A hash of each document's request as the model saw it (the rendered text of every request
    # and its token ids), by doc id: two runs whose prompts differ are not compared silently.
    prompt_hashes: Mapping[int, str] = field(default_factory=dict)
    # Multiple choice: each document's log-likelihood per choice, by doc id (in memory only:
    # the determinism check compares them between batch sizes; never stored).
    loglikelihoods: Mapping[int, tuple[float, ...]] = field(default_factory=dict)

    def subgroup_scores(self, metric: str) -> dict[str, tuple[float, int]]:
        """Mean and count of ``metric``'s per-example scores in each subgroup."""
        import numpy as np

        result = self.metric(metric)
        names, codes = self._subgroup_codes(result.doc_ids)
        known = codes >= 0
        scores = np.asarray(result.scores, dtype=np.float64)
        counts = np.bincount(codes[known], minlength=len(names))
        sums = np.bincount(codes[known], weights=scores[known], minlength=len(names))
        return {
            name: (float(sums[i] / counts[i]), int(counts[i]))
            for i, name in enumerate(names)
            if counts[i]
        }

    def _subgroup_codes(self, doc_ids: tuple[int, ...]) -> tuple[list[str], Any]:
        """Subgroup names and one code per doc id (-1: none); memoized per doc-id list, since
        every metric of a task usually shares one (a cache, so the frozen object is unchanged)."""
        import numpy as np

        cache: dict[tuple[int, ...], tuple[list[str], Any]] = self.__dict__.setdefault(
            "_subgroup_cache", {}
        )
        if doc_ids not in cache:
            names = sorted(set(self.subgroups.values()))
            index = {name: i for i, name in enumerate(names)}
            codes = np.fromiter(
                (index.get(self.subgroups.get(d, ""), -1) for d in doc_ids),
                dtype=np.int64,
                count=len(doc_ids),
            )
            cache[doc_ids] = (names, codes)
        return cache[doc_ids]

    def in_subgroup(self, subgroup: str) -> TaskResult:
        """This task restricted to one subgroup's documents."""
        return self.restricted({doc for doc, group in self.subgroups.items() if group == subgroup})

    def restricted(self, docs: set[int]) -> TaskResult:
        """This task on ``docs`` only: every metric's value is the mean of those documents'
        per-example scores (no stderr: the CI comes from the scores)."""
        metrics = {}
        for key, metric in self.metrics.items():
            kept = [(d, s) for d, s in zip(metric.doc_ids, metric.scores, strict=True) if d in docs]
            value = sum(s for _, s in kept) / len(kept) if kept else math.nan
            metrics[key] = replace(
                metric,
                value=value,
                stderr=None,
                n=len(kept),
                doc_ids=tuple(d for d, _ in kept),
                scores=tuple(s for _, s in kept),
            )
        return replace(
            self,
            metrics=metrics,
            n=len(docs),
            doc_hashes={d: h for d, h in self.doc_hashes.items() if d in docs},
            subgroups={d: g for d, g in self.subgroups.items() if d in docs},
            examples={d: e for d, e in self.examples.items() if d in docs},
            prompt_hashes={d: h for d, h in self.prompt_hashes.items() if d in docs},
        )

    def subgroup_sizes(self) -> dict[str, int]:
        """How many documents each subgroup holds."""
        sizes: dict[str, int] = {}
        for group in self.subgroups.values():
            sizes[group] = sizes.get(group, 0) + 1
        return sizes

    def resolve(self, metric: str) -> str:
        """The full ``metric,filter`` key for ``metric``; raise :class:`MetricNotFound`."""
        if metric in self.metrics:
            return metric
        if "," not in metric and f"{metric},none" in self.metrics:
            return f"{metric},none"
        if "," not in metric:
            filtered = [k for k in self.metrics if k.partition(",")[0] == metric]
            if filtered:
                raise metric_not_found(
                    self.name,
                    metric,
                    self.metrics,
                    f"metric {metric!r} of {self.name!r} exists only with a filter; name one",
                )
        raise metric_not_found(self.name, metric, self.metrics)

    def metric(self, metric: str) -> MetricResult:
        """The metric ``metric`` names (with or without its filter); MetricNotFound if none."""
        return self.metrics[self.resolve(metric)]


@dataclass(frozen=True)
class PromptInfo:
    """How requests were formatted: what changes every prompt without changing the weights."""

    chat_template: str | None = None  #: sha256 of the chat template text applied (None: none)
    system_instruction: str | None = None
    fewshot_as_multiturn: bool = False
    gen_kwargs: Mapping[str, str | int | float | bool] = field(default_factory=dict)
    #: BOS handling: lm-eval's add_bos_token (None: the tokenizer's default) and whether the
    #: tokenizer prepends a BOS token itself
    add_bos_token: bool | None = None
    tokenizer_adds_bos: bool | None = None


@dataclass(frozen=True)
class Determinism:
    """The same documents evaluated in several passes (batch sizes): how many got the same
    answer (the chosen option of a multiple-choice document, the generated text otherwise)."""

    task: str
    n: int  #: documents compared
    agreeing: int  #: documents whose answer was the same in every pass
    passes: tuple[str, ...]  #: the batch size of each pass, in order
    max_loglik_diff: float | None = None  #: the largest log-likelihood difference (choices)

    @property
    def agreement(self) -> float:
        """The share of re-evaluated documents that answered the same in every pass."""
        return self.agreeing / self.n if self.n else math.nan

    def describe(self) -> str:
        """The figures in one line, for a reason or the summary."""
        ll = "" if self.max_loglik_diff is None else f", max Δ log-lik {self.max_loglik_diff:.2g}"
        return (
            f"{self.agreeing}/{self.n} ({self.agreement:.3f}) same answer at batch sizes "
            f"{', '.join(self.passes)}{ll}"
        )


@dataclass(frozen=True)
class Latency:
    """Single-request generation latency: one sample per request, warm-up excluded."""

    samples_ms: tuple[float, ...]
    max_new_tokens: int
    hardware: str  #: the GPU models, else the CPU model: latencies compare on the same only
    seconds: float = 0.0  #: what the probe cost, warm-up included

    def quantile(self, q: float) -> float:
        """The ``q`` quantile of the samples (linear interpolation, as numpy's default)."""
        ordered = sorted(self.samples_ms)
        if not ordered:
            return math.nan
        position = q * (len(ordered) - 1)
        low = math.floor(position)
        high = min(low + 1, len(ordered) - 1)
        return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


@dataclass(frozen=True)
class Throughput:
    """How fast one request type was answered (lm-eval batches every task's requests of a type
    into one call, so throughput is per type, not per task)."""

    kind: str  #: loglikelihood, loglikelihood_rolling or generate_until
    requests: int
    tokens: int  #: tokens scored (log-likelihood: context + continuation) or generated
    seconds: float

    @property
    def requests_per_s(self) -> float:
        return self.requests / self.seconds if self.seconds > 0 else math.nan

    @property
    def tokens_per_s(self) -> float:
        return self.tokens / self.seconds if self.seconds > 0 else math.nan

    def plus(self, other: Throughput) -> Throughput:
        return Throughput(
            self.kind,
            self.requests + other.requests,
            self.tokens + other.tokens,
            self.seconds + other.seconds,
        )


def combined(*parts: Iterable[Throughput]) -> tuple[Throughput, ...]:
    """Per request type, the sums of several evaluations' figures."""
    total: dict[str, Throughput] = {}
    for part in parts:
        for figure in part:
            total[figure.kind] = total[figure.kind].plus(figure) if figure.kind in total else figure
    return tuple(total.values())


def total_seconds(*parts: float | None) -> float | None:
    """The sum of the parts that were measured (None when none was)."""
    measured = [part for part in parts if part is not None]
    return sum(measured) if measured else None


@dataclass(frozen=True)
class RunInfo:
    """How a backend produced a run (what the manifest records besides the config)."""

    backend: str | None = None
    device: str | None = None  #: e.g. "cuda", "cpu"
    dtype: str | None = None  #: as resolved, e.g. "bfloat16" for dtype = "auto" on a GPU
    batch_size: int | str | None = None
    gpus: tuple[str, ...] = ()  #: the GPU models the run used
    groups: Mapping[str, tuple[str, ...]] = field(default_factory=dict)  #: lm-eval groups
    from_cache: bool = False  #: answered by the result cache, not evaluated
    prompt: PromptInfo | None = None  #: None: the backend does not say (a custom backend)
    throughput: tuple[Throughput, ...] = ()  #: per request type (empty: not measured)
    #: per task, the path that scored it (``[model] scoring``; empty: the backend does not say)
    scoring: Mapping[str, str] = field(default_factory=dict)
    threads: int | None = None  #: torch's intra-op threads (None: the backend does not say)
    #: per task, the documents of the whole run when a request evaluated one look of them
    #: (``EvalRequest.look``); empty: the backend evaluated every document it was asked for
    planned: Mapping[str, int] = field(default_factory=dict)
    #: wall seconds the backend spent evaluating, its model load excluded (None: not measured)
    seconds: float | None = None

    def merged(self, other: RunInfo) -> RunInfo:
        """The later batch's settings, with both batches' groups, throughput, scoring and
        evaluation seconds."""
        return replace(
            other,
            groups={**self.groups, **other.groups},
            scoring={**self.scoring, **other.scoring},
            throughput=combined(self.throughput, other.throughput),
            planned={**self.planned, **other.planned},
            seconds=total_seconds(self.seconds, other.seconds),
        )


@dataclass(frozen=True)
class EvalRun:
    """The results of one batched evaluation: tasks by name, plus what produced them."""

    tasks: Mapping[str, TaskResult]
    info: RunInfo = field(default_factory=RunInfo)

    def __getitem__(self, task: str) -> TaskResult:
        try:
            return self.tasks[task]
        except KeyError:
            raise task_not_found(task, self.tasks) from None

    def __contains__(self, task: object) -> bool:
        return task in self.tasks

    def subset(self, tasks: Iterable[str]) -> EvalRun:
        """The run cut to ``tasks`` (the ones it holds), same run info."""
        wanted = set(tasks)
        return EvalRun({k: v for k, v in self.tasks.items() if k in wanted}, self.info)

    def merged(self, other: EvalRun) -> EvalRun:
        """Both runs' tasks (``other``'s win) and their combined run info."""
        return EvalRun({**self.tasks, **other.tasks}, self.info.merged(other.info))
