"""The state of one gated run: its resolved plan, its evaluator, the verdicts, the record.

Stored in ``pytest.Config.stash`` by the plugin; plain Python so the CLI can drive it too. The
flow is one way: plan -> resolve -> evaluate -> decide (once, every gated metric together) ->
record and report.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

from pytest_mlgate.config.schema import MetricThreshold
from pytest_mlgate.errors import BackendError, MlgateError, StoreError, StoreUnreachable
from pytest_mlgate.gate.decision import gate_all
from pytest_mlgate.gate.latency import LatencyVerdict, judge_latency
from pytest_mlgate.gate.looks import plan_sequential
from pytest_mlgate.gate.pairing import task_flips
from pytest_mlgate.gate.power import ComparisonPower
from pytest_mlgate.gate.verdicts import GateOutcome, Reference, Status, Verdict
from pytest_mlgate.manifest import Manifest, TaskInfo, build_manifest, hardware
from pytest_mlgate.results import Determinism, EvalRun, Latency
from pytest_mlgate.run.evaluator import Evaluator
from pytest_mlgate.run.looks import Looked, evaluate_looks
from pytest_mlgate.run.plan import GatePlan
from pytest_mlgate.run.resolve import ResolvedGate
from pytest_mlgate.store import IndexEntry, new_run_id


@dataclass(frozen=True)
class Evaluated:
    """What one gated run evaluated: the candidate's results, its determinism and latency
    figures (or why each could not be measured) and the reference's results. Everything the
    verdicts are decided from; nothing in it is decided."""

    run: EvalRun
    #: [gate] determinism: per suite task, its figures or why they were not measured
    determinism: Mapping[str, Determinism | str] = field(default_factory=dict)
    #: [suites.NAME] latency: the samples or why not measured; None: the suite does not ask
    latency: Latency | str | None = None
    reference: Reference | None = None  #: the reference's results, when one is configured
    #: the candidate's evaluation failed: every verdict fails and the run is never recorded
    failure: MlgateError | None = None
    #: the reference's evaluation failed: every verdict fails; the candidate's run is whole
    reference_failure: MlgateError | None = None
    #: a sequential run's look loop: each item's decision, each task's end (None: fixed n)
    looked: Looked | None = None

    @property
    def error(self) -> MlgateError | None:
        """The error every verdict fails with, if any."""
        return self.failure or self.reference_failure


@dataclass
class GateSession:
    """One gated run as a pipeline of stages, each computed once, each from the ones before:

    1. ``evaluated()``: the candidate, then determinism and latency while its model is loaded,
       then the reference after it is released (one model in memory at a time);
    2. ``manifest()``: what reproduces the run, with the determinism and latency figures;
    3. ``verdicts()``: every gated metric decided together (one multiple-comparison correction);
    4. ``outcome()``: the ``GateOutcome`` of the items that ran, which ``record()`` appends.

    The plugin drives it from the pytest items; ``mlgate merge`` starts it at stage 2 with the
    shards' joined results (``GateSession.of_evaluated``)."""

    resolved: ResolvedGate
    evaluator: Evaluator
    #: the reference checkpoint's, evaluated after the candidate (one model loaded at a time)
    reference_evaluator: Evaluator | None = None
    run_id: str = field(default_factory=new_run_id)
    #: the threshold items that ran, by node id, in the order they ran
    ran: dict[str, MetricThreshold] = field(default_factory=dict)
    messages: list[str] = field(default_factory=list)  #: printed in the terminal summary
    outputs_written: bool = False  #: the reports are written once (before recording, if any)
    _evaluated: Evaluated | None = None  #: stage 1
    _manifest: Manifest | None = None  #: stage 2
    _verdicts: dict[MetricThreshold, Verdict] | None = None  #: stage 3
    _loaded: dict[str, GateOutcome] = field(default_factory=dict)  #: history records read
    _given: bool = False  #: stages 1 and 2 were given (``of_evaluated``), not computed here

    @classmethod
    def of_evaluated(
        cls,
        resolved: ResolvedGate,
        evaluator: Evaluator,
        evaluated: Evaluated,
        manifest: Manifest,
    ) -> GateSession:
        """A session whose first two stages are done elsewhere (``mlgate merge``: the shards
        evaluated, their manifests joined): it decides, reports and records like any other."""
        return cls(
            resolved,
            evaluator,
            run_id=manifest.run_id,
            _evaluated=evaluated,
            _manifest=manifest,
            _given=True,
        )

    @property
    def plan(self) -> GatePlan:
        """The plan this session runs."""
        return self.resolved.plan

    @property
    def baseline(self) -> GateOutcome | None:
        """The baseline record, when one was found."""
        return self.resolved.baseline

    @property
    def reference(self) -> Reference | None:
        """The reference's results, once evaluated."""
        return None if self._evaluated is None else self._evaluated.reference

    def evaluated(self) -> Evaluated:
        """Stage 1, run once: the candidate on every gated task, its determinism and latency
        (while its model is loaded), then the reference. An evaluation error stops the stages
        that need it and is kept in ``failure``."""
        if self._evaluated is None:
            tasks = list(dict.fromkeys(t.task for t in self.plan.thresholds))
            failure: MlgateError | None = None
            looked = None
            try:
                looked = self._evaluate_looks()
                self.evaluator.evaluate(tasks)
            except MlgateError as exc:
                failure = exc
            determinism = self._measure_determinism()
            latency = self._measure_latency()
            reference, reference_failure = None, None
            if failure is None and tasks and self.evaluator.partial is None:
                try:
                    reference = self._reference(tasks, looked)
                except MlgateError as exc:
                    reference_failure = exc
            self._evaluated = Evaluated(
                self.evaluator.run,
                determinism,
                latency,
                reference,
                failure,
                reference_failure,
                looked,
            )
        return self._evaluated

    def _evaluate_looks(self) -> Looked | None:
        """A sequential run's look loop, before anything else is evaluated (None: the run
        evaluates every document at once, and the reason is said when it was asked for)."""
        looks, plan = self.plan.looks, self.plan
        if looks is None or self.evaluator.partial is not None or not plan.thresholds:
            return None
        baseline = None if self.baseline is None else self.baseline.run
        settings = plan.history.settings
        found = plan_sequential(
            plan.thresholds,
            baseline,
            settings,
            anchor=self.resolved.anchor is not None,
            reference=plan.reference is not None,
        )
        if isinstance(found, str) or baseline is None:
            self.messages.append(f"sequential: {found}; every document evaluated, gated at fixed n")
            return None
        self.messages.extend(found.notes())
        looked = evaluate_looks(self.evaluator, found, baseline, settings, looks)
        self.messages.extend(looked.notes)
        self.messages.extend(stop.text(task) for task, stop in looked.tasks.items())
        if looked.tasks and (seconds := self.evaluator.run.info.seconds) is not None:
            evaluated = sum(stop.evaluated for stop in looked.tasks.values())
            planned = sum(stop.total for stop in looked.tasks.values())
            self.messages.append(
                f"sequential: {evaluated:,} of {planned:,} documents evaluated in "
                f"{seconds:.1f} s (model load excluded)"
            )
        return looked

    def verdicts(self) -> Mapping[MetricThreshold, Verdict]:
        """Stage 3: verdicts for every gated metric of the session, decided together (one
        evaluation, one multiple-comparison correction)."""
        if self._verdicts is None:
            plan = self.plan
            evaluated = self.evaluated()
            exc = evaluated.error
            if exc is not None:
                self._verdicts = {
                    t: Verdict(t, Status.FAIL, f"{t.task} {t.metric}: evaluation failed: {exc}")
                    for t in plan.thresholds
                }
                return self._verdicts
            settings = plan.history.settings
            compared = self.baseline is not None or self.resolved.anchor is not None
            self._verdicts = gate_all(
                plan.thresholds,
                evaluated.run,
                self.baseline,
                settings,
                self.manifest() if compared else None,
                record_hint=plan.record_hint,
                anchor=self.resolved.anchor,
                history=self.trend_history() if settings.on_trend != "off" else (),
                reference=evaluated.reference,
                sequential=None if evaluated.looked is None else evaluated.looked.stops,
            )
            self._verdicts = with_power(self._verdicts, self.resolved.power)
        return self._verdicts

    def determinism(self) -> Mapping[str, Determinism | str]:
        """``[gate] determinism``: per suite task, its figures or why not measured."""
        return self.evaluated().determinism

    def latency(self) -> Latency | str | None:
        """``[suites.NAME] latency`` (None: the suite does not measure it)."""
        return self.evaluated().latency

    def _measure_determinism(self) -> dict[str, Determinism | str]:
        """Stage 1's determinism: the suite's tasks re-evaluated at other batch sizes."""
        settings = self.plan.history.settings.determinism
        tasks = list(self.plan.suite.suite.all_tasks)
        if settings is None:
            return {}
        if self.evaluator.group is not None:
            why = "not measured under a multi-process launch: run it in one process"
            return dict.fromkeys(tasks, why)
        if self.evaluator.shard is not None:  # one shard's documents: the unsharded run measures
            return {}
        try:
            self.evaluator.evaluate(tasks)
            found = self.evaluator.determinism(tasks, settings)
        except MlgateError as exc:
            return dict.fromkeys(tasks, f"not measured: {exc}")
        return {figures.task: figures for figures in found}

    def _measure_latency(self) -> Latency | str | None:
        """Stage 1's latency probe (None: the suite does not measure it, or this is a shard)."""
        settings = self.plan.suite.suite.latency
        if settings is None or self.evaluator.partial is not None:  # measured by the whole run
            return None
        if self.evaluator.group is not None:
            return "not measured under a multi-process launch: run it in one process"
        tasks = list(self.plan.suite.suite.all_tasks)
        try:
            run = self.evaluator.evaluate(tasks)
            measured = self.evaluator.latency(tasks, settings, hardware(run.info.gpus))
        except MlgateError as exc:
            return f"not measured: {exc}"
        self.messages.append(
            f"latency probe: {settings.warmup} + {settings.requests} single requests "
            f"(max_new_tokens {settings.max_new_tokens}) in {measured.seconds:.1f} s"
        )
        return measured

    def latency_verdicts(self) -> dict[str, LatencyVerdict] | str:
        """The ``[latency]`` items' verdicts, or why there is nothing to judge."""
        self.verdicts()
        measured = self.latency()
        if not isinstance(measured, Latency):
            return measured or "not measured: the suite has no latency = { ... }"
        baseline = self.baseline
        return judge_latency(
            self.plan.config.latency,
            measured,
            None if baseline is None else baseline.manifest.latency,
            self.plan.history.settings,
            None if baseline is None else baseline.run_id,
        )

    def _reference(self, tasks: list[str], looked: Looked | None = None) -> Reference | None:
        """The reference evaluated on the candidate's documents, after the candidate's model
        is released (one model in memory at a time); its results are cached by its own
        fingerprint like the candidate's. After a sequential run, on the looks each task was
        evaluated to, so both hold the same documents."""
        ref, spec = self.reference_evaluator, self.plan.reference
        if ref is None or spec is None or self.resolved.reference is None:
            return None
        self.evaluator.close()
        try:
            ends = (
                {}
                if looked is None
                else {t: looked.tasks[t].look for t in tasks if t in looked.tasks}
            )
            if ends and self.plan.looks is not None:
                for number in range(1, max(ends.values()) + 1):
                    ref.evaluate_look([t for t, end in ends.items() if end >= number],
                                      (number, self.plan.looks))  # fmt: skip
            run = ref.evaluate(tasks)
        except MlgateError as exc:
            raise BackendError(f"the reference {spec.location}: {exc}") from exc
        finally:
            ref.close()
        manifest = build_manifest(
            run_id=f"{self.run_id}-reference",
            config=self.plan.config,
            suite=self.plan.suite.suite,
            checkpoint=self.resolved.reference,
            run=run,
            cwd=self.plan.cwd,
            fingerprint=ref.fingerprint(),
        )
        return Reference(GateOutcome(run, (), manifest), spec.location)

    def judge(self, item: str, threshold: MetricThreshold) -> Verdict:
        """The verdict of one threshold item, remembered as having run once it has one."""
        verdict = self.verdicts()[threshold]
        self.ran[item] = threshold
        return verdict

    def candidate_run(self) -> EvalRun:
        """Everything the candidate evaluated: stage 1's results and any task an eval test
        asked for after them (the evaluator's memo holds both); a session given its stages
        holds what it was given."""
        evaluated = self.evaluated()
        return evaluated.run if self._given else self.evaluator.run

    def manifest(self) -> Manifest:
        """Stage 2: the run manifest, built once (it fingerprints the weights and asks git)."""
        if self._manifest is None:
            plan = self.plan
            evaluated = self.evaluated()
            manifest = build_manifest(
                run_id=self.run_id,
                config=plan.config,
                suite=plan.suite.suite,
                checkpoint=self.resolved.checkpoint,
                run=evaluated.run,
                cwd=plan.cwd,
                fingerprint=self.evaluator.fingerprint(),
                shard=self.evaluator.partial,
            )
            measured = tuple(
                d for d in evaluated.determinism.values() if isinstance(d, Determinism)
            )
            latency = evaluated.latency
            self._manifest = replace(
                manifest,
                tasks=stopped_tasks(manifest, evaluated.looked),
                determinism=measured,
                latency=latency if isinstance(latency, Latency) else None,
            )
        return self._manifest

    def outcome(self) -> GateOutcome:
        """Stage 4: this run as it stands: everything evaluated, the verdicts of the items
        that ran."""
        verdicts = self.verdicts() if self.ran else {}
        manifest = self.manifest()
        return GateOutcome(
            self.candidate_run(),
            tuple(verdicts[t] for t in self.ran.values()),
            manifest,
        )

    def _recorded_run(self) -> EvalRun:
        """The run as recorded: example texts only for the first examples that flipped against
        the baseline (the report's drill-down), not for every document."""
        run = self.candidate_run()
        limit = self.plan.history.report.examples
        baseline = None if self.baseline is None else self.baseline.run
        keep = {
            flips.task: [*flips.lost[:limit], *flips.gained[:limit]]
            for flips in task_flips(run, baseline, self.plan.thresholds)
        }
        tasks = {
            name: replace(
                task,
                examples={d: task.examples[d] for d in keep.get(name, []) if d in task.examples},
            )
            for name, task in run.tasks.items()
        }
        return EvalRun(tasks, run.info)

    def record(self, attachments: Mapping[str, Path] | None = None) -> str:
        """Append this run (with ``attachments``, its report files, where the store keeps
        them) to the history; raise StoreError when there is nothing whole to record (an
        evaluation failed) or the store cannot be written, RecordSpooled when the store took
        it into its spool instead."""
        if self.evaluator.failed or self.evaluated().failure is not None:
            raise StoreError("not recorded: an evaluation failed, the run is incomplete")
        if not self.candidate_run().tasks:
            raise StoreError("not recorded: nothing was evaluated")
        outcome = replace(self.outcome(), run=self._recorded_run())
        looked = self.evaluated().looked
        if looked is not None and looked.stopped_early:  # never a baseline or an anchor
            self.resolved.store.append_entry(outcome, IndexEntry.of(outcome, partial=True))
            self.messages.append(
                f"run {self.run_id} stopped early (sequential): recorded as a partial run, "
                "never a baseline or anchor"
            )
            return self.run_id
        self.resolved.store.append(outcome, attachments)
        return self.run_id

    def write_partial(self, path: Path, record: bool) -> str:
        """A shard's run (``--mlgate-shard``): every evaluated task, no verdicts, written to
        ``path`` for ``mlgate merge`` (and, with ``record``, to the store as a partial run: never
        a baseline). What was done, for the summary."""
        from pytest_mlgate.atomic import write_atomic
        from pytest_mlgate.store.codec import dumps_outcome

        if self.evaluator.failed:
            raise StoreError("partial run NOT written: an evaluation failed")
        self.evaluator.evaluate(self.plan.tasks)
        partial = GateOutcome(self.evaluator.run, (), self.manifest())
        write_atomic(path, dumps_outcome(partial))
        said = f"partial run of shard {'/'.join(map(str, self.evaluator.partial or ()))} in {path}"
        if record:
            self.resolved.store.append_entry(partial, IndexEntry.of(partial, partial=True))
            said += f" and in {self.resolved.store.location} (partial: never a baseline)"
        return said

    def register(self) -> str:
        """--mlgate-register after a passing recorded run: what was done, for the summary."""
        from pytest_mlgate.store.mlflow import registry

        target = self.plan.register
        assert target is not None
        store = registry.mlflow_store(self.resolved.store, f"--mlgate-register {target}")
        outcome = self.outcome()
        stage = registry.check_register_target(target, self.plan.register_stage)
        return registry.register(
            store, target, outcome, self.resolved.checkpoint, self.plan.cwd, stage
        )

    def _load(self, entries: Iterable[IndexEntry]) -> list[GateOutcome]:
        """The readable records of ``entries``, each read once per session."""
        found = []
        for entry in entries:
            if entry.run_id not in self._loaded:
                try:
                    self._loaded[entry.run_id] = self.resolved.store.load(entry.run_id)
                except MlgateError:
                    continue  # the store warned; the others still count
            found.append(self._loaded[entry.run_id])
        return found

    def _last(self, what: str, n: int, branch: str | None = None) -> list[GateOutcome]:
        """The last ``n`` recorded runs before this one; none, said once, when the history's
        server went away after the baseline was looked up (the gate goes on without them)."""
        try:
            return self._load(self.resolved.store.last(n, branch, before=self.run_id))
        except StoreUnreachable as exc:
            message = f"{what} left out: {exc}"
            if message not in self.messages:
                self.messages.append(message)
            return []

    def history(self) -> list[GateOutcome]:
        """The recorded runs before this one that the report shows as columns."""
        return self._last("the report's history columns", self.plan.history.report.history)

    def trend_history(self) -> list[GateOutcome]:
        """The baseline branch's last ``[report] history`` runs, the trend test's series."""
        history = self.plan.history
        return self._last("the trend test", history.report.history, history.baseline.branch)

    def close(self) -> None:
        self.evaluator.close()
        if self.reference_evaluator is not None:
            self.reference_evaluator.close()


def stopped_tasks(manifest: Manifest, looked: Looked | None) -> dict[str, TaskInfo]:
    """The manifest's tasks, with where a sequential run's look loop ended each."""
    if looked is None:
        return dict(manifest.tasks)
    return {
        name: replace(info, planned=stop.total, look=(stop.look, stop.looks))
        if (stop := looked.tasks.get(name)) is not None
        else info
        for name, info in manifest.tasks.items()
    }


def with_power(
    verdicts: dict[MetricThreshold, Verdict], planned: Iterable[ComparisonPower]
) -> dict[MetricThreshold, Verdict]:
    """Each verdict with the planned power of its baseline comparison (the report shows it
    beside the row)."""
    by_item = {p.baseline_of: p.detectable for p in planned if p.baseline_of is not None}
    return {t: replace(v, detectable=by_item.get(t, v.detectable)) for t, v in verdicts.items()}
