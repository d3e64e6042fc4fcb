"""The Markdown summary: the same verdicts, top regressions first, for a PR comment and the
GitHub step summary. Every string from a model or a dataset is escaped: GitHub renders inline
HTML in Markdown, so `<`, `>` and `&` become entities and table pipes are escaped."""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from pathlib import Path

from pytest_mlgate.gate.verdicts import Caveat, GateOutcome, Verdict
from pytest_mlgate.stats import format_p

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


def _num(value: float | None, signed: bool = False) -> str:
    if value is None or math.isnan(value):
        return "–"
    return f"{value:+.4f}" if signed else f"{value:.4f}"


def _drop(verdict: Verdict) -> float:
    c = verdict.comparison
    return 0.0 if c is None or math.isnan(c.delta) else -c.delta


def _trend_warnings(verdicts: Sequence[Verdict]) -> list[str]:
    return [message for v in verdicts for kind, message in v.caveats if kind is Caveat.TREND]


def _row(verdict: Verdict) -> str:
    c = verdict.comparison
    delta = _num(None if c is None else c.delta, signed=True)
    if c is not None and not math.isnan(c.ci[0]):
        delta += f" [{_num(c.ci[0], True)}, {_num(c.ci[1], True)}]"
    status = verdict.status.value
    return (
        f"| {SYMBOL[status]} {status.upper()} | {escape(verdict.threshold.task)} | "
        f"{escape(verdict.threshold.item_name.partition('::')[2])} | {_num(verdict.value)} | "
        f"{_num(None if c is None else c.baseline)} | {delta} | "
        f"{format_p(verdict.p)} | "
        f"{escape(verdict.reason)} |"
    )


def render_markdown(
    outcome: GateOutcome,
    *,
    baseline: str | None,
    report_hint: str = "the HTML report",
    limit: int = BUDGET,
    reference: str | None = None,
    notes: Sequence[str] = (),
) -> str:
    """The summary, regressions first (fail, then warn, each by the largest drop); ``notes``
    (such as "gated on thresholds only") under the header."""
    verdicts = outcome.verdicts
    statuses = [v.status.value for v in verdicts]
    failed, warned = statuses.count("fail"), statuses.count("warn")
    if failed:
        head = f"## ✖ mlgate: {failed} of {len(verdicts)} gated metrics FAILED"
    elif warned:
        head = f"## ▲ mlgate: all {len(verdicts)} gated metrics passed, {warned} with a warning"
    else:
        head = f"## ✔ mlgate: all {len(verdicts)} gated metrics passed"
    manifest = outcome.manifest
    commit = manifest.git.reviewed
    lines = [
        head,
        "",
        f"suite **{escape(manifest.suite.name)}** · checkpoint `{escape(manifest.checkpoint.id)}`"
        + (f" · commit `{escape(commit)}`" if commit else "")
        + f" · run `{escape(outcome.run_id)}`"
        f" · baseline {f'`{escape(baseline)}`' if baseline else 'none recorded yet'}"
        + (f" · reference `{escape(reference)}`" if reference else ""),
        "",
        *(f"> {escape(note)}" + "\n" for note in notes),
        *(f"▼ {escape(text)}" + "\n" for text in _trend_warnings(verdicts)),
        "| | task | metric | value | baseline | delta [95% CI] | p | reason |",
        "|---|---|---|---:|---:|---|---:|---|",
    ]
    # Failures first, failing subgroups first among them (an average hides them), then warnings.
    ordered = sorted(
        verdicts,
        key=lambda v: (ORDER[v.status.value], v.threshold.subgroup is None, -_drop(v)),
    )
    tail = ["", f"Details, sparklines and the examples that flipped: {escape(report_hint)}."]
    size = sum(len(line) + 1 for line in lines + tail)
    for shown, verdict in enumerate(ordered):
        row = _row(verdict)
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
