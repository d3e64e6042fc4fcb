"""The HTML report: one self-contained file (inline CSS and JS, no CDN, no network; a Content
Security Policy forbids any fetch), rendered by jinja2 with autoescape on, so every string that
came from a model or a dataset is inert text."""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence
from html import escape
from pathlib import Path
from typing import Any

from markupsafe import Markup

from pytest_mlgate.atomic import write_atomic
from pytest_mlgate.gate.pairing import Flips
from pytest_mlgate.gate.verdicts import Caveat
from pytest_mlgate.report.matrix import (
    Cell,
    Column,
    Matrix,
    ReportInput,
    Row,
    build_matrix,
    throughput_rows,
)
from pytest_mlgate.results import TaskResult
from pytest_mlgate.stats import format_p
from pytest_mlgate.store.codec import manifest_text

SYMBOL = {"pass": "✔", "warn": "▲", "fail": "✖"}
TREND = {"up": "↗ up", "flat": "→ flat", "down": "↘ down", "few": "· too few runs"}
MAX_TEXT = 600  # characters of a prompt or response shown in the drill-down


def _environment() -> Any:
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.PackageLoader("pytest_mlgate.report", "templates"),
        autoescape=True,  # every string, in every template, is escaped unless marked safe
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["num"] = _number
    env.filters["signed"] = _signed
    env.filters["clip"] = lambda text: text if len(text) <= MAX_TEXT else text[:MAX_TEXT] + " …"
    return env


def _number(value: float | None, digits: int = 4) -> str:
    return "–" if value is None or math.isnan(value) else f"{value:.{digits}f}"


def _signed(value: float | None, digits: int = 4) -> str:
    return "–" if value is None or math.isnan(value) else f"{value:+.{digits}f}"


def _p(value: float | None) -> str:
    shown = format_p(value, missing="")
    return f"p={shown}" if shown else ""


def column_classes(column: Column, pins: Sequence[Column]) -> str:
    """baseline / anchor / reference / current, and the pin that keeps it in view (pin0 at the
    right edge)."""
    names = [
        name
        for name, on in (
            ("baseline", column.is_baseline),
            ("anchor", column.is_anchor),
            ("reference", column.is_reference),
            ("current", column.is_current),
        )
        if on
    ]
    if column in pins:
        names += ["pin", f"pin{len(pins) - 1 - list(pins).index(column)}"]
    return " ".join(names)


def _cell_html(cell: Cell, row: Row, classes: str) -> Markup:
    """One matrix cell, every piece escaped with html.escape (quotes included). Built in Python:
    a report holds tens of thousands of cells and per-cell template work dominated rendering."""
    view = _cell_view(cell, row)
    classes = " ".join(c for c in (view["tone"], classes) if c)
    detail = " ".join(x for x in (view["delta"], view["ci"], view["p"]) if x)
    small = f"<small>{escape(detail)}</small>" if detail else ""
    # The hover title repeats what the cell shows, except where a CI or a verdict adds to it.
    title = f' title="{escape(view["title"])}"' if (cell.ci or cell.status) else ""
    return Markup(
        f'<td class="cell {escape(classes)}" data-value="{escape(view["sort"])}"{title}>'
        f"{escape(view['symbol'])} {escape(view['value'])}{small}</td>"
    )


def _cell_view(cell: Cell, row: Row) -> dict[str, Any]:
    status = cell.status
    tone = status or ""
    if tone == "" and cell.delta is not None:
        worse = -cell.delta if row.higher_is_better else cell.delta
        tone = "down" if worse > row.margin else ("up" if worse < -row.margin else "")
    title = [f"value {_number(cell.value)}"]
    if cell.delta is not None:
        title.append(f"delta vs baseline {_signed(cell.delta)}")
    if cell.ci is not None:
        title.append(f"95% CI [{_signed(cell.ci[0])}, {_signed(cell.ci[1])}]")
    if cell.p is not None:
        title.append(_p(cell.p))
    if status:
        title.append(status.upper())
    return {
        "value": _number(cell.value),
        "sort": "" if cell.value is None else f"{cell.value:.6f}",
        "delta": None if cell.delta is None else _signed(cell.delta),
        "ci": None if cell.ci is None else f"[{_signed(cell.ci[0], 3)}, {_signed(cell.ci[1], 3)}]",
        "p": _p(cell.p),
        "status": status,
        "symbol": SYMBOL.get(status or "", {"down": "↓", "up": "↑"}.get(tone, "")),
        "tone": tone,
        "title": " · ".join(title),
    }


def _examples_view(
    task: TaskResult, base_task: TaskResult | None, docs: tuple[int, ...], before: str
) -> list[dict[str, Any]]:
    """``before``: what the baseline's answer was ("right" / "wrong"), shown when its text was
    not recorded."""
    shown = []
    for doc in docs:
        example = task.examples.get(doc)
        previous = base_task.examples.get(doc) if base_task else None
        shown.append(
            {
                "doc": doc,
                "subgroup": task.subgroups.get(doc),
                "prompt": example.prompt if example else None,
                "target": example.target if example else None,
                "response": example.response if example else None,
                "baseline_response": previous.response if previous else f"({before})",
            }
        )
    return shown


