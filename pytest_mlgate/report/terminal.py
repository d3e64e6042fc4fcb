"""The terminal summary: one table of every gated metric."""

from __future__ import annotations

import math
from collections.abc import Iterable

from pytest_mlgate.gate import Status, Verdict

SYMBOLS = {Status.PASS: "PASS", Status.WARN: "WARN", Status.FAIL: "FAIL"}


def verdict_table(verdicts: Iterable[Verdict]) -> list[str]:
    header = (
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
    rows = [header]
    for v in verdicts:
        metric, c = v.metric, v.comparison
        if metric is None:
            value = ci = n = "-"
        else:
            low, high = metric.ci()
            value = f"{metric.value:.4f}"
            ci = "-" if math.isnan(low) else f"{low:.3f}-{high:.3f}"
            n = str(metric.n)
        p = v.p_adjusted if v.p_adjusted is not None else (None if c is None else c.p_value)
        rows.append(
            (
                v.threshold.task,
                v.threshold.metric,
                value,
                ci,
                n,
                v.threshold.describe(),
                "-" if c is None else f"{c.baseline:.4f}",
                "-" if c is None else f"{c.delta:+.4f}",
                "-" if p is None else (f"{p:.2g}" if p < 0.001 else f"{p:.3f}"),
                SYMBOLS[v.status],
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    lines = [
        "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
        for row in rows
    ]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return lines
