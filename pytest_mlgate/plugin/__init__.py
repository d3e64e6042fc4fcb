"""pytest hooks only: options, markers, the threshold items, the terminal summary.

Importing this module must stay cheap: it is loaded in every pytest run of a repo that has the
plugin installed. Heavy work (lm-eval, torch) happens only when an eval item runs.
"""

from __future__ import annotations

import contextlib
import signal
import sys
import warnings
from collections.abc import Generator, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from _pytest.mark.expression import Expression
from _pytest.pathlib import bestrelpath

if TYPE_CHECKING:  # loaded only when eval items are selected: a plain run never pays for them
    from pytest_mlgate.backend import Progress
    from pytest_mlgate.gate.verdicts import Verdict
    from pytest_mlgate.run.evaluator import Evaluator
    from pytest_mlgate.run.plan import SuiteChoice
    from pytest_mlgate.run.session import GateSession

from pytest_mlgate import hookspec
from pytest_mlgate.backend import builtin as builtin_backend
from pytest_mlgate.config.load import (
    DEFAULT_SUITE,
    MetricThreshold,
    MlgateConfig,
    load_config,
)
from pytest_mlgate.config.options import DEFAULT_REPORT, GateOptions, add_options
from pytest_mlgate.errors import (
    AnchorSkippedWarning,
    BackendError,
    ChanceWarning,
    ConfigError,
    IncomparableBaselineWarning,
    MlgateError,
    MlgateWarning,
    NoiseExplainedDropWarning,
    PowerWarning,
    RecordSpooled,
    StoreError,
    TrendWarning,
    UsageProblem,
)
from pytest_mlgate.plugin.fixtures import (
    CONFIG_KEY,
    GATE_KEY,
    mlgate_baseline,
    mlgate_eval,
    mlgate_model,
    mlgate_session,
)
from pytest_mlgate.plugin.guards import (
    named_paths,
    nothing_gated,
    refusal_without_eval,
    search_config,
)

__all__ = ["MlgateWarning", "mlgate_baseline", "mlgate_eval", "mlgate_model", "mlgate_session"]

MARKER = "eval"
CHOICE_KEY = pytest.StashKey["SuiteChoice"]()
SUITE_ERROR_KEY = pytest.StashKey[UsageProblem]()
# The warning class of each caveat a verdict can carry (gate.Caveat's values).
CAVEAT_WARNINGS: dict[str, type[MlgateWarning]] = {
    "noise": NoiseExplainedDropWarning,
    "incomparable": IncomparableBaselineWarning,
    "chance": ChanceWarning,
    "anchor": AnchorSkippedWarning,
    "trend": TrendWarning,
}
EVALUATOR_KEY = pytest.StashKey["Evaluator"]()
SUBGROUPS_KEY = pytest.StashKey[dict[str, dict[str, int]]]()
NOTES_KEY = pytest.StashKey[list[str]]()  # what collection decided not to gate, and why
# Warnings met while the gate is set up (collection time), raised when the first item runs.
PENDING_KEY = pytest.StashKey[list[tuple[type[Warning], str]]]()


def pytest_addhooks(pluginmanager: pytest.PytestPluginManager) -> None:
    pluginmanager.add_hookspecs(hookspec)


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("mlgate", "LLM eval regression gate (pytest-mlgate)")
    add_options(group.addoption, "mlgate-")
    parser.addini("mlgate_config", "default for --mlgate-config", default=None)
    parser.addini("mlgate_suite", "default for --mlgate-suite", default=DEFAULT_SUITE)
    parser.addini("mlgate_report", "default for --mlgate-report", default=DEFAULT_REPORT)


def gate_options(config: pytest.Config) -> GateOptions:
    """The gate's options from the command line, then the ini file."""
    report = config.getoption("mlgate_report")
    return GateOptions(
        cwd=config.invocation_params.dir,
        config=config.getoption("mlgate_config"),
        checkpoint=config.getoption("mlgate_checkpoint"),
        reference=config.getoption("mlgate_reference"),
        suite=str(
            config.getoption("mlgate_suite") or config.getini("mlgate_suite") or DEFAULT_SUITE
        ),
        changed_from=config.getoption("mlgate_changed_from"),
        report=str(config.getini("mlgate_report") if report is None else report),
        json=config.getoption("mlgate_json"),
        markdown=config.getoption("mlgate_markdown"),
        store=config.getoption("mlgate_store"),
        baseline=config.getoption("mlgate_baseline"),
        no_cache=bool(config.getoption("mlgate_no_cache")),
        record=bool(config.getoption("mlgate_record")),
        register=config.getoption("mlgate_register"),
        shard=config.getoption("mlgate_shard"),
        partial=config.getoption("mlgate_partial"),
    )