HEADLINES = {
    "fail": "Regression gate FAILED",
    "warn": "Regression gate passed, with warnings",
    "pass": "Regression gate passed",
}


def _trend_figure(row: Row) -> str:
    """What the trend was decided by: the gate's CUSUM against its h, or the report's own
    Mann-Kendall p-value on an ungated row."""
    if row.trend_cusum is not None:
        statistic, threshold = row.trend_cusum
        return f" (CUSUM {statistic:.1f}, h {threshold:.1f})"
    return "" if row.trend_p is None else f" (p={format_p(row.trend_p)})"


def _detectable(drop: float | None) -> str | None:
    """The drop a row's baseline comparison detects, as the row shows it (None: not planned)."""
    if drop is None:
        return None
    return "no drop" if math.isnan(drop) else f"{drop * 100:.1f} pp"


def _row_view(row: Row, classes: Sequence[str]) -> dict[str, Any]:
    return {
        "name": row.name,
        "task": row.task,
        "metric": row.metric,
        "subgroup": row.subgroup,
        "gated": row.gated,
        "trend": row.trend,
        "trend_label": TREND[row.trend] + _trend_figure(row),
        "alert": row.alert,
        "margin": row.margin,
        "n": row.n,
        "disparity": row.disparity,
        "detectable": _detectable(row.detectable),
        "spark": row.sparkline(),
        "cells": [_cell_html(c, row, kind) for c, kind in zip(row.cells, classes, strict=True)],
        "status": row.cells[-1].status or "",
    }


def _drill_view(data: ReportInput, flips: Flips) -> dict[str, Any]:
    task = data.outcome.run[flips.task]
    base_task = data.baseline.run[flips.task] if data.baseline else None
    k = data.report.examples
    return {
        "task": flips.task,
        "metric": flips.metric,
        "lost_count": len(flips.lost),
        "gained_count": len(flips.gained),
        "lost": _examples_view(task, base_task, flips.lost[:k], "right"),
        "gained": _examples_view(task, base_task, flips.gained[:k], "wrong"),
    }


def _column_view(column: Column, classes: str) -> dict[str, Any]:
    return {
        "classes": classes,
        "anchor": column.is_anchor,
        "reference": column.is_reference,
        "label": column.label,
        "run_id": column.run_id,
        "branch": column.branch or "",
        "commit": (column.commit or "")[:10],
        "baseline": column.is_baseline,
        "current": column.is_current,
    }


def report_context(data: ReportInput, matrix: Matrix) -> dict[str, Any]:
    verdicts = data.outcome.verdicts
    pins = [c for c in matrix.columns if c.pinned]
    classes = [column_classes(c, pins) for c in matrix.columns]
    statuses = [v.status.value for v in verdicts]
    overall = "fail" if "fail" in statuses else ("warn" if "warn" in statuses else "pass")
    determinism = {d.task: d.describe() for d in data.outcome.manifest.determinism}
    latency = data.outcome.manifest.latency
    return {
        "latency": None
        if latency is None
        else (
            f"p50 {latency.quantile(0.5):.1f} ms, p99 {latency.quantile(0.99):.1f} ms over "
            f"{len(latency.samples_ms)} single requests (max_new_tokens "
            f"{latency.max_new_tokens}) on {latency.hardware}"
        ),
        "status": overall,
        "headline": HEADLINES[overall],
        "symbol": SYMBOL[overall],
        "suite": data.suite,
        "checkpoint": data.checkpoint,
        "run_id": data.run_id,
        "baseline": None if data.baseline is None else data.baseline.run_id,
        "generated": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "columns": [_column_view(c, k) for c, k in zip(matrix.columns, classes, strict=True)],
        "rows": [
            {**_row_view(row, classes), "determinism": determinism.get(row.task)}
            for row in matrix.rows
        ],
        "anchor": None if data.anchor is None else data.anchor.label,
        "reference": None if data.reference is None else data.reference.label,
        "throughput": [
            {
                "kind": row.kind,
                "cells": [
                    "–" if cell is None else f"{cell[0]:.1f} req/s · {cell[1]:.0f} tok/s"
                    for cell in row.cells
                ],
            }
            for row in throughput_rows(data, matrix.columns)
        ],
        "trends": [
            message for v in verdicts for kind, message in v.caveats if kind is Caveat.TREND
        ],
        "verdicts": sorted(
            (
                {
                    "status": v.status.value,
                    "task": v.threshold.task,
                    "metric": v.threshold.item_name.partition("::")[2],
                    "reason": v.reason,
                }
                for v in verdicts
            ),
            key=lambda v: {"fail": 0, "warn": 1}.get(v["status"], 2),
        ),
        "drill": [_drill_view(data, flips) for flips in matrix.flips],
        "examples_k": data.report.examples,
        "manifest": manifest_text(data.outcome.manifest),
        "counts": {s: statuses.count(s) for s in ("pass", "warn", "fail")},
    }


def render_html(data: ReportInput) -> str:
    matrix = build_matrix(data)
    return str(_environment().get_template("report.html.j2").render(**report_context(data, matrix)))


def write_html(path: Path, data: ReportInput) -> None:
    write_atomic(path, render_html(data))
