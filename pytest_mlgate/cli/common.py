"""What every ``mlgate`` command shares: usage exit code, store options, history plan."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pytest_mlgate.config.load import load_config
from pytest_mlgate.config.options import GateOptions, add_options
from pytest_mlgate.config.schema import DEFAULT_CONFIG_NAME, MlgateConfig
from pytest_mlgate.run.plan import HistoryPlan
from pytest_mlgate.store import HistoryStore

if TYPE_CHECKING:
    import pluggy

USAGE_ERROR = 4  # pytest's exit code for usage errors; the CLI uses the same


Commands = Any  # argparse's subparsers action (its class is private)


def command(
    commands: Commands, name: str, help: str, handler: Callable[[argparse.Namespace], int]
) -> argparse.ArgumentParser:
    """Add subcommand ``name`` to ``commands``, run by ``handler``; returns its parser."""
    parser: argparse.ArgumentParser = commands.add_parser(name, help=help)
    parser.set_defaults(handler=handler)
    return parser


def store_options(command: argparse.ArgumentParser) -> None:
    """Add --config and --store, declared as the plugin declares --mlgate-config/-store."""
    add_options(command.add_argument, "", ("config", "store"))
    command.set_defaults(config=DEFAULT_CONFIG_NAME)


def config_or_none(args: argparse.Namespace) -> MlgateConfig | None:
    """--config when the file exists (or was named): a history can be read without one."""
    path = Path(args.config)
    if path.is_file() or args.config != DEFAULT_CONFIG_NAME:
        return load_config(path)
    return None


def plugins(args: argparse.Namespace) -> pluggy.PluginManager:
    """The command's plugin manager (pytest11 plugins, the rootdir's conftest.py, the built-in
    backend and stores), loaded once per command, only by the commands that call a hook."""
    loaded: pluggy.PluginManager | None = getattr(args, "plugin_manager", None)
    if loaded is None:
        from pytest_mlgate.cli.plugins import find_rootdir, load_plugins

        loaded = load_plugins(find_rootdir(Path.cwd()))
        args.plugin_manager = loaded
    return loaded


def history_plan(args: argparse.Namespace) -> tuple[HistoryPlan, HistoryStore]:
    """The plan's history part (store, baseline spec, settings) and the opened store (made
    through the ``pytest_mlgate_make_store`` hook)."""
    from pytest_mlgate.run.plan import plan_history
    from pytest_mlgate.run.resolve import open_history

    options = GateOptions(cwd=Path.cwd(), store=args.store)
    history = plan_history(config_or_none(args), options)
    return history, open_history(history.store, plugins=plugins(args))


def positive(text: str) -> int:
    """An argparse type: an integer >= 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value} must be >= 1")
    return value


def unit_interval(text: str) -> float:
    """An argparse type: a float strictly between 0 and 1."""
    value = float(text)
    if not 0 < value < 1:
        raise argparse.ArgumentTypeError(f"{text} is not in (0, 1)")
    return value