def _config_path(config: pytest.Config) -> tuple[Path, bool]:
    """The config file and whether the user named it (then it must exist)."""
    option = config.getoption("mlgate_config")
    if option:
        return Path(option).resolve(), True
    ini = config.getini("mlgate_config")
    if ini:
        return (config.rootpath / str(ini)).resolve(), True
    return find_config(config.invocation_params.dir, config.rootpath), False


def find_config(start: Path, rootpath: Path) -> Path:
    """The repo's thresholds.toml (or where it would be): see :func:`guards.search_config`."""
    return search_config(start, rootpath).path


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        f"{MARKER}(suite=None, tasks=()): an LLM evaluation test; runs only with -m eval "
        "(suite: the suite name(s) it belongs to; tasks: lm-eval tasks it reads via mlgate_eval)",
    )
    config.pluginmanager.register(builtin_backend, "mlgate-builtin-backend")
    path, named = _config_path(config)
    typed = config.invocation_params.args  # as typed: addopts and ini keys never refuse a run
    cwd = config.invocation_params.dir
    missing = named and not path.is_file()  # said below, more precisely than "add -m eval"
    refusal = None if eval_requested(config) or missing else refusal_without_eval(typed, cwd, path)
    if refusal is not None:
        raise pytest.UsageError(refusal)
    if not named and not path.is_file():
        return  # no thresholds.toml: the plugin stays out of the way
    try:
        config.stash[CONFIG_KEY] = load_config(path)
    except ConfigError as exc:
        raise pytest.UsageError(str(exc)) from None
    if eval_requested(config) and _under_xdist(config):
        raise pytest.UsageError(
            "pytest -m eval cannot run under pytest-xdist (-n / --dist): every worker would "
            "load the model and evaluate again, and --mlgate-record would record the run once "
            "per worker. Run the eval items in one process (-n 0); unit tests can keep -n."
        )


def eval_requested(config: pytest.Config) -> bool:
    """Whether -m asks for evaluations: it selects an item marked only `eval` and rejects an
    unmarked one. `-m eval` does; `-m "not slow"` and a plain run do not."""
    markexpr = config.option.markexpr
    if not markexpr:
        return False
    try:
        expression = Expression.compile(markexpr)
    except SyntaxError:
        return False  # pytest reports the bad expression itself
    return expression.evaluate(_only_eval) and not expression.evaluate(_no_mark)


def _only_eval(name: str, /, **kwargs: str | int | bool | None) -> bool:
    return name == MARKER


def _no_mark(name: str, /, **kwargs: str | int | bool | None) -> bool:
    return False


def _under_xdist(config: pytest.Config) -> bool:
    if hasattr(config, "workerinput"):
        return True
    processes = getattr(config.option, "numprocesses", None)
    return bool(processes) or getattr(config.option, "dist", "no") not in ("no", None)


def _suite_choice(config: pytest.Config, cfg: MlgateConfig) -> SuiteChoice:
    """The suite this run gates, chosen once (``auto`` asks git what changed)."""
    if CHOICE_KEY not in config.stash:
        from pytest_mlgate.run.plan import choose_suite

        config.stash[CHOICE_KEY] = choose_suite(cfg, gate_options(config))
    return config.stash[CHOICE_KEY]


def _gated_suite(config: pytest.Config) -> tuple[MlgateConfig, SuiteChoice] | None:
    """The config and suite whose thresholds become items, when -m could select them."""
    cfg = config.stash.get(CONFIG_KEY, None)
    if cfg is None or not eval_requested(config):
        return None  # plain `pytest`: no evaluation is collected at all
    try:
        return cfg, _suite_choice(config, cfg)
    except ConfigError as exc:
        config.stash[SUITE_ERROR_KEY] = exc  # an error only if eval items end up selected
        return None


