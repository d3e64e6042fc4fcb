"""``mlgate comment``: the Markdown summary posted on the PR a workflow_run event names."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from pytest_mlgate.cli.common import USAGE_ERROR, Commands, command


def run(args: argparse.Namespace) -> int:
    """Post the summary on the PR of a workflow_run event (see pytest_mlgate.report.comment)."""
    from pytest_mlgate.report.comment import GitHub, load_event, post_summary

    repo = args.repo or os.environ.get("GITHUB_REPOSITORY", "")
    if not repo:
        print("mlgate: error: --repo OWNER/NAME or GITHUB_REPOSITORY is needed", file=sys.stderr)
        return USAGE_ERROR
    posted = post_summary(
        load_event(args.event), Path(args.summary), GitHub(repo, args.gh), args.author
    )
    print(f"mlgate comment: {posted.message}")
    return 0


def add_parser(commands: Commands) -> None:
    """Declare ``mlgate comment [--event] [--summary] [--repo] [--gh] [--author]``."""
    comment = command(
        commands,
        "comment",
        "post the Markdown summary on the PR a workflow_run event names (the comment workflow)",
        run,
    )
    comment.add_argument("--event", help="the event JSON (default: $GITHUB_EVENT_PATH)")
    comment.add_argument(
        "--summary", default="mlgate-summary.md", help="the downloaded Markdown summary"
    )
    comment.add_argument("--repo", help="OWNER/NAME (default: $GITHUB_REPOSITORY)")
    comment.add_argument("--gh", default="gh", help="the gh executable (default: gh)")
    comment.add_argument(
        "--author",
        default="github-actions[bot]",
        help="the login the token comments as; only its marked comments are edited",
    )
