"""The state of one gated run: config, chosen suite, the backend, memoized results, verdicts.

Stored in ``pytest.Config.stash`` by the plugin; plain Python so the CLI can drive it too.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from pytest_mlgate.backend import Backend, BackendSpec, EvalRequest
from pytest_mlgate.cache import ResultCache, cache_key
from pytest_mlgate.config import MetricThreshold, MlgateConfig, SuiteConfig
from pytest_mlgate.errors import (
    BackendError,
    BaselineNotFound,
    CheckpointError,
    MlgateError,
    StoreError,
)
from pytest_mlgate.gate import (
    Baseline,
    Status,
    Verdict,
    gate_all,
    pair_examples,
    task_flips,
)
from pytest_mlgate.manifest import build_manifest, checkpoint_fingerprint
from pytest_mlgate.report.matrix import ReportInput
from pytest_mlgate.results import EvalRun
from pytest_mlgate.store import HistoryStore, RunRecord, new_run_id

CHECKPOINT_ENV = "MLGATE_CHECKPOINT"


def resolve_checkpoint(cli_value: str | None, config: MlgateConfig, cwd: Path) -> str:
    """--mlgate-checkpoint, then $MLGATE_CHECKPOINT (both relative to cwd), then [model]."""
    for value, base in (
        (cli_value, cwd),
        (os.environ.get(CHECKPOINT_ENV) or None, cwd),
        (config.model.checkpoint, config.root),
    ):
        if value:
            local = (base / value).expanduser()
            return str(local.resolve()) if local.exists() else value
    raise CheckpointError(
        f"no checkpoint to evaluate: set [model] checkpoint in {config.path}, "
        f"pass --mlgate-checkpoint PATH_OR_ID, or set {CHECKPOINT_ENV}"
    )


def resolve_baseline(
    store: HistoryStore, wanted: str | None, default_branch: str, tasks: Iterable[str] = ()
) -> Baseline | None:
    """``--mlgate-baseline`` as a run id, else as a branch; by default the latest run on the
    ``[gate] baseline`` branch that evaluated ``tasks`` (None when nothing is recorded there)."""
    if wanted is None:
        record = store.latest(default_branch, tasks)
    else:
        entries = store.entries()
        if any(e.run_id == wanted for e in entries):
            record = store.load(wanted)
        else:
            record = store.latest(wanted, tasks)
            if record is None:
                branches = sorted({e.branch for e in entries if e.branch})
                raise BaselineNotFound(
                    f"--mlgate-baseline {wanted!r}: no recorded run or branch by that name in "
                    f"{store.location} ({len(entries)} runs; branches: "
                    f"{', '.join(branches) or 'none'}). `mlgate history` lists them."
                )
    if record is None:
        return None
    return Baseline(record.run_id, record.run, record.manifest)


def baseline_discordance(store: HistoryStore, baseline: Baseline) -> dict[tuple[str, str], float]:
    """Share of examples whose 0/1 score flipped between the baseline and the run recorded
    before it on the same branch: how much two neighbouring checkpoints really disagree, the
    quantity that sets the paired test's power. Empty when there is no earlier run to pair."""
    branch = (baseline.manifest.get("git") or {}).get("branch")
    entries = [e for e in store.entries() if e.branch == branch and e.run_id != baseline.run_id]
    earlier = [e for e in entries if (e.timestamp, e.run_id) < _entry_key(baseline)]
    if not earlier:
        return {}
    try:
        previous = store.load(earlier[-1].run_id).run
    except MlgateError:
        return {}
    shares = {}
    for name, task in baseline.run.tasks.items():
        if name not in previous:
            continue
        for key, metric in task.metrics.items():
            before = previous[name].metrics.get(key)
            if before is None or not metric.is_binary or not before.is_binary:
                continue
            pairing = pair_examples(metric, task, before, previous[name])
            if pairing.paired and pairing.current:
                flipped = sum(
                    a != b for a, b in zip(pairing.baseline, pairing.current, strict=True)
                )
                shares[(name, key)] = max(flipped, 1) / len(pairing.current)
    return shares


def _entry_key(baseline: Baseline) -> tuple[str, str]:
    return (str(baseline.manifest.get("timestamp", "")), baseline.run_id)


