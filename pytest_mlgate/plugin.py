"""pytest hooks only: options, markers, the threshold items, the terminal summary.

Importing this module must stay cheap: it is loaded in every pytest run of a repo that has the
plugin installed. Heavy work (lm-eval, torch) happens only when an eval item runs.
"""

from __future__ import annotations

import math
import os
import warnings
from collections.abc import Generator, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from _pytest.mark.expression import Expression
from _pytest.pathlib import bestrelpath

if TYPE_CHECKING:  # loaded only when eval items are selected: a plain run never pays for them
    from pytest_mlgate.gate import Verdict
    from pytest_mlgate.session import GateSession
    from pytest_mlgate.triggers import Plan

from pytest_mlgate import backend as builtin_backend
from pytest_mlgate import hookspec
from pytest_mlgate.config import (
    DEFAULT_CONFIG_NAME,
    MetricThreshold,
    MlgateConfig,
    SuiteConfig,
    load_config,
)
from pytest_mlgate.errors import (
    BackendError,
    ConfigError,
    MlgateWarning,
    StoreError,
    UsageProblem,
)
from pytest_mlgate.fixtures import (
    CONFIG_KEY,
    GATE_KEY,
    mlgate_baseline,
    mlgate_eval,
    mlgate_model,
    mlgate_session,
)

__all__ = ["MlgateWarning", "mlgate_baseline", "mlgate_eval", "mlgate_model", "mlgate_session"]

MARKER = "eval"
PLAN_KEY: pytest.StashKey[Plan] = pytest.StashKey()
SUITE_ERROR_KEY = pytest.StashKey[UsageProblem]()


def pytest_addhooks(pluginmanager: pytest.PytestPluginManager) -> None:
    pluginmanager.add_hookspecs(hookspec)


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("mlgate", "LLM eval regression gate (pytest-mlgate)")
    group.addoption(
        "--mlgate-config",
        metavar="PATH",
        help=f"the gate's config file (default: {DEFAULT_CONFIG_NAME} at the rootdir)",
    )
    group.addoption(
        "--mlgate-checkpoint",
        metavar="PATH_OR_ID",
        help="checkpoint to evaluate (overrides $MLGATE_CHECKPOINT and [model] checkpoint)",
    )
    group.addoption(
        "--mlgate-suite",
        metavar="NAME|auto",
        help="which [suites.NAME] to run with -m eval (default: fast); auto: the trigger matrix "
        "picks it from what changed since --mlgate-changed-from",
    )
    group.addoption(
        "--mlgate-changed-from",
        metavar="REF",
        help="git ref whose merge base with HEAD the changes are counted from (for auto)",
    )
    group.addoption(
        "--mlgate-report",
        metavar="PATH",
        help="where -m eval writes the HTML report (default: mlgate-report.html; '' for none)",
    )
    group.addoption("--mlgate-json", metavar="PATH", help="write results and verdicts as JSON")
    group.addoption(
        "--mlgate-markdown",
        metavar="PATH",
        help="write the Markdown summary (for a PR comment); it is also appended to "
        "$GITHUB_STEP_SUMMARY when that is set",
    )
    group.addoption(
        "--mlgate-store",
        metavar="PATH_OR_URI",
        help="the run history: a folder or file:// URI (default: [gate] store, .mlgate)",
    )
    group.addoption(
        "--mlgate-baseline",
        metavar="BRANCH_OR_RUN_ID",
        help="compare with this recorded run, or the latest on this branch "
        "(default: the latest run on [gate] baseline)",
    )
    group.addoption(
        "--mlgate-no-cache",
        action="store_true",
        help="evaluate even when the result cache holds this exact evaluation (and store nothing)",
    )
    group.addoption(
        "--mlgate-record",
        action="store_true",
        help="append this run (results, per-example scores, manifest) to the history",
    )
    parser.addini("mlgate_config", "default for --mlgate-config", default=None)
    parser.addini("mlgate_suite", "default for --mlgate-suite", default="fast")
    parser.addini("mlgate_report", "default for --mlgate-report", default="mlgate-report.html")


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
    """The repo's thresholds.toml: from the invocation dir up to the repo root or rootdir.

    Not the rootdir alone: pytest moves the rootdir to the common ancestor of every path-like
    argument, option values included (``--mlgate-checkpoint /models/x``).
    """
    start = start.resolve()
    for folder in (start, *start.parents):
        candidate = folder / DEFAULT_CONFIG_NAME
        if candidate.is_file():
            return candidate
        if folder == rootpath or (folder / ".git").exists():
            break
    return rootpath / DEFAULT_CONFIG_NAME


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        f"{MARKER}(suite=None, tasks=()): an LLM evaluation test; runs only with -m eval "
        "(suite: the suite name(s) it belongs to; tasks: lm-eval tasks it reads via mlgate_eval)",
    )
    config.pluginmanager.register(builtin_backend, "mlgate-builtin-backend")
    if config.getoption("mlgate_record") and not eval_requested(config):
        raise pytest.UsageError("--mlgate-record records an eval run: add -m eval")
    path, named = _config_path(config)
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


