"""The evaluator: one checkpoint's results for a session, memoized and cached.

It owns the backend (created on first need), the memo of what was evaluated, the failures (a
broken checkpoint is tried once, not once per item) and the result cache. It decides nothing.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import cast

from pytest_mlgate.backend import (
    Backend,
    BackendSpec,
    Cacheable,
    EvalRequest,
    ListsSubgroups,
    MeasuresLatency,
    OwnClock,
    Progress,
    has_capability,
)
from pytest_mlgate.backend.parallel import Group
from pytest_mlgate.checkpoint import fingerprint_checkpoint
from pytest_mlgate.config.schema import DeterminismConfig, LatencyConfig, MlgateConfig, SuiteConfig
from pytest_mlgate.errors import BackendError, ConfigError, MlgateError
from pytest_mlgate.results import Determinism, EvalRun, Latency, TaskResult
from pytest_mlgate.run.cache import ResultCache, cache_key


@dataclass
class Evaluator:
    spec: BackendSpec
    suite: SuiteConfig  #: n-shot, sample and seed of every request
    batch: tuple[str, ...]  #: the tasks the first evaluation runs together
    make_backend: Callable[[BackendSpec], Backend]
    cache_folder: Path | None = None  #: None: never cached
    on_evaluated: Callable[[EvalRun], None] = lambda run: None
    progress: Progress | None = None  #: told how far each evaluation got
    pii_tasks: tuple[str, ...] = ()  #: tasks whose pii_rate is computed from raw responses
    redact: bool = True  #: mask personal data in example texts before anything keeps them
    shard: tuple[int, int] | None = None  #: --mlgate-shard K/N: only that shard of the documents
    #: data parallel: the launched processes (this rank evaluates ``shard``; None: alone)
    group: Group | None = None
    _backend: Backend | None = None
    _cache: ResultCache | None = None
    _run: EvalRun = field(default_factory=lambda: EvalRun({}))
    _failed: dict[str, MlgateError] = field(default_factory=dict)
    _fingerprint: str | None = None
    _cache_keys: dict[tuple[tuple[str, ...], str], str] = field(default_factory=dict)
    _cache_reads: dict[str, EvalRun | None] = field(default_factory=dict)

    def __post_init__(self) -> None:
        # Only a backend that says its results depend on nothing but what the key covers.
        if self.cache_folder is not None and _caches(self.backend()):
            self._cache = ResultCache(self.cache_folder)

    @property
    def partial(self) -> tuple[int, int] | None:
        """``--mlgate-shard K/N``: this process evaluates one shard and gates nothing (a data
        parallel rank's shard is joined with the others': not partial)."""
        return self.shard if self.group is None else None

    @property
    def leader(self) -> bool:
        """Alone, or rank 0 of a data parallel launch: the process that gates and writes."""
        return self.group is None or self.group.leader

    def backend(self) -> Backend:
        if self._backend is None:
            self._backend = self.make_backend(self.spec)
        return self._backend

    @property
    def run(self) -> EvalRun:
        """Everything evaluated so far."""
        return self._run

    @property
    def failed(self) -> bool:
        return bool(self._failed)

    def evaluate(self, tasks: Iterable[str]) -> EvalRun:
        """Results for ``tasks``. The first call evaluates the whole batch; a task outside it
        costs one more. Failures are remembered and raised again, not retried."""
        wanted = list(dict.fromkeys(tasks))
        for task in wanted:
            if task in self._failed:
                raise self._failed[task]
        todo = [t for t in wanted if t not in self._run]
        if todo:
            batch = [
                t
                for t in dict.fromkeys([*self.batch, *todo])
                if t not in self._run and t not in self._failed
            ]
            self._evaluate_batch(batch)
        return self._run.subset(wanted)

    def evaluate_look(self, tasks: Iterable[str], look: tuple[int, tuple[float, ...]]) -> EvalRun:
        """One look of a sequential run: the documents look L adds to each of ``tasks`` (each
        look cached on its own), joined with what the earlier looks evaluated. Returns the
        look's own part; ``run`` holds everything so far. A backend that does not deal looks
        (no ``RunInfo.planned``) evaluated every document: then every task is complete."""
        from pytest_mlgate.run.merge import join_task

        batch = [t for t in dict.fromkeys(tasks) if t not in self._failed]
        part = self._evaluate_request(replace(self._request(batch), look=look), batch)
        joined = {
            name: join_task(name, [self._run[name], task]) if name in self._run else task
            for name, task in part.tasks.items()
        }
        self._run = EvalRun({**self._run.tasks, **joined}, self._run.info.merged(part.info))
        return part

    def _evaluate_batch(self, batch: list[str]) -> None:
        run = self._evaluate_request(self._request(batch), batch)
        self._run = self._run.merged(run)

    def _evaluate_request(self, request: EvalRequest, batch: list[str]) -> EvalRun:
        try:
            run = self._together(request) if self.group is not None else self._alone(request)
        except MlgateError as exc:
            self._failed.update(dict.fromkeys(batch, exc))
            raise
        except Exception as exc:  # CUDA OOM, a bug in a custom backend...: once, not per item
            failure = BackendError(f"{type(exc).__name__}: {exc}")
            failure.__cause__ = exc
            self._failed.update(dict.fromkeys(batch, failure))
            raise failure from exc
        self.on_evaluated(run)
        return run

    def _alone(self, request: EvalRequest) -> EvalRun:
        """One process: from the cache, else evaluated (and cached)."""
        key = self._key(request) if self._cache is not None else None
        cached = self._cached_run(key)
        if cached is not None:
            return cached
        run = self._protected(self.backend().evaluate(request))
        if self._cache is not None and key is not None:
            self._cache.put(key, run)
        return run

    def _together(self, request: EvalRequest) -> EvalRun:
        """Data parallel: rank 0's cache answers for every rank, else each rank evaluates its
        shard and every rank gets the joined run (rank 0 caches it). A rank that fails sends
        its error, and every rank fails with it."""
        from pytest_mlgate.run.merge import join_runs

        group = self.group
        assert group is not None
        key = self._key(replace(request, shard=None)) if self._cache is not None else None
        hit = group.broadcast(self._cached_run(key) if key is not None else None)
        if isinstance(hit, EvalRun):
            return hit
        try:
            part = self._protected(self.backend().evaluate(request))
            counts = ", ".join(f"{name} {task.n}" for name, task in part.tasks.items())
            group.say(f"world_size={group.size}, documents evaluated here: {counts}")
            payload: tuple[str, object] = ("ok", part)
        except Exception as exc:  # sent to every rank, then raised on each
            payload = ("error", f"{type(exc).__name__}: {exc}")
        received = cast(list[tuple[str, object]], group.gather(payload))
        failed = [
            f"rank {rank} of {group.size} failed: {message}"
            for rank, (kind, message) in enumerate(received)
            if kind == "error"
        ]
        if failed:
            raise BackendError("; ".join(failed))
        run = join_runs([cast(EvalRun, shard_run) for _, shard_run in received])
        if self._cache is not None and key is not None:
            self._cache.put(key, run)
        return run

    def _protected(self, run: EvalRun) -> EvalRun:
        """``pii_rate`` from the raw responses, then the texts redacted: before the cache, the
        history or any report sees them."""
        if not self.redact and not self.pii_tasks:
            return run
        from pytest_mlgate.text import pii

        return pii.protect(run, self.pii_tasks, self.redact)

    def _request(self, tasks: Iterable[str]) -> EvalRequest:
        suite = self.suite
        return EvalRequest(
            tuple(tasks),
            suite.num_fewshot,
            suite.sample,
            suite.seed,
            suite.typo_rate,
            shard=self.shard,
            progress=self.progress,
        )

    def determinism(self, tasks: Iterable[str], settings: DeterminismConfig) -> list[Determinism]:
        """The same stratified subset of each task evaluated at the configured batch size, at
        each of ``settings.batch_sizes`` and at the configured one again (never from the
        cache): per task, how many documents answered the same in every pass."""
        wanted = [t for t in dict.fromkeys(tasks) if t not in self._failed]
        if not wanted:
            return []
        suite_sample = self.suite.sample
        sample = settings.sample if suite_sample is None else min(settings.sample, suite_sample)
        base = replace(self._request(wanted), sample=sample, progress=None)
        passes = [None, *settings.batch_sizes, None]
        runs = [self.backend().evaluate(replace(base, batch_size=b)) for b in passes]
        labels = tuple(
            "default" if run.info.batch_size is None else str(run.info.batch_size) for run in runs
        )
        return [compare_passes(task, [run[task] for run in runs], labels) for task in wanted]

    def latency(self, tasks: Iterable[str], settings: LatencyConfig, hardware: str) -> Latency:
        """Single-request latency on ``tasks``' generative documents (never cached), timed by
        the backend's own clock when it has one (tests inject theirs)."""
        backend = self.backend()
        if not (isinstance(backend, MeasuresLatency) and has_capability(backend, MeasuresLatency)):
            raise ConfigError(
                f"[suites.{self.suite.name}] latency: {type(backend).__name__} cannot measure "
                "latency (it has no latency(request, settings, clock) method)"
            )
        clock: Callable[[], float] = time.perf_counter
        if isinstance(backend, OwnClock) and has_capability(backend, OwnClock):
            clock = backend.clock
        started = time.perf_counter()
        request = replace(self._request(tasks), progress=None)
        samples = backend.latency(request, settings, clock)
        spent = time.perf_counter() - started
        return Latency(tuple(samples), settings.max_new_tokens, hardware, spent)

    def fingerprint(self) -> str:
        """The checkpoint's fingerprint, computed once (memoized across runs by the cache)."""
        if self._fingerprint is None:
            self._fingerprint = (
                self._cache.fingerprint(self.spec.checkpoint)
                if self._cache is not None
                else fingerprint_checkpoint(self.spec.checkpoint).fingerprint
            )
        return self._fingerprint

    def _key(self, request: EvalRequest) -> str:
        shots = request.num_fewshot
        shown = repr(sorted(shots.items()) if isinstance(shots, Mapping) else shots)
        memo = (request.tasks, f"{shown} look {request.look}")
        if memo not in self._cache_keys:  # hashing the task sources reads their files
            self._cache_keys[memo] = cache_key(
                self.spec, request, self.fingerprint(), (self.pii_tasks, self.redact)
            )
        return self._cache_keys[memo]

    def _cached_run(self, key: str | None) -> EvalRun | None:
        if key is None or self._cache is None:
            return None
        if key not in self._cache_reads:  # read (and decoded) once, however often asked
            self._cache_reads[key] = self._cache.get(key)
        return self._cache_reads[key]

    def subgroup_counts(self, tasks: Iterable[str]) -> dict[str, dict[str, int]]:
        """Per task, the documents of each subgroup the evaluation will hold: from the cached
        run when there is one, else from the backend (its data, not its model)."""
        wanted = list(dict.fromkeys(tasks))
        cached = self._cached_run(self._key(self._request(self.batch))) if self._cache else None
        if cached is not None and all(t in cached for t in wanted):
            return {t: cached[t].subgroup_sizes() for t in wanted}
        lister = self.backend()
        if not (isinstance(lister, ListsSubgroups) and has_capability(lister, ListsSubgroups)):
            raise ConfigError(
                f"subgroups = true needs a backend that lists subgroups before evaluating; "
                f"{type(self.backend()).__name__} has no subgroups(request) method"
            )
        return lister.subgroups(self._request(wanted))

    def cached(self) -> bool:
        """Whether the first batch is answered by the cache (then no model, no lm-eval)."""
        if self._cache is None:
            return False
        return self._cached_run(self._key(self._request(self.batch))) is not None

    def close(self) -> None:
        if self._backend is not None:
            self._backend.close()
            self._backend = None


