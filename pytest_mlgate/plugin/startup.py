"""Start-up wiring: options, the config file, the suite choice, the evaluator, the gate session."""

from __future__ import annotations

import contextlib
import signal
import sys
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from _pytest.mark.expression import Expression

if TYPE_CHECKING:
    from pytest_mlgate.backend import Progress
    from pytest_mlgate.run.evaluator import Evaluator
    from pytest_mlgate.run.plan import SuiteChoice
    from pytest_mlgate.run.session import GateSession

from pytest_mlgate.config.options import GateOptions
from pytest_mlgate.config.schema import DEFAULT_SUITE, MetricThreshold, MlgateConfig
from pytest_mlgate.errors import BackendError, ConfigError, PowerWarning, UsageProblem
from pytest_mlgate.plugin.fixtures import CONFIG_KEY
from pytest_mlgate.plugin.guards import named_paths, nothing_gated, search_config

MARKER = "eval"


CHOICE_KEY = pytest.StashKey["SuiteChoice"]()


SUITE_ERROR_KEY = pytest.StashKey[UsageProblem]()


EVALUATOR_KEY = pytest.StashKey["Evaluator"]()


SUBGROUPS_KEY = pytest.StashKey[dict[str, dict[str, int]]]()


NOTES_KEY = pytest.StashKey[list[str]]()  # what collection decided not to gate, and why


# Warnings met while the gate is set up (collection time), raised when the first item runs.
PENDING_KEY = pytest.StashKey[list[tuple[type[Warning], str]]]()


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
        metrics=config.getoption("mlgate_metrics"),
        wandb=config.getoption("mlgate_wandb"),
        store=config.getoption("mlgate_store"),
        baseline=config.getoption("mlgate_baseline"),
        no_cache=bool(config.getoption("mlgate_no_cache")),
        record=bool(config.getoption("mlgate_record")),
        register=config.getoption("mlgate_register"),
        register_stage=config.getoption("mlgate_register_stage"),
        card=config.getoption("mlgate_card"),
        shard=config.getoption("mlgate_shard"),
        partial=config.getoption("mlgate_partial"),
        sequential=config.getoption("mlgate_sequential"),
    )


def config_path(config: pytest.Config) -> tuple[Path, bool]:
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


def under_xdist(config: pytest.Config) -> bool:
    """Whether this run is a pytest-xdist controller or worker."""
    if hasattr(config, "workerinput"):
        return True
    processes = getattr(config.option, "numprocesses", None)
    return bool(processes) or getattr(config.option, "dist", "no") not in ("no", None)


def suite_choice(config: pytest.Config, cfg: MlgateConfig) -> SuiteChoice:
    """The suite this run gates, chosen once (``auto`` asks git what changed)."""
    if CHOICE_KEY not in config.stash:
        from pytest_mlgate.run.plan import choose_suite

        config.stash[CHOICE_KEY] = choose_suite(cfg, gate_options(config))
    return config.stash[CHOICE_KEY]


def gated_suite(config: pytest.Config) -> tuple[MlgateConfig, SuiteChoice] | None:
    """The config and suite whose thresholds become items, when -m could select them."""
    cfg = config.stash.get(CONFIG_KEY, None)
    if cfg is None or not eval_requested(config):
        return None  # plain `pytest`: no evaluation is collected at all
    try:
        return cfg, suite_choice(config, cfg)
    except ConfigError as exc:
        config.stash[SUITE_ERROR_KEY] = exc  # an error only if eval items end up selected
        return None


def interrupt_on_sigterm(config: pytest.Config) -> None:
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


def start_gate(
    config: pytest.Config,
    cfg: MlgateConfig,
    choice: SuiteChoice,
    thresholds: list[MetricThreshold],
    marker_tasks: list[tuple[str, ...]],
) -> GateSession:
    """Plan, resolve and preflight the gate of the selected eval items (no model loaded):
    ``thresholds`` are the selected threshold items', ``marker_tasks`` what each selected
    ``@pytest.mark.eval`` test asks for."""
    interrupt_on_sigterm(config)
    check_sequential(config, cfg, choice)
    from pytest_mlgate.run.plan import plan_gate
    from pytest_mlgate.run.resolve import resolve_gate
    from pytest_mlgate.run.session import GateSession

    plan = plan_gate(
        cfg,
        gate_options(config),
        suite=choice,
        thresholds=thresholds,
        marker_tasks=marker_tasks,
    )
    # Warnings met while collecting (an unreadable record, too little power) are raised when
    # the first gated item runs, before the eval: raised during collection, -W error would turn
    # them into an INTERNALERROR instead of a failed item.
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        resolved = resolve_gate(plan, store_plugins(config))
    pending = [(w.category, str(w.message)) for w in caught]
    pending += [(PowerWarning, message) for message in resolved.power_warnings]
    config.stash[PENDING_KEY] = pending
    evaluator = session_evaluator(config, cfg, choice)
    evaluator.batch = plan.tasks  # with the tasks the selected eval tests ask for
    if not evaluator.cached():  # a cache hit needs neither the model nor lm-eval's task index
        evaluator.backend().check(plan.tasks)
    reference = None
    if resolved.reference is not None:
        from pytest_mlgate.checkpoint import check_checkpoint
        from pytest_mlgate.run.evaluator import make_evaluator

        check_checkpoint(resolved.reference)
        reference = make_evaluator(
            cfg,
            resolved.reference,
            choice.suite,
            tuple(dict.fromkeys(t.task for t in plan.thresholds)),
            lambda spec: make_backend(config, spec),
            cache_folder=plan.cache,
            progress=terminal_progress(config),
        )
    return GateSession(resolved, evaluator, reference)


