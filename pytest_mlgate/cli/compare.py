"""``mlgate compare``: one recorded run judged against another, as the gate judges a baseline."""

from __future__ import annotations

import argparse
import sys

from pytest_mlgate.cli.common import USAGE_ERROR, Commands, command, history_plan, store_options


def run(args: argparse.Namespace) -> int:
    """RUN_B against RUN_A, exactly as the gate would compare a run with its baseline."""
    from pytest_mlgate.config.schema import MetricThreshold
    from pytest_mlgate.gate.decision import gate_all
    from pytest_mlgate.gate.verdicts import Status
    from pytest_mlgate.report.terminal import verdict_table

    history, store = history_plan(args)
    base, new = store.load(args.run_a), store.load(args.run_b)
    thresholds = [
        MetricThreshold(task, key, max_drop=args.max_drop)
        for task, result in new.run.tasks.items()
        if task in base.run
        for key in result.metrics
        if key in base.run[task].metrics
    ]
    if not thresholds:
        print(f"runs {args.run_a} and {args.run_b} share no task metric", file=sys.stderr)
        return USAGE_ERROR
    verdicts = gate_all(thresholds, new.run, base, history.settings, new.manifest)
    print(f"{args.run_b} against baseline {args.run_a}:")
    print("\n".join(verdict_table(verdicts.values())))
    for verdict in verdicts.values():
        if verdict.status is not Status.PASS:
            print(f"{verdict.status.value.upper()}: {verdict.reason}")
    return 1 if any(v.status is Status.FAIL for v in verdicts.values()) else 0


def add_parser(commands: Commands) -> None:
    """Declare ``mlgate compare RUN_A RUN_B [--max-drop]``."""
    compare = command(
        commands,
        "compare",
        "compare RUN_B with RUN_A as the gate compares a run with its baseline",
        run,
    )
    store_options(compare)
    compare.add_argument("run_a", metavar="RUN_A", help="the baseline run id")
    compare.add_argument("run_b", metavar="RUN_B", help="the run id to judge")
    compare.add_argument("--max-drop", type=float, help="override [gate] max_drop")
