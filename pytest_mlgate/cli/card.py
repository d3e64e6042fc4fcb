"""``mlgate card RUN_ID --checkpoint DIR``: a recorded run written into the checkpoint's model
card (``DIR/README.md``)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from pytest_mlgate.cli.common import USAGE_ERROR, Commands, command, history_plan, store_options


def run(args: argparse.Namespace) -> int:
    """Write the run's results into the card of the checkpoint it evaluated."""
    from pytest_mlgate.run.card import check_checkpoint, write_card

    _, store = history_plan(args)
    outcome = store.load(args.run_id)
    folder = Path(args.checkpoint)
    if not folder.is_dir():
        print(f"mlgate: error: --checkpoint {folder}: not a folder", file=sys.stderr)
        return USAGE_ERROR
    if not args.any_checkpoint:
        check_checkpoint(folder, outcome)
    if not outcome.passed and not args.allow_failed:
        print(
            f"mlgate: run {args.run_id} did not pass its gate; pass --allow-failed to put its "
            "results on the card anyway",
            file=sys.stderr,
        )
        return 1
    print(write_card(folder, outcome))
    return 0


def add_parser(commands: Commands) -> None:
    """Declare ``mlgate card RUN_ID --checkpoint DIR [--allow-failed] [--config] [--store]``."""
    card = command(
        commands,
        "card",
        "write a recorded run's results into the checkpoint's model card (DIR/README.md)",
        run,
    )
    store_options(card)
    card.add_argument("run_id", metavar="RUN_ID", help="the recorded run")
    card.add_argument(
        "--checkpoint", required=True, metavar="DIR", help="the checkpoint folder the run evaluated"
    )
    card.add_argument(
        "--allow-failed", action="store_true", help="write the card for a run that did not pass"
    )
    card.add_argument(
        "--any-checkpoint",
        action="store_true",
        help="write it even when DIR's fingerprint is not the one the run recorded",
    )