def session_evaluator(config: pytest.Config, cfg: MlgateConfig, choice: SuiteChoice) -> Evaluator:
    """The session's evaluator, made once: at collection when subgroup items need the data's
    subgroups, else when the gate starts."""
    if EVALUATOR_KEY not in config.stash:
        from pytest_mlgate.run.evaluator import make_evaluator
        from pytest_mlgate.run.plan import cache_folder, parse_shard
        from pytest_mlgate.run.resolve import candidate_location

        options = gate_options(config)
        checkpoint = candidate_location(cfg, options)
        group, shard = ranks(config, parse_shard(options.shard))
        config.stash[EVALUATOR_KEY] = make_evaluator(
            cfg,
            checkpoint,
            choice.suite,
            choice.suite.all_tasks,
            lambda spec: make_backend(config, spec),
            cache_folder=cache_folder(cfg, options) if group is None or group.leader else None,
            on_evaluated=lambda run: config.hook.pytest_mlgate_evaluated(run=run, config=config),
            progress=terminal_progress(config),
            shard=shard,
            group=group,
        )
    return config.stash[EVALUATOR_KEY]


def check_sequential(config: pytest.Config, cfg: MlgateConfig, choice: SuiteChoice) -> None:
    """Sequential gating asked for (suite or option) with ``--mlgate-shard``: a usage error
    at start-up, before anything is loaded."""
    from pytest_mlgate.config.options import sequential_looks

    try:
        sequential_looks(choice.suite, cfg.gate, gate_options(config))
    except ValueError as exc:
        raise pytest.UsageError(str(exc)) from None


def ranks(config: pytest.Config, shard: tuple[int, int] | None) -> tuple[Any, Any]:
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


def subgroup_counts(config: pytest.Config) -> dict[str, dict[str, int]]:
    """Per task, the size of each subgroup, for the thresholds that gate subgroups."""
    if SUBGROUPS_KEY not in config.stash:
        gated = gated_suite(config)
        assert gated is not None  # only asked while collecting an eval run's items
        cfg, choice = gated
        tasks = [t.task for t in cfg.thresholds_for(choice.suite.all_tasks) if t.gates_subgroups]
        try:
            config.stash[SUBGROUPS_KEY] = session_evaluator(config, cfg, choice).subgroup_counts(
                tasks
            )
        except UsageProblem as exc:
            raise pytest.UsageError(f"{type(exc).__name__}: {exc}") from None
    return config.stash[SUBGROUPS_KEY]


def terminal_progress(config: pytest.Config) -> Progress | None:
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


def store_plugins(config: pytest.Config) -> pytest.PytestPluginManager:
    """pytest's plugin manager with the built-in stores registered (consulted last). Registered
    only when the gate starts: the store package is not imported by a plain run."""
    from pytest_mlgate.store import builtin as builtin_store

    if not config.pluginmanager.is_registered(builtin_store):
        config.pluginmanager.register(builtin_store, "mlgate-builtin-store")
    return config.pluginmanager


def make_backend(config: pytest.Config, spec: Any) -> Any:
    """The backend the first plugin of ``pytest_mlgate_make_backend`` returns. The built-in
    backend is registered here, as the stores are (consulted last either way: it is
    ``trylast``), so a plain run imports no backend module."""
    from pytest_mlgate.backend import builtin as builtin_backend

    if not config.pluginmanager.is_registered(builtin_backend):
        config.pluginmanager.register(builtin_backend, "mlgate-builtin-backend")
    made = config.hook.pytest_mlgate_make_backend(spec=spec, config=config)
    if made is None:
        raise BackendError("no plugin returned a backend from pytest_mlgate_make_backend")
    return made


def nothing_gated_here(config: pytest.Config) -> str:
    """What ``-m eval`` looked for and where, when it ran nothing (exit 5)."""
    cfg = config.stash.get(CONFIG_KEY, None)
    named = config.getoption("mlgate_config") or config.getini("mlgate_config")
    search = None if named else search_config(config.invocation_params.dir, config.rootpath)
    gated = gated_suite(config)
    empty = None
    if gated is not None and not gated[0].thresholds_for(gated[1].suite.all_tasks):
        empty = (gated[1].suite.name, gated[1].suite.all_tasks)
    given = config.args_source is pytest.Config.ArgsSource.ARGS
    paths = named_paths(config.args, config.invocation_params.dir) if given else []
    return nothing_gated(search, None if cfg is None else cfg.path, empty, paths)
