"""``mlgate report``: the HTML (and Markdown) report of a recorded run, from the history alone."""

from __future__ import annotations

import argparse
from pathlib import Path

from pytest_mlgate.cli.common import Commands, command, history_plan, store_options


def run(args: argparse.Namespace) -> int:
    """The HTML report of a recorded run, from the history alone: no model, no eval."""
    from pytest_mlgate.report.html import write_html
    from pytest_mlgate.report.markdown import render_markdown, write_markdown
    from pytest_mlgate.report.matrix import report_from_store

    history, store = history_plan(args)
    data = report_from_store(
        store,
        history.settings,
        run_id=args.run_id,
        branch=args.branch,
        baseline_id=args.baseline,
        history=args.history,
    )
    output = Path(args.output)
    write_html(output, data)
    baseline = None if data.baseline is None else data.baseline.run_id
    print(f"wrote {output} (run {data.run_id}, baseline {baseline or 'none'})")
    if args.markdown:
        text = render_markdown(data.outcome, baseline=baseline, report_hint=str(output))
        write_markdown(text, Path(args.markdown))
        print(f"wrote {args.markdown}")
    return 0


def add_parser(commands: Commands) -> None:
    """Declare ``mlgate report `` and its options."""
    report = command(
        commands,
        "report",
        "regenerate the HTML report of a recorded run, without any eval",
        run,
    )
    store_options(report)
    report.add_argument(
        "--run", dest="run_id", help="the run to report (default: the latest recorded)"
    )
    report.add_argument("--branch", help="the latest run of this branch")
    report.add_argument("--baseline", help="compare with this run (default: its recorded one)")
    report.add_argument("--history", type=int, help="recorded runs shown as columns")
    report.add_argument("--output", default="mlgate-report.html", help="the HTML file")
    report.add_argument("--markdown", metavar="PATH", help="also write the Markdown summary")