@pytest.hookimpl(wrapper=True)
def pytest_make_collect_report(
    collector: pytest.Collector,
) -> Generator[None, pytest.CollectReport, pytest.CollectReport]:
    """On a default run (no paths given) add the thresholds file to the session's collectors,
    so its items are collected, counted and selected like any test, wherever testpaths point."""
    report = yield
    config = collector.config
    default_run = config.args_source is not pytest.Config.ArgsSource.ARGS
    if isinstance(collector, pytest.Session) and default_run and report.passed:
        gated = _gated_suite(config)
        if gated is not None:
            path = gated[0].path
            nodeid = (
                bestrelpath(config.rootpath, path) if config.rootpath in path.parents else path.name
            )
            report.result.append(ThresholdsFile.from_parent(collector, path=path, nodeid=nodeid))
    return report


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> ThresholdsFile | None:
    """When paths are given, the thresholds file is collected if they include it."""
    config = parent.config
    if config.args_source is not pytest.Config.ArgsSource.ARGS:
        return None  # added once by pytest_make_collect_report instead
    cfg = config.stash.get(CONFIG_KEY, None)
    if cfg is None or file_path != cfg.path or _gated_suite(config) is None:
        return None
    made: ThresholdsFile = ThresholdsFile.from_parent(parent, path=file_path)
    return made


@pytest.hookimpl(wrapper=True)
def pytest_collection_modifyitems(
    config: pytest.Config, items: list[pytest.Item]
) -> Iterator[None]:
    """After -m / -k have selected: drop eval items a plain run must not run; set up the gate."""
    result = yield
    _select_eval_items(config, items)
    return result


def _eval_items(items: Sequence[pytest.Item]) -> list[pytest.Item]:
    return [item for item in items if item.get_closest_marker(MARKER) is not None]


def _marker_suites(item: pytest.Item) -> tuple[str, ...] | None:
    marker = item.get_closest_marker(MARKER)
    suite = None if marker is None else marker.kwargs.get("suite")
    if suite is None:
        return None
    return (suite,) if isinstance(suite, str) else tuple(suite)


def _marker_tasks(item: pytest.Item) -> tuple[str, ...]:
    marker = item.get_closest_marker(MARKER)
    tasks = () if marker is None else marker.kwargs.get("tasks", ())
    if isinstance(tasks, str):
        tasks = (tasks,)
    if not isinstance(tasks, (list, tuple)) or not all(isinstance(t, str) for t in tasks):
        raise pytest.UsageError(
            f"{item.nodeid}: @pytest.mark.eval(tasks=...) takes a task name or a list of them, "
            f"not {tasks!r}"
        )
    return tuple(tasks)


def _select_eval_items(config: pytest.Config, items: list[pytest.Item]) -> None:
    if SUITE_ERROR_KEY in config.stash:  # an eval run whose suite cannot be resolved
        raise pytest.UsageError(str(config.stash[SUITE_ERROR_KEY]))
    evals = _eval_items(items)
    if not evals:
        return
    if not eval_requested(config):
        # Plain `pytest`: evaluations are opt-in (`pytest -m eval`), unit tests run alone.
        _deselect(config, items, evals)
        return
    cfg = config.stash.get(CONFIG_KEY, None)
    if cfg is None:
        path, _ = _config_path(config)
        raise pytest.UsageError(
            f"{len(evals)} eval test(s) selected but there is no {path}: "
            "create one with `mlgate init` or pass --mlgate-config PATH"
        )
    choice = _suite_choice(config, cfg)
    suite = choice.suite.name
    other_suite = [i for i in evals if (s := _marker_suites(i)) is not None and suite not in s]
    if other_suite:
        _deselect(config, items, other_suite)
        evals = [i for i in evals if i not in other_suite]
    if evals:
        try:
            config.stash[GATE_KEY] = _start_gate(config, cfg, choice, evals)
        except UsageProblem as exc:
            raise pytest.UsageError(f"{type(exc).__name__}: {exc}") from None


