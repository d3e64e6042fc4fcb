"""The HTML report: one self-contained file (inline CSS, no CDN, no network), jinja2 with
autoescape on, so every string that came from a model or a dataset is rendered inert."""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pytest_mlgate.atomic import write_atomic
from pytest_mlgate.gate import Status, Verdict
from pytest_mlgate.results import EvalRun

SYMBOL = {Status.PASS: "✔", Status.WARN: "▲", Status.FAIL: "✖"}


def _environment() -> Any:
    import jinja2

    return jinja2.Environment(
        loader=jinja2.PackageLoader("pytest_mlgate.report", "templates"),
        autoescape=True,  # every string, in every template, is escaped unless marked safe
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def _number(value: float | None, digits: int = 4) -> str:
    if value is None or math.isnan(value):
        return "–"
    return f"{value:.{digits}f}"


def verdict_rows(verdicts: Mapping[str, Verdict]) -> list[dict[str, str]]:
    rows = []
    for item, verdict in verdicts.items():
        metric = verdict.metric
        low, high = metric.ci() if metric is not None else (math.nan, math.nan)
        rows.append(
            {
                "item": item,
                "task": verdict.threshold.task,
                "metric": verdict.threshold.metric,
                "value": _number(None if metric is None else metric.value),
                "ci": "–" if math.isnan(low) else f"{low:.3f} – {high:.3f}",
                "n": "–" if metric is None else str(metric.n),
                "threshold": verdict.threshold.describe(),
                "status": verdict.status.value,
                "symbol": SYMBOL[verdict.status],
                "reason": verdict.reason,
            }
        )
    return rows


def render_html(verdicts: Mapping[str, Verdict], run: EvalRun, context: Mapping[str, Any]) -> str:
    failed = any(v.status is Status.FAIL for v in verdicts.values())
    tasks = [
        {
            "name": task.name,
            "n": task.n,
            "metrics": [
                {"key": key, "value": _number(m.value), "stderr": _number(m.stderr)}
                for key, m in sorted(task.metrics.items())
            ],
        }
        for task in run.tasks.values()
    ]
    return str(
        _environment()
        .get_template("report.html.j2")
        .render(
            title="pytest-mlgate report",
            status="fail" if failed else "pass",
            headline="Regression gate FAILED" if failed else "Regression gate passed",
            generated=dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC"),
            rows=verdict_rows(verdicts),
            tasks=tasks,
            context=dict(context),
            info={k: "–" if v is None else str(v) for k, v in run.info.items()},
        )
    )


def write_html(
    path: Path, verdicts: Mapping[str, Verdict], run: EvalRun, context: Mapping[str, Any]
) -> None:
    write_atomic(path, render_html(verdicts, run, context))