@dataclass
class GateSession:
    config: MlgateConfig
    suite: SuiteConfig
    checkpoint: str
    make_backend: Callable[[BackendSpec], Backend]
    on_evaluated: Callable[[EvalRun], None] = lambda run: None
    needed_tasks: tuple[str, ...] = ()
    thresholds: tuple[MetricThreshold, ...] = ()
    store: HistoryStore | None = None
    baseline: Baseline | None = None
    cache: ResultCache | None = None
    cwd: Path = field(default_factory=Path.cwd)
    run_id: str = field(default_factory=new_run_id)
    verdicts: dict[str, Verdict] = field(default_factory=dict)
    messages: list[str] = field(default_factory=list)
    pending_warnings: list[str] = field(default_factory=list)
    _backend: Backend | None = None
    _run: EvalRun = field(default_factory=lambda: EvalRun({}))
    _failed: dict[str, MlgateError] = field(default_factory=dict)
    _judged: dict[MetricThreshold, Verdict] | None = None
    _manifest: dict[str, Any] | None = None
    _fingerprint: str | None = None
    _cache_keys: dict[tuple[tuple[str, ...], str], str] = field(default_factory=dict)
    _cache_reads: dict[str, EvalRun | None] = field(default_factory=dict)

    @property
    def spec(self) -> BackendSpec:
        return BackendSpec(self.config.model, self.checkpoint, self.config.include)

    def backend(self) -> Backend:
        if self._backend is None:
            self._backend = self.make_backend(self.spec)
        return self._backend

    @property
    def run(self) -> EvalRun:
        """Everything evaluated so far in this session."""
        return self._run

    def evaluate(self, tasks: Iterable[str]) -> EvalRun:
        """Results for ``tasks``. The first call evaluates every task the session needs in one
        batch; a task outside that set costs one more batch. Failures are remembered, so a
        broken checkpoint is tried once, not once per item."""
        wanted = list(dict.fromkeys(tasks))
        for task in wanted:
            if task in self._failed:
                raise self._failed[task]
        todo = [t for t in wanted if t not in self._run]
        if todo:
            batch = list(dict.fromkeys([*self.needed_tasks, *todo]))
            batch = [t for t in batch if t not in self._run and t not in self._failed]
            request = self._request(batch)
            key = self.cache_key(request) if self.cache is not None else None
            cached = self._cached_run(key)
            try:
                run = cached if cached is not None else self.backend().evaluate(request)
            except MlgateError as exc:
                self._failed.update(dict.fromkeys(batch, exc))
                raise
            except Exception as exc:  # CUDA OOM, a bug in a custom backend...: once, not per item
                failure = BackendError(f"{type(exc).__name__}: {exc}")
                failure.__cause__ = exc
                self._failed.update(dict.fromkeys(batch, failure))
                raise failure from exc
            if self.cache is not None and key is not None and cached is None:
                self.cache.put(key, run)
            self.on_evaluated(run)
            self._run = self._run.merged(run)
        return self._run.subset(wanted)

    def _request(self, tasks: Iterable[str]) -> EvalRequest:
        return EvalRequest(tuple(tasks), self.suite.num_fewshot, self.suite.sample, self.suite.seed)

    def fingerprint(self) -> str:
        if self._fingerprint is None:
            self._fingerprint = (
                self.cache.fingerprint(self.checkpoint)
                if self.cache is not None
                else str(checkpoint_fingerprint(self.checkpoint)["fingerprint"])
            )
        return self._fingerprint

    def cache_key(self, request: EvalRequest) -> str:
        shots = request.num_fewshot
        memo = (request.tasks, repr(sorted(shots.items()) if isinstance(shots, Mapping) else shots))
        if memo not in self._cache_keys:  # hashing the task sources reads their files
            self._cache_keys[memo] = cache_key(self.spec, request, self.fingerprint())
        return self._cache_keys[memo]

    def _cached_run(self, key: str | None) -> EvalRun | None:
        if key is None or self.cache is None:
            return None
        if key not in self._cache_reads:  # read (and decoded) once, however often asked
            self._cache_reads[key] = self.cache.get(key)
        return self._cache_reads[key]

    def cached(self) -> bool:
        """Whether the first batch (every task the session needs) is answered by the cache."""
        if self.cache is None:
            return False
        return self._cached_run(self.cache_key(self._request(self.needed_tasks))) is not None

    def manifest(self) -> dict[str, Any]:
        """The run manifest, built once the run exists (it fingerprints the weights)."""
        if self._manifest is None:
            self._manifest = build_manifest(
                run_id=self.run_id,
                config=self.config,
                suite=self.suite,
                checkpoint=self.checkpoint,
                run=self._run,
                cwd=self.cwd,
                fingerprint=self.fingerprint(),
            )
        return self._manifest

    def judge(self) -> Mapping[MetricThreshold, Verdict]:
        """Verdicts for every gated metric of the session, decided together (one evaluation,
        one multiple-comparison correction)."""
        if self._judged is None:
            try:
                self.evaluate(t.task for t in self.thresholds)
            except MlgateError as exc:
                self._judged = {
                    t: Verdict(t, Status.FAIL, f"{t.task} {t.metric}: evaluation failed: {exc}")
                    for t in self.thresholds
                }
            else:
                self._judged = gate_all(
                    self.thresholds,
                    self._run,
                    self.baseline,
                    self.config.gate,
                    self.manifest() if self.baseline is not None else None,
                    record_hint=f"pytest -m eval --mlgate-suite {self.suite.name} --mlgate-record",
                )
        return self._judged

    def record(self, name: str, verdict: Verdict) -> None:
        self.verdicts[name] = verdict

    def _run_with_flipped_examples(self) -> EvalRun:
        """The run as recorded: example texts only for the first examples that flipped against
        the baseline (the report's drill-down), not for every document."""
        keep: dict[str, list[int]] = {}
        limit = self.config.report.examples
        for flips in task_flips(self._run, self.baseline, self.thresholds):
            keep[flips.task] = [*flips.lost[:limit], *flips.gained[:limit]]
        tasks = {
            name: replace(
                task,
                examples={d: task.examples[d] for d in keep.get(name, []) if d in task.examples},
            )
            for name, task in self._run.tasks.items()
        }
        return EvalRun(tasks, self._run.info)

    def report_input(self) -> ReportInput:
        """What the HTML and Markdown reports show for this session."""
        history: list[RunRecord] = []
        if self.store is not None:
            entries = [e for e in self.store.entries() if e.run_id != self.run_id]
            for entry in entries[-self.config.report.history :]:
                try:
                    history.append(self.store.load(entry.run_id))
                except MlgateError:
                    continue  # the store warned; the matrix shows the other runs
        return ReportInput(
            run_id=self.run_id,
            run=self._run,
            manifest=self.manifest() if self._run.tasks else {},
            verdicts=[{"item": item, **v.summary()} for item, v in self.verdicts.items()],
            baseline=self.baseline,
            history=history,
            thresholds=self.thresholds,
            settings=self.config.gate,
            report=self.config.report,
            suite=self.suite.name,
            checkpoint=self.checkpoint,
        )

    def record_run(self) -> str:
        """Append this run to the history; raise StoreError when there is nothing whole to
        record (an evaluation failed) or the store cannot be written."""
        if self.store is None:
            raise StoreError("no history store configured")
        if self._failed:
            raise StoreError("not recorded: an evaluation failed, the run is incomplete")
        if not self._run.tasks:
            raise StoreError("not recorded: nothing was evaluated")
        record = RunRecord(
            self.run_id,
            self.manifest(),
            self._run_with_flipped_examples(),
            tuple(v.summary() for v in self.verdicts.values()),
        )
        self.store.append(record)
        return self.run_id

    def close(self) -> None:
        if self._backend is not None:
            self._backend.close()
            self._backend = None


def needed_tasks(suite: SuiteConfig, marker_tasks: Sequence[Sequence[str]]) -> tuple[str, ...]:
    """The suite's tasks, then any extra task the selected eval-marked tests ask for."""
    return tuple(dict.fromkeys([*suite.tasks, *(t for tasks in marker_tasks for t in tasks)]))
