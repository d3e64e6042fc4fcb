"""pytest hooks only: options, markers, the threshold items, the terminal summary.

The nodes live in ``plugin.items``, the start-up wiring in ``plugin.startup``, the recording in
``plugin.recording``, the fixtures in ``plugin.fixtures``.

Importing this module must stay cheap: it is loaded in every pytest run of a repo that has the
plugin installed. Heavy work (lm-eval, torch) happens only when an eval item runs."""

from __future__ import annotations

from collections.abc import Generator, Iterator
from pathlib import Path
from typing import Any

import pytest
from _pytest.pathlib import bestrelpath

from pytest_mlgate import hookspec
from pytest_mlgate.config.load import load_config
from pytest_mlgate.config.options import DEFAULT_REPORT, add_options
from pytest_mlgate.config.schema import DEFAULT_SUITE
from pytest_mlgate.errors import ConfigError, MlgateWarning
from pytest_mlgate.plugin.fixtures import (
    CONFIG_KEY,
    GATE_KEY,
    mlgate_baseline,
    mlgate_eval,
    mlgate_model,
    mlgate_session,
)
from pytest_mlgate.plugin.guards import refusal_without_eval
from pytest_mlgate.plugin.items import ThresholdsFile, select_eval_items
from pytest_mlgate.plugin.startup import (
    MARKER,
    NOTES_KEY,
    config_path,
    eval_requested,
    gated_suite,
    nothing_gated_here,
    under_xdist,
)

__all__ = ["MlgateWarning", "mlgate_baseline", "mlgate_eval", "mlgate_model", "mlgate_session"]


def pytest_addhooks(pluginmanager: pytest.PytestPluginManager) -> None:
    """Declare the plugin's own hooks (``pytest_mlgate.hookspec``)."""
    pluginmanager.add_hookspecs(hookspec)


def pytest_addoption(parser: pytest.Parser) -> None:
    """Declare the ``--mlgate-*`` options and their ini defaults."""
    group = parser.getgroup("mlgate", "LLM eval regression gate (pytest-mlgate)")
    add_options(group.addoption, "mlgate-")
    parser.addini("mlgate_config", "default for --mlgate-config", default=None)
    parser.addini("mlgate_suite", "default for --mlgate-suite", default=DEFAULT_SUITE)
    parser.addini("mlgate_report", "default for --mlgate-report", default=DEFAULT_REPORT)


def pytest_configure(config: pytest.Config) -> None:
    """Register the marker; load and validate thresholds.toml (the built-in backend is registered
    when a gate first makes a backend: ``plugin.startup.make_backend``)."""
    config.addinivalue_line(
        "markers",
        f"{MARKER}(suite=None, tasks=()): an LLM evaluation test; runs only with -m eval "
        "(suite: the suite name(s) it belongs to; tasks: lm-eval tasks it reads via mlgate_eval)",
    )
    path, named = config_path(config)
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
        if eval_requested(config):  # before any evaluation: a wrong name would cost all of it
            from pytest_mlgate.config.preflight import check_thresholds  # task YAMLs: eval only

            check_thresholds(config.stash[CONFIG_KEY])
    except ConfigError as exc:
        raise pytest.UsageError(str(exc)) from None
    if eval_requested(config) and under_xdist(config):
        raise pytest.UsageError(
            "pytest -m eval cannot run under pytest-xdist (-n / --dist): every worker would "
            "load the model and evaluate again, and --mlgate-record would record the run once "
            "per worker. Run the eval items in one process (-n 0); unit tests can keep -n."
        )


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
        gated = gated_suite(config)
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
    if cfg is None or file_path != cfg.path or gated_suite(config) is None:
        return None
    made: ThresholdsFile = ThresholdsFile.from_parent(parent, path=file_path)
    return made


@pytest.hookimpl(wrapper=True)
def pytest_collection_modifyitems(
    config: pytest.Config, items: list[pytest.Item]
) -> Iterator[None]:
    """After -m / -k have selected: drop eval items a plain run must not run; set up the gate."""
    result = yield
    select_eval_items(config, items)
    return result


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
    from pytest_mlgate.plugin.recording import record, write_partial  # a gated run only

    if gate.evaluator.partial is not None:
        write_partial(session, gate)
    elif recording:
        record(session, gate)
    return result


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    """Print the table of gated metrics (printing only: exit status comes from the items)."""
    if exitstatus == pytest.ExitCode.NO_TESTS_COLLECTED and eval_requested(config):
        terminalreporter.write_line(f"mlgate: {nothing_gated_here(config)}")
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


def pytest_sessionfinish(session: pytest.Session) -> None:
    """Write the reports of what ran (unless recording wrote them) and release the model."""
    gate = session.config.stash.get(GATE_KEY, None)
    if gate is None:
        return
    if gate.ran and not gate.outputs_written and gate.evaluator.leader:
        from pytest_mlgate.run.outputs import write_outputs

        write_outputs(gate)
    gate.close()


def pytest_unconfigure(config: pytest.Config) -> None:
    """Release the model if the session did not (a usage error after start-up)."""
    gate = config.stash.get(GATE_KEY, None)
    if gate is not None:
        gate.close()