def _suite_name(config: pytest.Config) -> str:
    return str(config.getoption("mlgate_suite") or config.getini("mlgate_suite") or "fast")


def _resolve_suite(config: pytest.Config, cfg: MlgateConfig) -> SuiteConfig:
    """The named suite, or for ``auto`` the one the trigger matrix picks (decided once)."""
    name = _suite_name(config)
    if name != "auto":
        return cfg.suite(name)
    if PLAN_KEY not in config.stash:
        from pytest_mlgate.triggers import GitError, changed_paths, plan

        ref = config.getoption("mlgate_changed_from")
        if not ref:
            raise ConfigError(
                "--mlgate-suite auto needs --mlgate-changed-from REF (e.g. origin/main)"
            )
        try:
            changed = changed_paths(ref, cfg.root)
        except GitError as exc:
            raise ConfigError(f"--mlgate-changed-from {ref}: {exc}") from None
        config.stash[PLAN_KEY] = plan(changed, cfg.triggers, list(cfg.suites))
    return cfg.suite(config.stash[PLAN_KEY].suite)


def _gated_suite(config: pytest.Config) -> tuple[MlgateConfig, SuiteConfig] | None:
    """The config and suite whose thresholds become items, when -m could select them."""
    cfg = config.stash.get(CONFIG_KEY, None)
    if cfg is None or not eval_requested(config):
        return None  # plain `pytest`: no evaluation is collected at all
    try:
        return cfg, _resolve_suite(config, cfg)
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
    if SUITE_ERROR_KEY in config.stash:
        raise pytest.UsageError(str(config.stash[SUITE_ERROR_KEY]))
    suite = _resolve_suite(config, cfg)
    other_suite = [i for i in evals if (s := _marker_suites(i)) is not None and suite.name not in s]
    if other_suite:
        _deselect(config, items, other_suite)
        evals = [i for i in evals if i not in other_suite]
    if not evals:
        return
    from pytest_mlgate.session import GateSession, needed_tasks, resolve_checkpoint

    try:
        checkpoint = resolve_checkpoint(
            config.getoption("mlgate_checkpoint"), cfg, config.invocation_params.dir
        )
        gate = GateSession(
            config=cfg,
            suite=suite,
            checkpoint=checkpoint,
            make_backend=lambda spec: _make_backend(config, spec),
            on_evaluated=lambda run: config.hook.pytest_mlgate_evaluated(run=run, config=config),
            needed_tasks=needed_tasks(suite, [_marker_tasks(i) for i in evals]),
        )
        gate.thresholds = tuple(i.threshold for i in evals if isinstance(i, ThresholdItem))
        gate.cwd = config.invocation_params.dir
        _attach_history(config, cfg, gate)
        use_cache = cfg.gate.cache and not config.getoption("mlgate_no_cache")
        if use_cache and getattr(gate.backend(), "cacheable", False):
            from pytest_mlgate.cache import ResultCache

            gate.cache = ResultCache((cfg.root / cfg.gate.cache).resolve())
        if not gate.cached():  # a cache hit needs neither the model nor lm-eval's task index
            gate.backend().check(gate.needed_tasks)
    except UsageProblem as exc:
        raise pytest.UsageError(f"{type(exc).__name__}: {exc}") from None
    config.stash[GATE_KEY] = gate


