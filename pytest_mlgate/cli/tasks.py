"""``mlgate tasks``: list the shipped tasks, or export them for lm_eval."""

from __future__ import annotations

import argparse
from pathlib import Path

from pytest_mlgate.cli.common import Commands, command
from pytest_mlgate.tasks import materialize_tasks, shipped_task_names


def run(args: argparse.Namespace) -> int:
    """List the shipped tasks, or write them with absolute data paths to ``--export``."""
    if args.export:
        dest = materialize_tasks(Path(args.export).resolve())
        print(f"wrote {', '.join(shipped_task_names())} to {dest}")
        print(f"use them with: lm_eval --include_path {dest} --tasks mlgate_tr_mc ...")
    else:
        print("\n".join(shipped_task_names()))
    return 0


def add_parser(commands: Commands) -> None:
    """Declare ``mlgate tasks [--export DIR]``."""
    tasks = command(commands, "tasks", "list the shipped tasks, or export them for lm_eval", run)
    tasks.add_argument("--export", metavar="DIR", help="write task YAMLs with absolute data paths")
