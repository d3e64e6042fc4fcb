"""``mlgate merge``: the shards' partial runs joined and gated as one run."""

from __future__ import annotations

import argparse
import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from pytest_mlgate.cli.common import Commands, command, plugins, store_options
from pytest_mlgate.config.load import load_config
from pytest_mlgate.config.options import GateOptions, add_options
from pytest_mlgate.errors import ConfigError

if TYPE_CHECKING:  # the CLI's start-up imports none of them
    from pytest_mlgate.config.schema import SuiteConfig
    from pytest_mlgate.gate.verdicts import Verdict
    from pytest_mlgate.manifest import Manifest
    from pytest_mlgate.results import EvalRun
    from pytest_mlgate.run.session import Evaluated, GateSession


def run(args: argparse.Namespace) -> int:
    """Join the shards' partial runs and gate them as one run."""
    from pytest_mlgate.gate.verdicts import Status
    from pytest_mlgate.run import merge
    from pytest_mlgate.run.evaluator import make_evaluator
    from pytest_mlgate.run.outputs import write_outputs
    from pytest_mlgate.run.plan import SuiteChoice, plan_gate
    from pytest_mlgate.run.resolve import resolve_gate
    from pytest_mlgate.run.session import GateSession

    partials = merge.load_partials([Path(p) for p in args.partials])
    merge.check_shards(partials)
    run, manifest = merge.join([o for _, o in partials])
    config = load_config(Path(args.config))
    suite = config.suite(manifest.suite.name)
    thresholds = merge.gated_thresholds(config, suite, run)
    plan = plan_gate(
        config, _options(args, manifest), suite=SuiteChoice(suite), thresholds=thresholds
    )
    resolved = resolve_gate(plan, plugins(args))
    evaluator = make_evaluator(
        config, resolved.checkpoint, suite, plan.tasks, lambda spec: merge.Joined(run)
    )
    session = GateSession.of_evaluated(
        resolved, evaluator, _evaluated(run, plan.tasks, suite), manifest
    )
    # the plugin's node ids: the config file, relative to where the command runs, then the item
    where = os.path.relpath(config.path, Path.cwd())
    verdicts = [session.judge(f"{where}::{t.item_name}", t) for t in thresholds]
    print(f"merged {len(partials)} shards into run {manifest.run_id} ({', '.join(run.tasks)}):")
    _say(session, verdicts, reference=plan.reference is not None)
    attachments = write_outputs(session)
    for message in session.messages:
        print(f"mlgate: {message}")
    if args.record:
        print(f"recorded run {session.record(attachments)} in {resolved.store.location}")
    return 1 if any(v.status is Status.FAIL for v in verdicts) else 0


def _options(args: argparse.Namespace, manifest: Manifest) -> GateOptions:
    """The command's options as the plugin's, for the joined run's checkpoint."""
    return GateOptions(
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


def _evaluated(run: EvalRun, tasks: Sequence[str], suite: SuiteConfig) -> Evaluated:
    """What the shards evaluated, as a session's first stage: no determinism or latency (each
    shard saw a part of the documents; only an unsharded run measures them)."""
    from pytest_mlgate.run.session import Evaluated

    missing = [t for t in tasks if t not in run]
    return Evaluated(
        run.subset([t for t in tasks if t in run]),
        determinism={},
        latency=None
        if suite.latency is None
        else "not measured: measured only by an unsharded run",
        failure=ConfigError(f"the shards did not evaluate {', '.join(missing)}")
        if missing
        else None,
    )


def _say(session: GateSession, verdicts: Sequence[Verdict], *, reference: bool) -> None:
    """The baseline, the verdict table and every verdict that did not pass."""
    from pytest_mlgate.gate.verdicts import Status
    from pytest_mlgate.report.terminal import verdict_table

    print(f"baseline: {session.baseline.run_id if session.baseline else 'none recorded yet'}")
    print("\n".join(verdict_table(verdicts)))
    for verdict in verdicts:
        if verdict.status is not Status.PASS:
            print(f"{verdict.status.value.upper()} {verdict.threshold.item_name}: {verdict.reason}")
    if reference:
        print("mlgate: the reference is not evaluated by a merge (it needs the model)")


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
