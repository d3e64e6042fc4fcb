"""The ``mlgate`` command: demo, task export and config checks (reusing the plugin's modules)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from pytest_mlgate.config import DEFAULT_CONFIG_NAME, load_config
from pytest_mlgate.errors import MlgateError, UsageProblem
from pytest_mlgate.tasks import materialize_tasks, shipped_task_names

USAGE_ERROR = 4  # pytest's exit code for usage errors; the CLI uses the same


def _demo(args: argparse.Namespace) -> int:
    from pytest_mlgate import demo

    return demo.main(Path(args.dir).resolve(), rebuild=args.rebuild)


def _tasks(args: argparse.Namespace) -> int:
    if args.export:
        dest = materialize_tasks(Path(args.export).resolve())
        print(f"wrote {', '.join(shipped_task_names())} to {dest}")
        print(f"use them with: lm_eval --include_path {dest} --tasks mlgate_tr_mc ...")
    else:
        print("\n".join(shipped_task_names()))
    return 0


def _check(args: argparse.Namespace) -> int:
    config = load_config(Path(args.config))
    print(f"{config.path}: ok")
    for suite in config.suites.values():
        gated = config.thresholds_for(suite.tasks)
        sample = f", sample {suite.sample}" if suite.sample else ""
        print(f"  suite {suite.name}: {len(suite.tasks)} task(s), {len(gated)} gate(s){sample}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="mlgate", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    demo = commands.add_parser(
        "demo", help="build tiny demo checkpoints offline and run the gate on them end to end"
    )
    demo.add_argument("--dir", default="mlgate-demo", help="scratch repo (default: mlgate-demo)")
    demo.add_argument("--rebuild", action="store_true", help="retrain existing checkpoints")
    demo.set_defaults(run=_demo)

    tasks = commands.add_parser("tasks", help="list the shipped tasks, or export them for lm_eval")
    tasks.add_argument("--export", metavar="DIR", help="write task YAMLs with absolute data paths")
    tasks.set_defaults(run=_tasks)

    check = commands.add_parser("check", help="validate a thresholds.toml")
    check.add_argument("config", nargs="?", default=DEFAULT_CONFIG_NAME)
    check.set_defaults(run=_check)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        code: int = args.run(args)
    except UsageProblem as exc:
        print(f"mlgate: error: {exc}", file=sys.stderr)
        return USAGE_ERROR
    except MlgateError as exc:
        print(f"mlgate: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    return code


if __name__ == "__main__":
    sys.exit(main())
