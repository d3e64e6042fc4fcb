"""``mlgate reproduce RUN_ID``: a recorded run evaluated again as it was made and compared with
its record document by document (exit 0 identical, 1 changed, 4 not reproducible as recorded)."""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path
from typing import TYPE_CHECKING

from pytest_mlgate.cli.common import Commands, command, history_plan, store_options

if TYPE_CHECKING:
    from pytest_mlgate.run.reproduce import Reproduction

SHOWN = 20  #: differing documents printed (all of them go to --json)


def run(args: argparse.Namespace) -> int:
    """Reproduce RUN_ID and say what differs."""
    from pytest_mlgate.atomic import write_atomic
    from pytest_mlgate.cli.demo import offline_env
    from pytest_mlgate.config.load import load_config
    from pytest_mlgate.run.reproduce import reproduce

    os.environ.update({k: v for k, v in offline_env().items() if k.endswith("_OFFLINE")})
    _, store = history_plan(args)
    recorded = store.load(args.run_id)
    config = load_config(Path(args.config))
    found = reproduce(
        config,
        recorded,
        args.checkpoint,
        allow_version_drift=args.allow_version_drift,
        tolerance=args.tolerance,
    )
    for note in found.notes:
        print(f"mlgate: note: {note}")
    for problem in found.problems:
        print(f"NOT REPRODUCIBLE: {problem}")
    if found.documents or found.problems:
        print(found.summary())
    for diff in found.differences[:SHOWN]:
        now = "not evaluated" if diff.now is None else f"{diff.now:g}"
        print(
            f"  {diff.task} {diff.metric} doc {diff.doc_id}: recorded {diff.recorded:g}, now {now}"
        )
    if len(found.differences) > SHOWN:
        print(f"  … {len(found.differences) - SHOWN} more (all in --json)")
    if args.json:
        write_atomic(Path(args.json), json.dumps(document(found), indent=2) + "\n")
    return found.exit_code


def document(found: Reproduction) -> dict[str, object]:
    """The comparison as JSON (``--json``): every field, the exit code and the summary line."""
    from dataclasses import asdict

    return {**asdict(found), "exit_code": found.exit_code, "summary": found.summary()}


def add_parser(commands: Commands) -> None:
    """Declare ``mlgate reproduce RUN_ID [--checkpoint PATH] [--allow-version-drift]
    [--tolerance X] [--json PATH] [--config] [--store]``."""
    reproduce = command(
        commands,
        "reproduce",
        "evaluate a recorded run again as it was made and compare it document by document",
        run,
    )
    store_options(reproduce)
    reproduce.add_argument("run_id", metavar="RUN_ID", help="the recorded run")
    reproduce.add_argument(
        "--checkpoint", metavar="PATH", help="a local copy of the checkpoint's recorded bytes"
    )
    reproduce.add_argument(
        "--allow-version-drift",
        action="store_true",
        help="reproduce even when torch / transformers / lm-eval / pytest-mlgate differ from the "
        "recorded versions (each difference is still named)",
    )
    reproduce.add_argument(
        "--tolerance",
        type=float,
        default=0.0,
        metavar="X",
        help="a per-example score within X of the recorded one counts as identical (default 0)",
    )
    reproduce.add_argument("--json", metavar="PATH", help="write the comparison as JSON")
