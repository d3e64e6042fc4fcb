"""``mlgate plan``: which suite the trigger matrix picks for the changes since a ref, and why."""

from __future__ import annotations

import argparse
from pathlib import Path

from pytest_mlgate.cli.common import Commands, command
from pytest_mlgate.config.load import load_config
from pytest_mlgate.config.options import GateOptions, add_options
from pytest_mlgate.config.schema import DEFAULT_CONFIG_NAME


def run(args: argparse.Namespace) -> int:
    """Which suite the trigger matrix picks for the changes since REF, and why."""
    from pytest_mlgate.run.plan import choose_suite

    config = load_config(Path(args.config))
    options = GateOptions(cwd=Path.cwd(), suite="auto", changed_from=args.changed_from)
    trigger = choose_suite(config, options).trigger
    assert trigger is not None  # auto always asks the trigger matrix
    print(trigger.suite if args.format == "name" else trigger.explain())
    return 0


def add_parser(commands: Commands) -> None:
    """Declare ``mlgate plan --changed-from REF [--format explain|name] [--config]``."""
    plan = command(commands, "plan", "which suite the trigger matrix picks, and why", run)
    plan.add_argument("--changed-from", required=True, metavar="REF", help="e.g. origin/main")
    plan.add_argument(
        "--format",
        choices=("explain", "name"),
        default="explain",
        help="name: print only the suite's name (for a workflow step)",
    )
    add_options(plan.add_argument, "", ("config",))
    plan.set_defaults(config=DEFAULT_CONFIG_NAME)
