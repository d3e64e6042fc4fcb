"""``mlgate history``: recorded runs, drift from an anchor, and copy / sync / publish."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from pytest_mlgate.cli.common import (
    USAGE_ERROR,
    Commands,
    command,
    config_or_none,
    history_plan,
    plugins,
    store_options,
)
from pytest_mlgate.config.options import add_options
from pytest_mlgate.config.schema import DEFAULT_CONFIG_NAME
from pytest_mlgate.errors import MlgateError
from pytest_mlgate.run.plan import HistoryPlan
from pytest_mlgate.store import HistoryStore


def run(args: argparse.Namespace) -> int:
    """List the recorded runs with their gated values, or run a history action."""
    import pandas as pd

    from pytest_mlgate.store.codec import encode_entry

    actions = {"copy": copy, "sync": sync, "publish": publish}
    if args.history_command in actions:
        return actions[args.history_command](args)
    plan, store = history_plan(args)
    if args.drift:
        return drift(args, plan, store)
    entries = [e for e in store.entries() if args.branch in (None, e.branch)]
    rows = []
    for entry in entries[-args.limit :] if args.limit else entries:
        row: dict[str, object] = encode_entry(entry)
        try:
            outcome = store.load(entry.run_id)
        except MlgateError:
            continue  # warned by the store
        for verdict in outcome.verdicts:
            row[f"{verdict.threshold.task}::{verdict.threshold.metric}"] = verdict.value
        rows.append(row)
    frame = pd.DataFrame(rows)
    if args.format == "csv":
        sys.stdout.write(frame.to_csv(index=False))
    elif args.format == "json":
        sys.stdout.write(frame.to_json(orient="records", indent=2) + "\n")
    elif frame.empty:
        print(f"no runs recorded in {store.location}")
    else:
        # a run recorded outside git (or before its first commit) names no branch / commit:
        # "-", never "None", even when no run of the table names one
        unnamed = [c for c in ("branch", "commit") if c in frame]
        frame[unnamed] = frame[unnamed].astype(object).where(frame[unnamed].notna(), "-")
        print(frame.to_string(index=False, na_rep="-", float_format=lambda v: f"{v:.4f}"))
    return 0


def drift(args: argparse.Namespace, history: HistoryPlan, store: HistoryStore) -> int:
    """Each gated metric's path on the baseline branch from the anchor to the latest run."""
    import pandas as pd

    from pytest_mlgate.run.resolve import find_anchor

    spec = args.anchor or history.settings.anchor
    if not spec:
        print(
            "mlgate: error: --drift needs --anchor RUN_ID|tag:PATTERN or [gate] anchor",
            file=sys.stderr,
        )
        return USAGE_ERROR
    branch = args.branch or history.baseline.branch
    anchor, why = find_anchor(store, spec, branch, Path.cwd())
    if anchor is None:
        print(f"mlgate: error: {why}", file=sys.stderr)
        return USAGE_ERROR
    start = store.get(anchor.outcome.run_id)
    later = [e for e in store.last(100_000, branch) if start is None or e.key > start.key]
    path = [anchor.outcome] + [o for o in (store.load(e.run_id) for e in later)]
    rows = []
    for outcome in path:
        row: dict[str, object] = {"run_id": outcome.run_id, "timestamp": outcome.manifest.timestamp}
        for verdict in anchor.outcome.verdicts:
            name = verdict.threshold.item_name
            now = next(
                (v.value for v in outcome.verdicts if v.threshold == verdict.threshold), None
            )
            row[name] = now
            if now is not None and verdict.value is not None:
                row[f"{name} Δpp"] = round((now - verdict.value) * 100, 2)
        rows.append(row)
    print(f"drift on {branch} from anchor {anchor.label} (run {anchor.outcome.run_id}):")
    print(pd.DataFrame(rows).to_string(index=False, na_rep="-", float_format=lambda v: f"{v:.4f}"))
    return 0