def _caches(backend: Backend) -> bool:
    """Whether ``backend`` says its results depend only on what the cache keys on."""
    return (
        isinstance(backend, Cacheable)
        and has_capability(backend, Cacheable)
        and backend.cacheable()
    )


def make_evaluator(
    config: MlgateConfig,
    checkpoint: str,
    suite: SuiteConfig,
    batch: tuple[str, ...],
    make_backend: Callable[[BackendSpec], Backend],
    *,
    cache_folder: Path | None = None,
    on_evaluated: Callable[[EvalRun], None] = lambda run: None,
    progress: Progress | None = None,
    shard: tuple[int, int] | None = None,
    group: Group | None = None,
) -> Evaluator:
    """The one place an evaluator is made (the candidate's, the reference's, ``mlgate merge``'s):
    the backend spec, the personal-data rules and the redaction always come from ``config``."""
    return Evaluator(
        spec=BackendSpec(config.model, checkpoint, config.include),
        suite=suite,
        batch=batch,
        make_backend=make_backend,
        cache_folder=cache_folder,
        on_evaluated=on_evaluated,
        progress=progress,
        pii_tasks=config.pii_tasks(),
        redact=config.report.redact,
        shard=shard,
        group=group,
    )


def _answers(task: TaskResult) -> dict[int, object]:
    """Each document's answer: its response (the chosen option, or the generated text), else
    (a backend without texts) its per-example scores."""
    if task.examples:
        return {d: e.response for d, e in task.examples.items()}
    found: dict[int, list[float]] = {}
    for metric in task.metrics.values():
        for doc, score in zip(metric.doc_ids, metric.scores, strict=True):
            found.setdefault(doc, []).append(score)
    return {d: tuple(v) for d, v in found.items()}


def compare_passes(name: str, passes: list[TaskResult], labels: tuple[str, ...]) -> Determinism:
    """How many documents gave the same answer in every pass, and the largest difference of a
    choice's log-likelihood between the first pass and any other."""
    answers = [_answers(task) for task in passes]
    docs = set(answers[0]).intersection(*answers[1:])
    agreeing = sum(all(a[d] == answers[0][d] for a in answers[1:]) for d in docs)
    first = passes[0].loglikelihoods
    diffs = [
        abs(x - y)
        for task in passes[1:]
        for doc, values in task.loglikelihoods.items()
        if doc in first and len(first[doc]) == len(values)
        for x, y in zip(first[doc], values, strict=True)
    ]
    return Determinism(name, len(docs), agreeing, labels, max(diffs) if diffs else None)