def _interrupt_on_sigterm(config: pytest.Config) -> None:
    """SIGTERM (how CI cancels a job) ends an eval session as Ctrl-C does: nothing recorded,
    the reports of what ran written, the model released. The previous handler is restored when
    the session ends."""

    def interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt(f"terminated (signal {signum})")

    try:
        previous = signal.signal(signal.SIGTERM, interrupt)
    except ValueError:  # not the main thread (an embedding program): leave signals alone
        return

    def restore() -> None:
        signal.signal(signal.SIGTERM, previous)

    config.add_cleanup(restore)


def _start_gate(
    config: pytest.Config, cfg: MlgateConfig, choice: SuiteChoice, evals: list[pytest.Item]
) -> GateSession:
    """Plan, resolve and preflight the gate of the selected eval items (no model loaded)."""
    _interrupt_on_sigterm(config)
    from pytest_mlgate.run.plan import plan_gate
    from pytest_mlgate.run.resolve import resolve_gate
    from pytest_mlgate.run.session import GateSession

    plan = plan_gate(
        cfg,
        gate_options(config),
        suite=choice,
        thresholds=[i.threshold for i in evals if isinstance(i, ThresholdItem)],
        marker_tasks=[_marker_tasks(i) for i in evals],
    )
    # Warnings met while collecting (an unreadable record, too little power) are raised when
    # the first gated item runs, before the eval: raised during collection, -W error would turn
    # them into an INTERNALERROR instead of a failed item.
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        resolved = resolve_gate(plan)
    pending = [(w.category, str(w.message)) for w in caught]
    pending += [(PowerWarning, message) for message in resolved.power_warnings]
    config.stash[PENDING_KEY] = pending
    evaluator = _evaluator(config, cfg, choice)
    evaluator.batch = plan.tasks  # with the tasks the selected eval tests ask for
    if not evaluator.cached():  # a cache hit needs neither the model nor lm-eval's task index
        evaluator.backend().check(plan.tasks)
    reference = None
    if resolved.reference is not None:
        from pytest_mlgate.backend import BackendSpec
        from pytest_mlgate.checkpoint import check_checkpoint
        from pytest_mlgate.run.evaluator import Evaluator

        check_checkpoint(resolved.reference)
        reference = Evaluator(
            spec=BackendSpec(cfg.model, resolved.reference, cfg.include),
            suite=choice.suite,
            batch=tuple(dict.fromkeys(t.task for t in plan.thresholds)),
            make_backend=lambda spec: _make_backend(config, spec),
            cache_folder=plan.cache,
            progress=_terminal_progress(config),
            pii_tasks=cfg.pii_tasks(),
            redact=cfg.report.redact,
        )
    return GateSession(resolved, evaluator, reference)


def _evaluator(config: pytest.Config, cfg: MlgateConfig, choice: SuiteChoice) -> Evaluator:
    """The session's evaluator, made once: at collection when subgroup items need the data's
    subgroups, else when the gate starts."""
    if EVALUATOR_KEY not in config.stash:
        from pytest_mlgate.backend import BackendSpec
        from pytest_mlgate.run.evaluator import Evaluator
        from pytest_mlgate.run.plan import cache_folder, parse_shard
        from pytest_mlgate.run.resolve import candidate_location

        options = gate_options(config)
        checkpoint = candidate_location(cfg, options)
        group, shard = _ranks(config, parse_shard(options.shard))
        config.stash[EVALUATOR_KEY] = Evaluator(
            spec=BackendSpec(cfg.model, checkpoint, cfg.include),
            suite=choice.suite,
            batch=choice.suite.all_tasks,
            make_backend=lambda spec: _make_backend(config, spec),
            cache_folder=cache_folder(cfg, options) if group is None or group.leader else None,
            on_evaluated=lambda run: config.hook.pytest_mlgate_evaluated(run=run, config=config),
            progress=_terminal_progress(config),
            pii_tasks=cfg.pii_tasks(),
            redact=cfg.report.redact,
            shard=shard,
            group=group,
        )
    return config.stash[EVALUATOR_KEY]