def copy(args: argparse.Namespace) -> int:
    """Every run of SRC that DST does not hold, oldest first, record for record."""
    from pytest_mlgate.run.plan import StoreSpec
    from pytest_mlgate.run.resolve import open_history

    config = config_or_none(args)
    experiment = args.experiment or (config.gate.experiment if config else "mlgate")
    hooks = plugins(args)
    source = open_history(StoreSpec(args.source, Path.cwd(), experiment), plugins=hooks)
    target = open_history(StoreSpec(args.target, Path.cwd(), experiment), plugins=hooks)
    copied = present = 0
    for entry in source.entries():
        if target.get(entry.run_id) is not None:
            present += 1
            continue
        target.append(source.load(entry.run_id))
        copied += 1
    print(
        f"copied {copied} run(s) from {source.location} to {target.location}"
        + (f"; {present} already there" if present else "")
    )
    return 0


def sync(args: argparse.Namespace) -> int:
    """Upload the spooled runs to the MLflow store, each exactly once."""
    from pytest_mlgate.store.mlflow.store import MlflowStore

    _, store = history_plan(args)
    if not isinstance(store, MlflowStore) or store.spool is None:
        print(
            f"mlgate: error: {store.location} is not an MLflow store: nothing to sync",
            file=sys.stderr,
        )
        return USAGE_ERROR
    pending = store.spool.pending()
    if not pending:
        print(f"nothing spooled in {store.spool.path}")
        return 0
    report = store.spool.sync(store)
    print(
        f"synced {store.spool.path} to {store.location}: {len(report.uploaded)} uploaded, "
        f"{len(report.already)} already there (removed from the spool), "
        f"{len(report.unreadable)} unreadable"
    )
    for problem in report.unreadable:
        print(f"mlgate: unreadable spooled run left in place: {problem}", file=sys.stderr)
    return 1 if report.unreadable else 0


def publish(args: argparse.Namespace) -> int:
    """Append the folder store's records to a git branch (fetch, merge the index, push, retry)."""
    from pytest_mlgate.store.folder import FolderStore
    from pytest_mlgate.store.publish import publish

    _, store = history_plan(args)
    if not isinstance(store, FolderStore):
        print(f"mlgate: error: {store.location} is not a folder store", file=sys.stderr)
        return USAGE_ERROR
    done = publish(store.path, args.git_branch, args.remote, Path.cwd(), retries=args.retries)
    if not done.added:
        print(f"nothing to publish: {args.git_branch} already holds every run of {store.path}")
    else:
        print(
            f"published {len(done.added)} run(s) to {args.git_branch} "
            f"({done.commit or '?'}) after {done.attempts} attempt(s): {', '.join(done.added)}"
        )
    return 0


def add_parser(commands: Commands) -> None:
    """Declare ``mlgate history`` and its ``copy``, ``sync`` and ``publish`` actions."""
    history = command(commands, "history", "list recorded runs and their gated values", run)
    store_options(history)
    history.add_argument("--branch", help="only runs recorded on this branch")
    history.add_argument("--limit", type=int, default=20, help="the last N runs (0: all)")
    history.add_argument("--format", choices=("table", "csv", "json"), default="table")
    history.add_argument(
        "--drift", action="store_true", help="each gated metric's path from the anchor to now"
    )
    history.add_argument(
        "--anchor",
        metavar="RUN_ID|tag:PATTERN|models:/NAME@ALIAS",
        help="the anchor (default: [gate] anchor)",
    )
    actions = history.add_subparsers(dest="history_command", metavar="{copy,sync,publish}")
    copy = actions.add_parser("copy", help="copy every run of one store into another")
    copy.add_argument("source", metavar="SRC", help="a folder or store URI (mlflow+..., file://)")
    copy.add_argument("target", metavar="DST", help="a folder or store URI")
    copy.add_argument("--experiment", help="the MLflow experiment (default: [gate] experiment)")
    add_options(copy.add_argument, "", ("config",))
    copy.set_defaults(config=DEFAULT_CONFIG_NAME)
    sync = actions.add_parser(
        "sync", help="upload the runs spooled while the MLflow server was unreachable"
    )
    store_options(sync)
    publish = actions.add_parser(
        "publish", help="append the folder store's runs to a git branch (safe when concurrent)"
    )
    store_options(publish)
    publish.add_argument("--git-branch", required=True, help="e.g. mlgate-history")
    publish.add_argument(
        "--remote", default="origin", help="a remote of this repository, or a URL (default: origin)"
    )
    publish.add_argument(
        "--retries", type=int, default=8, help="pushes retried after a rejection (default: 8)"
    )