def _attach_history(config: pytest.Config, cfg: MlgateConfig, gate: GateSession) -> None:
    """Open the store, check it can take a record, find the baseline, warn about power."""
    from pytest_mlgate.gate import power_warnings
    from pytest_mlgate.session import baseline_discordance, resolve_baseline
    from pytest_mlgate.store import open_store

    option = config.getoption("mlgate_store")
    root = config.invocation_params.dir if option else cfg.root
    try:
        gate.store = open_store(option or cfg.gate.store, root)
    except StoreError as exc:
        raise ConfigError(str(exc)) from None
    if config.getoption("mlgate_record"):
        _check_writable(Path(gate.store.location))
    wanted = config.getoption("mlgate_baseline")
    # Warnings met while collecting (an unreadable record, too little power) are raised when
    # the first gated item runs, before the eval: raised during collection, -W error would turn
    # them into an INTERNALERROR instead of a failed item.
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            gate.baseline = resolve_baseline(
                gate.store, wanted, cfg.gate.baseline, {t.task for t in gate.thresholds}
            )
        except StoreError as exc:
            raise ConfigError(f"--mlgate-baseline: {exc}" if wanted else str(exc)) from None
        if gate.baseline is not None:
            flips = baseline_discordance(gate.store, gate.baseline)
            for message in power_warnings(gate.thresholds, gate.baseline, cfg.gate, flips):
                warnings.warn(message, MlgateWarning, stacklevel=1)
    gate.pending_warnings.extend(str(w.message) for w in caught)


def _check_writable(folder: Path) -> None:
    """--mlgate-record into a folder that cannot take it is a usage error before any eval."""
    existing = folder
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not os.access(existing, os.W_OK) or not existing.is_dir():
        raise ConfigError(
            f"--mlgate-record: the history store {folder} is not writable "
            f"({existing} {'is not a folder' if not existing.is_dir() else 'is read-only'})"
        )


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
        cfg, suite = gated
        thresholds = cfg.thresholds_for(suite.tasks)
        for task in dict.fromkeys(t.task for t in thresholds):
            mine = tuple(t for t in thresholds if t.task == task)
            yield ThresholdTask.from_parent(self, name=task, thresholds=mine)