def _ranks(config: pytest.Config, shard: tuple[int, int] | None) -> tuple[Any, Any]:
    """Under a multi-process launch (torchrun, accelerate launch): this process's group and
    shard (rank R evaluates shard R+1 of N); else (None, --mlgate-shard)."""
    from pytest_mlgate.backend.parallel import Group, launched

    where = launched()
    if where is None:
        return None, shard
    if shard is not None:
        raise pytest.UsageError(
            "--mlgate-shard splits the documents across runners; under a multi-process launch "
            "the ranks split them already: use one or the other"
        )
    group = Group.join(*where)
    config.add_cleanup(group.close)
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    capture = config.pluginmanager.get_plugin("capturemanager")

    def announce(line: str) -> None:
        with capture.global_and_fixture_disabled() if capture else contextlib.nullcontext():
            if reporter is not None:
                reporter.write_line(line)
            else:
                print(line, file=sys.stderr, flush=True)

    group.announce = announce
    return group, (group.rank + 1, group.size)


def _subgroup_counts(config: pytest.Config) -> dict[str, dict[str, int]]:
    """Per task, the size of each subgroup, for the thresholds that gate subgroups."""
    if SUBGROUPS_KEY not in config.stash:
        gated = _gated_suite(config)
        assert gated is not None  # only asked while collecting an eval run's items
        cfg, choice = gated
        tasks = [t.task for t in cfg.thresholds_for(choice.suite.all_tasks) if t.gates_subgroups]
        try:
            config.stash[SUBGROUPS_KEY] = _evaluator(config, cfg, choice).subgroup_counts(tasks)
        except UsageProblem as exc:
            raise pytest.UsageError(f"{type(exc).__name__}: {exc}") from None
    return config.stash[SUBGROUPS_KEY]


def _terminal_progress(config: pytest.Config) -> Progress | None:
    """Progress lines through pytest's terminal (capture suspended while writing); none with
    -q or without a terminal reporter."""
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    capture = config.pluginmanager.get_plugin("capturemanager")
    if reporter is None or config.get_verbosity() < 0:
        return None
    from pytest_mlgate.report.progress import ProgressLine

    line = ProgressLine(tty=bool(reporter.isatty))

    def show(kind: str, done: int, total: int) -> None:
        text = line.update(kind, done, total)
        if text is None:
            return
        with capture.global_and_fixture_disabled() if capture else contextlib.nullcontext():
            if line.tty:
                reporter.rewrite(text, erase=True)
                if done >= total:
                    reporter.write("\n")
            else:
                reporter.write_line(text)

    return show


def _make_backend(config: pytest.Config, spec: Any) -> Any:
    made = config.hook.pytest_mlgate_make_backend(spec=spec, config=config)
    if made is None:
        raise BackendError("no plugin returned a backend from pytest_mlgate_make_backend")
    return made


def _deselect(config: pytest.Config, items: list[pytest.Item], drop: list[pytest.Item]) -> None:
    config.hook.pytest_deselected(items=drop)
    dropped = set(map(id, drop))
    items[:] = [item for item in items if id(item) not in dropped]


class GateFailed(Exception):
    """A gated metric failed its threshold; the message is the one-line reason."""


class ThresholdsFile(pytest.File):
    """``thresholds.toml`` as a test file: a node per task, an item per gated metric, so node
    ids read ``thresholds.toml::<task>::<metric>`` and --lf / node-id selection work."""

    def collect(self) -> Iterator[pytest.Collector]:
        gated = _gated_suite(self.config)
        if gated is None:
            return
        cfg, choice = gated
        thresholds = cfg.thresholds_for(choice.suite.all_tasks)
        for task in dict.fromkeys(t.task for t in thresholds):
            mine = tuple(t for t in thresholds if t.task == task)
            yield ThresholdTask.from_parent(self, name=task, thresholds=mine)
        if cfg.latency and choice.suite.latency is not None:
            yield LatencyNode.from_parent(self, name="latency")
        if cfg.gate.determinism is not None:
            yield DeterminismNode.from_parent(
                self, name="determinism", tasks=choice.suite.all_tasks
            )


