"""The ``mlgate`` command: ``demo``, ``tasks``, ``check``, ``init``, ``pin``, ``plan``,
``prompts``, ``history``, ``compare``, ``report``, ``power``, ``merge``, ``comment``,
``card`` and ``reproduce``. It reuses the plugin's option definitions, plan, store, gate and
renderers: a history read here is read exactly as the gate reads it.

Each command lives in its own module of ``pytest_mlgate.cli``, its parser beside its handler; a
new command is one new module and one line in ``COMMANDS``."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence

from pytest_mlgate.cli import (
    card,
    check,
    comment,
    compare,
    demo,
    history,
    init,
    merge,
    pin,
    plan,
    power,
    prompts,
    report,
    reproduce,
    tasks,
)
from pytest_mlgate.cli.common import USAGE_ERROR, Commands
from pytest_mlgate.errors import MlgateError, StoreError, UsageProblem

# Every subcommand's parser-building function, in the order ``mlgate --help`` lists them.
COMMANDS: tuple[Callable[[Commands], None], ...] = (
    demo.add_parser,
    tasks.add_parser,
    check.add_parser,
    init.add_parser,
    pin.add_parser,
    prompts.add_parser,
    plan.add_parser,
    history.add_parser,
    compare.add_parser,
    report.add_parser,
    power.add_parser,
    merge.add_parser,
    comment.add_parser,
    card.add_parser,
    reproduce.add_parser,
)


def build_parser() -> argparse.ArgumentParser:
    """The ``mlgate`` parser with every registered subcommand."""
    parser = argparse.ArgumentParser(prog="mlgate", description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    for add_parser in COMMANDS:
        add_parser(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``mlgate ARGV``; the exit code: 0 passed, 1 a gate failed or a run broke, 4 usage."""
    args = build_parser().parse_args(argv)
    try:
        code: int = args.handler(args)
    except (UsageProblem, StoreError) as exc:
        print(f"mlgate: error: {exc}", file=sys.stderr)
        return USAGE_ERROR
    except MlgateError as exc:
        print(f"mlgate: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    return code


if __name__ == "__main__":
    sys.exit(main())
