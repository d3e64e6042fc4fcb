"""The terminal summary: one table of every gated metric."""

from __future__ import annotations

from collections.abc import Iterable

from pytest_mlgate.gate.verdicts import Verdict
from pytest_mlgate.stats import format_p

HEADER = (
    "task",
    "metric",
    "value",
    "95% CI",
    "n",
    "threshold",
    "baseline",
    "delta",
    "p",
    "verdict",
)


def _cells(v: Verdict) -> tuple[str, ...]:
    c = v.comparison
    ci = "-" if v.value_ci is None else f"{v.value_ci[0]:.3f}-{v.value_ci[1]:.3f}"
    return (
        v.threshold.task,
        v.threshold.item_name.partition("::")[2],  # the metric, with [SUBGROUP] for a subgroup
        "-" if v.value is None else f"{v.value:.4f}",
        ci,
        "-" if v.n is None or v.value is None else str(v.n),
        v.threshold.describe(),
        "-" if c is None else f"{c.baseline:.4f}",
        "-" if c is None else f"{c.delta:+.4f}",
        format_p(v.p, missing="-"),
        v.status.value.upper(),
    )


def verdict_table(verdicts: Iterable[Verdict]) -> list[str]:
    rows = [HEADER, *(_cells(v) for v in verdicts)]
    widths = [max(len(row[i]) for row in rows) for i in range(len(HEADER))]
    lines = [
        "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
        for row in rows
    ]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return lines