class GateItem(pytest.Item):
    """An item the gate judges: failing with its one-line reason, no traceback. Under
    ``--mlgate-shard`` nothing is judged: the shard's part is evaluated and the item skipped
    (``mlgate merge`` gates the joined shards)."""

    label = ""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.add_marker(MARKER)

    def setup(self) -> None:
        gate = self.config.stash[GATE_KEY]
        evaluator = gate.evaluator
        if evaluator.partial is not None:
            evaluator.evaluate(gate.plan.tasks)
            k, n = evaluator.partial
            pytest.skip(f"shard {k}/{n}: gated when `mlgate merge` joins the shards")
        if not evaluator.leader:
            evaluator.evaluate(gate.plan.tasks)  # this rank's shard, gathered with the others
            assert evaluator.group is not None
            pytest.skip(f"rank {evaluator.group.rank} of {evaluator.group.size}: gated on rank 0")

    def repr_failure(
        self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None
    ) -> str | Any:
        if isinstance(excinfo.value, GateFailed):
            return str(excinfo.value)
        return super().repr_failure(excinfo, style=style)

    def reportinfo(self) -> tuple[Path, int | None, str]:
        return self.path, None, self.label


class LatencyNode(pytest.Collector):
    """``thresholds.toml::latency::p50_ms`` / ``p99_ms`` ([latency], on a suite that measures)."""

    def collect(self) -> Iterator[pytest.Item]:
        cfg = self.config.stash[CONFIG_KEY]
        for bound in cfg.latency:
            yield LatencyItem.from_parent(self, name=bound.name)


class LatencyItem(GateItem):
    @property
    def label(self) -> str:  # type: ignore[override]
        return f"latency::{self.name}"

    def runtest(self) -> None:
        gate = self.config.stash[GATE_KEY]
        judged = gate.latency_verdicts()
        if isinstance(judged, str):
            raise GateFailed(f"latency {self.name}: {judged}")
        verdict = judged[self.name]
        gate.messages.append(f"latency {self.name}: {verdict.reason}")  # in the summary
        self.user_properties += [
            ("mlgate_status", verdict.status.value),
            ("mlgate_value", verdict.value),
            ("mlgate_ratio", verdict.ratio),
            ("mlgate_p_adjusted", verdict.p),
        ]
        if verdict.status.value == "warn":
            warnings.warn(f"latency {self.name}: {verdict.reason}", NoiseExplainedDropWarning, 1)
        if not verdict.passed:
            raise GateFailed(f"latency {self.name}: {verdict.reason}")


