"""An in-memory backend for tests (the MockTransport pattern): scores in, an EvalRun out.

    backend = FakeBackend({"mlgate_tr_mc": {"acc,none": [1, 0, 1, 1]}})

A list gives per-example scores (the value is their mean); a float gives the value alone.
It keeps every request it served so tests can assert "one batch, these tasks". ``tasks``
describes a task as lm-eval would (its output type, the choices per document); ``delay`` makes
each example take that long (for progress), reported as a request of the task's name.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace

from pytest_mlgate.backend import EvalRequest
from pytest_mlgate.config.schema import LatencyConfig, clean_task
from pytest_mlgate.errors import UnknownTaskError
from pytest_mlgate.results import EvalRun, MetricResult, RunInfo, TaskResult

Scores = Mapping[str, Mapping[str, Sequence[float] | float]]


@dataclass(frozen=True)
class FakeTask:
    output_type: str | None = None  # e.g. "multiple_choice"
    choices: int | None = None  # multiple choice: choices per document (chance = 1 / choices)
    prompt: str = ""  # what each document's rendered request hashes from
    subgroups: Mapping[int, str] = field(default_factory=dict)  # doc id -> subgroup


@dataclass
class FakeBackend:
    scores: Scores
    info: RunInfo = field(default_factory=lambda: RunInfo(backend="fake"))
    requests: list[EvalRequest] = field(default_factory=list)
    tasks: Mapping[str, FakeTask] = field(default_factory=dict)
    delay: float = 0.0  # seconds per example
    #: other scores at these batch sizes (a model whose answers depend on the batch size)
    by_batch: Mapping[int, Scores] = field(default_factory=dict)
    #: the clock latency is measured by (tests give it one that advances as they say)
    clock: Callable[[], float] = time.perf_counter

    def check(self, tasks: Sequence[str]) -> None:
        unknown = [t for t in tasks if t not in self.scores]
        if unknown:
            raise UnknownTaskError(f"unknown task(s) {', '.join(unknown)} (fake backend)")

    def model(self) -> object:
        return self

    def subgroups(self, request: EvalRequest) -> dict[str, dict[str, int]]:
        counts: dict[str, dict[str, int]] = {}
        for task in request.tasks:
            result = fake_task_result(task, self.scores[task], self.tasks.get(task, FakeTask()))
            counts[task] = result.subgroup_sizes()
        return counts

    def evaluate(self, request: EvalRequest) -> EvalRun:
        self.requests.append(request)
        self.check(request.tasks)
        results, planned = {}, {}
        scores = self.by_batch.get(request.batch_size or 0, self.scores)
        for task in request.tasks:
            result = fake_task_result(task, scores[task], self.tasks.get(task, FakeTask()))
            for done in range(1, result.n + 1 if self.delay or request.progress else 1):
                time.sleep(self.delay)
                if request.progress is not None:
                    request.progress(task, done, result.n)
            planned[task] = result.n
            if request.look is not None:
                result = _look_of(result, request.look, request.seed, task)
            results[task] = result if request.shard is None else _shard_of(result, request.shard)
        batch = request.batch_size
        info = self.info if batch is None else replace(self.info, batch_size=batch)
        return EvalRun(results, info if request.look is None else replace(info, planned=planned))

    def latency(
        self, request: EvalRequest, settings: LatencyConfig, clock: Callable[[], float]
    ) -> list[float]:
        """One timed "request" per sample: what the clock says passed (the clock is the test's,
        so a slower clock is a slower model)."""
        samples = []
        for i in range(settings.warmup + settings.requests):
            started = clock()
            time.sleep(self.delay)
            took = clock() - started
            if i >= settings.warmup:
                samples.append(took * 1000)
        return samples

    def close(self) -> None:
        pass


def fake_task_result(
    task: str, metrics: Mapping[str, Sequence[float] | float], kind: FakeTask | None = None
) -> TaskResult:
    results = {}
    n = 0
    for key, raw in metrics.items():
        full_key = key if "," in key else f"{key},none"
        if isinstance(raw, (int, float)):
            results[full_key] = MetricResult(task, full_key, float(raw), None, 100)
            n = max(n, 100)
            continue
        scores = tuple(float(s) for s in raw)
        value = sum(scores) / len(scores) if scores else float("nan")
        results[full_key] = MetricResult(
            task, full_key, value, None, len(scores), True, tuple(range(len(scores))), scores
        )
        n = max(n, len(scores))
    # Like lm-eval, a hash per document (of its content: a variant's documents are its clean
    # task's), so runs pair by document and not by position alone.
    source = clean_task(task)
    hashes = {i: hashlib.sha256(f"{source}\0{i}".encode()).hexdigest() for i in range(n)}
    kind = kind or FakeTask()
    prompts = {
        i: hashlib.sha256(f"{kind.prompt}\0{task}\0{i}".encode()).hexdigest() for i in range(n)
    }
    return TaskResult(
        task,
        results,
        n,
        doc_hashes=hashes,
        output_type=kind.output_type,
        chance=None if kind.choices is None else 1 / kind.choices,
        prompt_hashes=prompts,
        subgroups={d: g for d, g in kind.subgroups.items() if d < n},
    )


def _look_of(
    task: TaskResult, look: tuple[int, tuple[float, ...]], seed: int, name: str
) -> TaskResult:
    """The documents one look of a sequential run adds (dealt as the lm-eval backend deals
    them), so a conftest backend built on this one gates look by look."""
    from pytest_mlgate.sampling import look_documents

    ids = list(range(task.n))
    strata = [task.subgroups.get(i) for i in ids]
    return task.restricted(set(look_documents(ids, strata, seed, clean_task(name), *look)))


def _shard_of(task: TaskResult, part: tuple[int, int]) -> TaskResult:
    """Shard K of N of a fake task's documents (dealt as the lm-eval backend deals them)."""
    from pytest_mlgate.sampling import shard

    ids = list(range(task.n))
    return task.restricted(set(shard(ids, [task.subgroups.get(i) for i in ids], *part)))
