"""``mlgate merge``: the shards' partial runs joined and gated as one run."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from pytest_mlgate.cli.common import Commands, command, plugins, store_options
from pytest_mlgate.config.load import load_config
from pytest_mlgate.config.options import GateOptions, add_options
from pytest_mlgate.errors import ConfigError


def run(args: argparse.Namespace) -> int:
    """Join the shards' partial runs and gate them as one run."""
    from pytest_mlgate.gate.verdicts import Status
    from pytest_mlgate.report.terminal import verdict_table
    from pytest_mlgate.run import merge
    from pytest_mlgate.run.evaluator import make_evaluator
    from pytest_mlgate.run.outputs import write_outputs
    from pytest_mlgate.run.plan import SuiteChoice, plan_gate
    from pytest_mlgate.run.resolve import resolve_gate
    from pytest_mlgate.run.session import Evaluated, GateSession

    partials = merge.load_partials([Path(p) for p in args.partials])
    merge.check_shards(partials)
    run, manifest = merge.join([o for _, o in partials])
    config = load_config(Path(args.config))
    suite = config.suite(manifest.suite.name)
    options = GateOptions(
        cwd=Path.cwd(),
        config=args.config,
        checkpoint=manifest.checkpoint.id or None,
        store=args.store,
        baseline=args.baseline,
        report=args.report,
        json=args.json,
        markdown=args.markdown,
        metrics=args.metrics,
        wandb=args.wandb,
        record=args.record,
    )
    thresholds = merge.gated_thresholds(config, suite, run)
    plan = plan_gate(config, options, suite=SuiteChoice(suite), thresholds=thresholds)
    resolved = resolve_gate(plan, plugins(args))
    evaluator = make_evaluator(
        config, resolved.checkpoint, suite, plan.tasks, lambda spec: merge.Joined(run)
    )
    # What the shards evaluated, as a session's first stage: no determinism or latency (each
    # shard saw a part of the documents; only an unsharded run measures them).
    missing = [t for t in plan.tasks if t not in run]
    evaluated = Evaluated(
        run.subset([t for t in plan.tasks if t in run]),
        determinism={},
        latency=None
        if suite.latency is None
        else "not measured: measured only by an unsharded run",
        failure=ConfigError(f"the shards did not evaluate {', '.join(missing)}")
        if missing
        else None,
    )
    session = GateSession.of_evaluated(resolved, evaluator, evaluated, manifest)
    # the plugin's node ids: the config file, relative to where the command runs, then the item
    where = os.path.relpath(config.path, Path.cwd())
    verdicts = [session.judge(f"{where}::{t.item_name}", t) for t in thresholds]
    print(f"merged {len(partials)} shards into run {manifest.run_id} ({', '.join(run.tasks)}):")
    print(f"baseline: {session.baseline.run_id if session.baseline else 'none recorded yet'}")
    print("\n".join(verdict_table(verdicts)))
    for verdict in verdicts:
        if verdict.status is not Status.PASS:
            print(f"{verdict.status.value.upper()} {verdict.threshold.item_name}: {verdict.reason}")
    if plan.reference is not None:
        print("mlgate: the reference is not evaluated by a merge (it needs the model)")
    attachments = write_outputs(session)
    for message in session.messages:
        print(f"mlgate: {message}")
    if args.record:
        print(f"recorded run {session.record(attachments)} in {resolved.store.location}")
    return 1 if any(v.status is Status.FAIL for v in verdicts) else 0


def add_parser(commands: Commands) -> None:
    """Declare ``mlgate merge PARTIAL... [--config] [--store] [--baseline] [--report] ...``."""
    merge = command(
        commands,
        "merge",
        "join the partial runs of --mlgate-shard K/N and gate them as one run",
        run,
    )
    merge.add_argument("partials", nargs="+", metavar="PARTIAL", help="the shards' partial runs")
    store_options(merge)
    add_options(
        merge.add_argument, "", ("baseline", "json", "markdown", "metrics", "wandb", "record")
    )
    merge.add_argument("--report", metavar="PATH", help="write the HTML report")