class DeterminismNode(pytest.Collector):
    """``thresholds.toml::determinism::<task>``: an item per suite task ([gate] determinism)."""

    def __init__(self, *, tasks: tuple[str, ...], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.tasks = tasks

    def collect(self) -> Iterator[pytest.Item]:
        for task in self.tasks:
            yield DeterminismItem.from_parent(self, name=task, task=task)


class DeterminismItem(GateItem):
    """Fails when fewer than ``min_agreement`` of the re-evaluated documents gave the same
    answer at every batch size."""

    def __init__(self, *, task: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.task = task
        self.label = f"determinism::{task}"

    def runtest(self) -> None:
        gate = self.config.stash[GATE_KEY]
        settings = gate.plan.history.settings.determinism
        assert settings is not None  # collected only when configured
        gate.verdicts()  # measured with the evaluation, before the manifest is written
        figures = gate.determinism().get(self.task, f"not measured: {self.task} was not evaluated")
        if isinstance(figures, str):
            raise GateFailed(f"determinism {self.task}: {figures}")
        self.user_properties += [
            ("mlgate_agreement", figures.agreement),
            ("mlgate_n", figures.n),
            ("mlgate_max_loglik_diff", figures.max_loglik_diff),
        ]
        text = f"determinism {self.task}: {figures.describe()}"
        if not figures.n or figures.agreement < settings.min_agreement:
            raise GateFailed(f"{text} < min_agreement {settings.min_agreement:g}")


class ThresholdTask(pytest.Collector):
    def __init__(self, *, thresholds: tuple[MetricThreshold, ...], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.thresholds = thresholds

    def collect(self) -> Iterator[pytest.Item]:
        for threshold in self.thresholds:
            yield ThresholdItem.from_parent(self, name=threshold.metric, threshold=threshold)
            if threshold.gates_subgroups:
                yield from self._subgroup_items(threshold)

    def _subgroup_items(self, threshold: MetricThreshold) -> Iterator[pytest.Item]:
        sizes = _subgroup_counts(self.config).get(threshold.task, {})
        if not sizes:
            self.config.stash.setdefault(NOTES_KEY, []).append(
                f"{threshold.task} {threshold.metric}: no document has a subgroup field "
                "(category, subject or metadata.subgroup_field): no subgroup item"
            )
        for group, size in sorted(sizes.items()):
            if size >= threshold.min_subgroup_n:
                yield ThresholdItem.from_parent(
                    self,
                    name=f"{threshold.metric}[{group}]",
                    threshold=threshold.for_subgroup(group),
                )
            else:
                self.config.stash.setdefault(NOTES_KEY, []).append(
                    f"{threshold.task} {threshold.metric}[{group}]: {size} examples "
                    f"(< min_subgroup_n {threshold.min_subgroup_n}): reported, not gated"
                )


class ThresholdItem(GateItem):
    def __init__(self, *, threshold: MetricThreshold, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.threshold = threshold
        self.label = threshold.item_name

    def runtest(self) -> None:

        gate = self.config.stash[GATE_KEY]
        pending = self.config.stash.get(PENDING_KEY, [])
        while pending:
            category, message = pending.pop(0)
            warnings.warn(message, category, stacklevel=1)
        verdict = gate.judge(self.nodeid, self.threshold)
        self.user_properties.extend(_properties(verdict))
        for kind, message in verdict.caveats:
            warnings.warn(message, CAVEAT_WARNINGS[kind.value], stacklevel=1)
        if not verdict.passed:
            raise GateFailed(verdict.reason)


def _properties(verdict: Verdict) -> list[tuple[str, object]]:
    """JUnit properties: value, n and CI; baseline, delta, its CI and p when compared."""
    props: list[tuple[str, object]] = [("mlgate_status", verdict.status.value)]
    if verdict.value is not None:
        props += [("mlgate_value", verdict.value), ("mlgate_n", verdict.n)]
        if verdict.value_ci is not None:
            props += [
                ("mlgate_ci_low", verdict.value_ci[0]),
                ("mlgate_ci_high", verdict.value_ci[1]),
            ]
    c = verdict.comparison
    if c is not None:
        props += [
            ("mlgate_baseline_run", verdict.baseline_run),
            ("mlgate_baseline", c.baseline),
            ("mlgate_delta", c.delta),
            ("mlgate_delta_ci_low", c.ci[0]),
            ("mlgate_delta_ci_high", c.ci[1]),
            ("mlgate_p", c.p_value),
            ("mlgate_p_adjusted", verdict.p_adjusted),
            ("mlgate_test", c.test),
        ]
    return props


@pytest.hookimpl(wrapper=True)
def pytest_runtestloop(session: pytest.Session) -> Generator[None, object, object]:
    """Record the run after every item ran (never after Ctrl-C: the interrupt passes through
    here). A failed recording fails the session, pytest-cov style, instead of raising."""
    gate = session.config.stash.get(GATE_KEY, None)
    recording = gate is not None and session.config.getoption("mlgate_record")
    try:
        result = yield
    except (pytest.Session.Failed, pytest.Session.Interrupted):
        if recording and gate is not None:
            gate.messages.append("run NOT recorded: the session stopped early (-x / --maxfail)")
        raise
    if gate is None or session.config.option.collectonly or not gate.evaluator.leader:
        return result  # a data parallel rank other than 0 writes nothing
    if gate.evaluator.partial is not None:
        _write_partial(session, gate)
    elif recording:
        _record(session, gate)
    return result


def _write_partial(session: pytest.Session, gate: GateSession) -> None:
    k, n = gate.evaluator.partial or (0, 0)
    named = gate_options(session.config).partial or f"mlgate-shard-{k}-of-{n}.json"
    path = gate.plan.cwd / named
    gate.outputs_written = True  # a shard writes no reports: the merge does
    try:
        gate.messages.append(
            gate.write_partial(path, bool(session.config.getoption("mlgate_record")))
        )
    except MlgateError as exc:
        session.testsfailed += 1
        gate.messages.append(f"partial run NOT written: {exc}")


def _record(session: pytest.Session, gate: GateSession) -> None:
    """Record the run with its report files (written first, so a store that keeps them can),
    then register it when asked and it passed."""
    from pytest_mlgate.run.outputs import write_outputs

    attachments = write_outputs(gate) if gate.ran else {}
    try:
        run_id = gate.record(attachments)
    except RecordSpooled as exc:
        gate.messages.append(f"run NOT uploaded: {exc}")
        if gate.plan.register:
            gate.messages.append(f"not registered as {gate.plan.register}: the run is spooled")
        return
    except StoreError as exc:
        session.testsfailed += 1
        gate.messages.append(f"run NOT recorded: {exc}")
        return
    gate.messages.append(f"recorded run {run_id} in {gate.resolved.store.location}")
    if not gate.manifest().git.branch:
        gate.messages.append(
            "recorded without a branch name (detached checkout, unknown CI): no baseline "
            "lookup by branch will find it; set MLGATE_BRANCH"
        )
    if gate.plan.register is None:
        return
    if session.testsfailed or not gate.outcome().passed:
        gate.messages.append(f"not registered as {gate.plan.register}: the run did not pass")
        return
    try:
        gate.messages.append(gate.register())
    except MlgateError as exc:
        session.testsfailed += 1
        gate.messages.append(f"NOT registered as {gate.plan.register}: {exc}")


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    """Print the table of gated metrics (printing only: exit status comes from the items)."""
    if exitstatus == pytest.ExitCode.NO_TESTS_COLLECTED and eval_requested(config):
        terminalreporter.write_line(f"mlgate: {_nothing_gated(config)}")
    gate = config.stash.get(GATE_KEY, None)
    if gate is None or not (gate.ran or gate.messages):
        return
    from pytest_mlgate.report.terminal import verdict_table

    verdicts = gate.verdicts() if gate.ran else {}
    ran = [(item, verdicts[threshold]) for item, threshold in gate.ran.items()]
    terminalreporter.write_sep(
        "=", f"mlgate: suite {gate.plan.suite.suite.name}, {gate.resolved.checkpoint}"
    )
    trigger = gate.plan.suite.trigger
    if trigger is not None:
        terminalreporter.write_line(f"suite chosen by the trigger matrix: {trigger.reason}")
    baseline = gate.baseline.run_id if gate.baseline else "none recorded yet"
    terminalreporter.write_line(f"baseline: {baseline}")
    anchor = gate.resolved.anchor
    if anchor is not None:
        terminalreporter.write_line(f"anchor: {anchor.label} (run {anchor.outcome.run_id})")
    if gate.plan.reference is not None:
        terminalreporter.write_line(
            f"reference: {gate.plan.reference.location} ({gate.resolved.reference})"
        )
    for line in verdict_table(v for _, v in ran):
        terminalreporter.write_line(line)
    for item, verdict in ran:
        if verdict.status.value == "warn" or (verdict.notes and verdict.baseline_run):
            terminalreporter.write_line(f"{verdict.status.value.upper()} {item}: {verdict.reason}")
    notes = [*config.stash.get(NOTES_KEY, []), *gate.resolved.notes, *gate.messages]
    for message in notes:
        terminalreporter.write_line(f"mlgate: {message}")


def _nothing_gated(config: pytest.Config) -> str:
    """What ``-m eval`` looked for and where, when it ran nothing."""
    cfg = config.stash.get(CONFIG_KEY, None)
    named = config.getoption("mlgate_config") or config.getini("mlgate_config")
    search = None if named else search_config(config.invocation_params.dir, config.rootpath)
    gated = _gated_suite(config)
    empty = None
    if gated is not None and not gated[0].thresholds_for(gated[1].suite.all_tasks):
        empty = (gated[1].suite.name, gated[1].suite.all_tasks)
    given = config.args_source is pytest.Config.ArgsSource.ARGS
    paths = named_paths(config.args, config.invocation_params.dir) if given else []
    return nothing_gated(search, None if cfg is None else cfg.path, empty, paths)


def pytest_sessionfinish(session: pytest.Session) -> None:
    gate = session.config.stash.get(GATE_KEY, None)
    if gate is None:
        return
    if gate.ran and not gate.outputs_written and gate.evaluator.leader:
        from pytest_mlgate.run.outputs import write_outputs

        write_outputs(gate)
    gate.close()


def pytest_unconfigure(config: pytest.Config) -> None:
    gate = config.stash.get(GATE_KEY, None)
    if gate is not None:
        gate.close()
