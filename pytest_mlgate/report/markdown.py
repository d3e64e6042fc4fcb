"""The Markdown summary: the same verdicts, top regressions first, for a PR comment and the
GitHub step summary. Every string from a model or a dataset is escaped: GitHub renders inline
HTML in Markdown, so `<`, `>` and `&` become entities and table pipes are escaped."""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

# GitHub rejects comments over 65,536 characters; leave room for the truncation note.
COMMENT_LIMIT = 65_536
BUDGET = COMMENT_LIMIT - 1_000
ORDER = {"fail": 0, "warn": 1, "pass": 2}
SYMBOL = {"fail": "✖", "warn": "▲", "pass": "✔"}
_ESCAPES = {
    "&": "&amp;",
    "<": "&lt;",
    ">": "&gt;",
    "|": "\\|",
    "`": "\\`",
    "*": "\\*",
    "_": "\\_",
    "[": "\\[",
    "]": "\\]",
    "\n": " ",
    "\r": " ",
}


def escape(text: object) -> str:
    return "".join(_ESCAPES.get(ch, ch) for ch in str(text))


def _num(value: object, signed: bool = False) -> str:
    if not isinstance(value, (int, float)) or isinstance(value, bool) or math.isnan(value):
        return "–"
    return f"{value:+.4f}" if signed else f"{value:.4f}"


def _p(value: object) -> str:
    if not isinstance(value, (int, float)) or isinstance(value, bool) or math.isnan(value):
        return "–"
    return f"{value:.2g}" if value < 0.001 else f"{value:.3f}"


def _drop(verdict: Mapping[str, Any]) -> float:
    delta = verdict.get("delta")
    return -float(delta) if isinstance(delta, (int, float)) else 0.0


def render_markdown(
    verdicts: Sequence[Mapping[str, Any]],
    *,
    suite: str,
    checkpoint: str,
    run_id: str,
    baseline: str | None,
    report_hint: str = "the HTML report",
    limit: int = BUDGET,
) -> str:
    """The summary, regressions first (fail, then warn, each by the largest drop)."""
    statuses = [str(v.get("status")) for v in verdicts]
    failed, warned = statuses.count("fail"), statuses.count("warn")
    if failed:
        head = f"## ✖ mlgate: {failed} of {len(verdicts)} gated metrics FAILED"
    elif warned:
        head = f"## ▲ mlgate: all {len(verdicts)} gated metrics passed, {warned} with a warning"
    else:
        head = f"## ✔ mlgate: all {len(verdicts)} gated metrics passed"
    lines = [
        head,
        "",
        f"suite **{escape(suite)}** · checkpoint `{escape(checkpoint)}` · run `{escape(run_id)}`"
        f" · baseline {f'`{escape(baseline)}`' if baseline else 'none recorded yet'}",
        "",
        "| | task | metric | value | baseline | delta [95% CI] | p | reason |",
        "|---|---|---|---:|---:|---|---:|---|",
    ]
    ordered = sorted(verdicts, key=lambda v: (ORDER.get(str(v.get("status")), 3), -_drop(v)))
    tail = ["", f"Details, sparklines and the examples that flipped: {escape(report_hint)}."]
    size = sum(len(line) + 1 for line in lines + tail)
    for shown, verdict in enumerate(ordered):
        ci = verdict.get("delta_ci") or [None, None]
        delta = _num(verdict.get("delta"), signed=True)
        if ci[0] is not None:
            delta += f" [{_num(ci[0], True)}, {_num(ci[1], True)}]"
        status = str(verdict.get("status"))
        p = verdict.get("p_adjusted")
        p = verdict.get("p_value") if p is None else p
        row = (
            f"| {SYMBOL.get(status, '?')} {status.upper()} | {escape(verdict.get('task'))} | "
            f"{escape(verdict.get('metric'))} | {_num(verdict.get('value'))} | "
            f"{_num(verdict.get('baseline'))} | {delta} | "
            f"{_p(p)} | "
            f"{escape(verdict.get('reason'))} |"
        )
        if size + len(row) + 1 > limit:
            rest = len(ordered) - shown
            tail.insert(
                0,
                f"\n_… {rest} more row(s) left out to stay under GitHub's comment "
                f"size limit; all rows are in {escape(report_hint)}._",
            )
            break
        lines.append(row)
        size += len(row) + 1
    return "\n".join(lines + tail) + "\n"


def write_markdown(text: str, path: Path | None) -> list[str]:
    """Write to ``path`` and append to ``$GITHUB_STEP_SUMMARY`` when set; say where."""
    from pytest_mlgate.atomic import write_atomic

    written = []
    if path is not None:
        write_atomic(path, text)
        written.append(str(path))
    summary = os.environ.get("GITHUB_STEP_SUMMARY")
    if summary:
        with open(summary, "a", encoding="utf-8") as handle:
            handle.write(text)
        written.append("$GITHUB_STEP_SUMMARY")
    return written
