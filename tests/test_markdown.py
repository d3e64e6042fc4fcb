"""The Markdown summary: regressions first, everything escaped, under GitHub's size limit."""

from __future__ import annotations

from pathlib import Path

import pytest

from pytest_mlgate.gate.verdicts import Verdict
from pytest_mlgate.report.markdown import COMMENT_LIMIT, render_markdown, write_markdown
from pytest_mlgate.results import EvalRun
from tests.outcomes import compared, outcome


def verdict(task: str, status: str, delta: float | None, reason: str = "r") -> Verdict:
    return compared(task, "acc", status, delta=delta, p_adjusted=0.02, reason=reason)


def render(verdicts: list[Verdict], report_hint: str = "the HTML report") -> str:
    run = outcome("r1", EvalRun({}), suite="fast", checkpoint="c", verdicts=verdicts)
    return render_markdown(run, baseline="r0", report_hint=report_hint)


def test_failures_first_then_warnings_by_the_largest_drop() -> None:
    text = render(
        [
            verdict("ok", "pass", 0.01),
            verdict("small", "fail", -0.05),
            verdict("warned", "warn", -0.03),
            verdict("big", "fail", -0.3),
        ]
    )
    assert text.startswith("## ✖ mlgate: 2 of 4 gated metrics FAILED")
    rows = [
        line
        for line in text.splitlines()
        if line.startswith("| ✖") or line.startswith("| ▲") or line.startswith("| ✔")
    ]
    assert [row.split(" | ")[1] for row in rows] == ["big", "small", "warned", "ok"]
    assert "| -0.3000 [-0.2000, +0.0000] | 0.020 |" in text


def test_model_and_dataset_text_cannot_inject_markup() -> None:
    hostile = "<img src=x onerror=alert(1)> | `code` [link](http://x) **bold**\nnew line"
    text = render([verdict(hostile, "fail", -0.1, reason=hostile)])
    assert "<img" not in text
    assert "&lt;img src=x onerror=alert(1)&gt; \\| \\`code\\` \\[link\\](http://x)" in text
    assert "**bold**" not in text
    assert len([line for line in text.splitlines() if line.startswith("| ✖")]) == 1


def test_truncated_with_a_note_under_the_comment_limit() -> None:
    many = [verdict(f"task{i}", "fail", -0.1, reason="x" * 400) for i in range(400)]
    text = render(many, report_hint="report.html")
    assert len(text) < COMMENT_LIMIT
    assert "more row(s) left out to stay under GitHub's comment size limit" in text
    assert "report.html" in text


def test_appended_to_the_github_step_summary(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    summary = tmp_path / "summary.md"
    summary.write_text("earlier step\n")
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    where = write_markdown("## mlgate\n", tmp_path / "comment.md")
    assert where == [str(tmp_path / "comment.md"), "$GITHUB_STEP_SUMMARY"]
    assert summary.read_text() == "earlier step\n## mlgate\n"
    assert (tmp_path / "comment.md").read_text() == "## mlgate\n"