class ThresholdTask(pytest.Collector):
    def __init__(self, *, thresholds: tuple[MetricThreshold, ...], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.thresholds = thresholds

    def collect(self) -> Iterator[pytest.Item]:
        for threshold in self.thresholds:
            yield ThresholdItem.from_parent(self, name=threshold.metric, threshold=threshold)


class ThresholdItem(pytest.Item):
    def __init__(self, *, threshold: MetricThreshold, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.threshold = threshold
        self.add_marker(MARKER)

    def runtest(self) -> None:
        from pytest_mlgate.gate import Status

        gate = self.config.stash[GATE_KEY]
        while gate.pending_warnings:
            warnings.warn(gate.pending_warnings.pop(0), MlgateWarning, stacklevel=1)
        verdict = gate.judge()[self.threshold]
        gate.record(self.nodeid, verdict)
        self.user_properties.extend(_properties(verdict))
        if verdict.status is Status.WARN:
            warnings.warn(verdict.reason, MlgateWarning, stacklevel=1)
        if not verdict.passed:
            raise GateFailed(verdict.reason)

    def repr_failure(
        self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None
    ) -> str | Any:
        if isinstance(excinfo.value, GateFailed):
            return str(excinfo.value)
        return super().repr_failure(excinfo, style=style)

    def reportinfo(self) -> tuple[Path, int | None, str]:
        return self.path, None, self.threshold.item_name


def _properties(verdict: Verdict) -> list[tuple[str, object]]:
    """JUnit properties: value, n and CI; baseline, delta, its CI and p when compared."""
    props: list[tuple[str, object]] = [("mlgate_status", verdict.status.value)]
    if verdict.metric is not None:
        low, high = verdict.metric.ci()
        props += [("mlgate_value", verdict.metric.value), ("mlgate_n", verdict.metric.n)]
        if not math.isnan(low):
            props += [("mlgate_ci_low", low), ("mlgate_ci_high", high)]
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
    if recording and gate is not None and not session.config.option.collectonly:
        try:
            run_id = gate.record_run()
        except StoreError as exc:
            session.testsfailed += 1
            gate.messages.append(f"run NOT recorded: {exc}")
        else:
            assert gate.store is not None
            gate.messages.append(f"recorded run {run_id} in {gate.store.location}")
            if not (gate.manifest().get("git") or {}).get("branch"):
                gate.messages.append(
                    "recorded without a branch name (detached checkout, unknown CI): no baseline "
                    "lookup by branch will find it; set MLGATE_BRANCH"
                )
    return result


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    """Print the table of gated metrics (printing only: exit status comes from the items)."""
    gate = config.stash.get(GATE_KEY, None)
    if gate is None or not (gate.verdicts or gate.messages):
        return
    from pytest_mlgate.report.terminal import verdict_table

    terminalreporter.write_sep("=", f"mlgate: suite {gate.suite.name}, {gate.checkpoint}")
    if PLAN_KEY in config.stash:
        terminalreporter.write_line(
            f"suite chosen by the trigger matrix: {config.stash[PLAN_KEY].reason}"
        )
    baseline = gate.baseline.run_id if gate.baseline else "none recorded yet"
    terminalreporter.write_line(f"baseline: {baseline}")
    for line in verdict_table(gate.verdicts.values()):
        terminalreporter.write_line(line)
    for item, verdict in gate.verdicts.items():
        if verdict.status.value == "warn" or (verdict.notes and verdict.baseline_run):
            terminalreporter.write_line(f"{verdict.status.value.upper()} {item}: {verdict.reason}")
    for message in gate.messages:
        terminalreporter.write_line(f"mlgate: {message}")


def pytest_sessionfinish(session: pytest.Session) -> None:
    config = session.config
    gate = config.stash.get(GATE_KEY, None)
    if gate is None:
        return
    if gate.verdicts:
        _write_outputs(config, gate)
    gate.close()


def _write_outputs(config: pytest.Config, gate: GateSession) -> None:
    base = config.invocation_params.dir
    json_path = config.getoption("mlgate_json")
    if json_path:
        from pytest_mlgate.report.json_report import write_json

        write_json(base / json_path, gate)
    report = config.getoption("mlgate_report")
    report = config.getini("mlgate_report") if report is None else report
    data = gate.report_input()
    if report:
        from pytest_mlgate.report.html import write_html

        write_html(base / str(report), data)
    from pytest_mlgate.report.markdown import render_markdown, write_markdown

    markdown = config.getoption("mlgate_markdown")
    text = render_markdown(
        data.verdicts,
        suite=data.suite,
        checkpoint=data.checkpoint,
        run_id=data.run_id,
        baseline=None if data.baseline is None else data.baseline.run_id,
        report_hint=str(report) if report else "the JSON output",
    )
    write_markdown(text, base / markdown if markdown else None)


def pytest_unconfigure(config: pytest.Config) -> None:
    gate = config.stash.get(GATE_KEY, None)
    if gate is not None:
        gate.close()
