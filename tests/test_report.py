"""The HTML report: the regression matrix from history, self-contained, hostile strings inert."""

from __future__ import annotations

import dataclasses
import re

import pytest

from pytest_mlgate.config.schema import GateConfig, MetricThreshold, ReportConfig
from pytest_mlgate.gate.decision import gate_all
from pytest_mlgate.gate.verdicts import GateOutcome, Status, Verdict
from pytest_mlgate.report.html import render_html
from pytest_mlgate.report.matrix import ReportInput, build_matrix
from pytest_mlgate.results import EvalRun, Example, MetricResult, TaskResult
from tests.outcomes import outcome

HOSTILE = '<script>window.__pwned=1</script><img src=x onerror="window.__pwned=2">'


def task_run(scores: list[float], groups: list[str], text: str = "soru") -> EvalRun:
    ids = tuple(range(len(scores)))
    metric = MetricResult(
        "mc", "acc,none", sum(scores) / len(scores), None, len(scores), True, ids, tuple(scores)
    )
    task = TaskResult(
        "mc",
        {"acc,none": metric},
        len(scores),
        subgroups=dict(enumerate(groups)),
        examples={
            i: Example(f"{text} {i}", "A", "B" if s == 0 else "A") for i, s in enumerate(scores)
        },
    )
    return EvalRun({"mc": task})


def record(run_id: str, day: int, scores: list[float], groups: list[str]) -> GateOutcome:
    verdict = Verdict(MetricThreshold("mc", "acc"), Status.PASS, "", sum(scores) / len(scores))
    return outcome(
        run_id,
        task_run(scores, groups),
        timestamp=f"2026-11-{day:02d}T10:00:00+00:00",
        verdicts=[verdict],
    )


GROUPS = ["dilbilgisi", "genel_kultur"] * 50
GOOD = [1.0] * 80 + [0.0] * 20


def report_input(
    current: list[float], history_days: int = 6, text: str = "soru", groups: list[str] = GROUPS
) -> ReportInput:
    history = [record(f"run-{d}", d, GOOD, groups) for d in range(1, history_days + 1)]
    base = history[-1]
    run = task_run(current, groups, text)
    threshold = MetricThreshold("mc", "acc", min=0.5)
    verdicts = gate_all([threshold], run, base, GateConfig())
    now = outcome(
        "run-now",
        run,
        timestamp="2026-11-24T10:00:00+00:00",
        suite="fast",
        checkpoint="ckpt",
        verdicts=list(verdicts.values()),
    )
    return ReportInput(now, base, history)


def regressed() -> list[float]:
    scores = list(GOOD)
    for i in range(0, 40, 2):  # 20 right->wrong, all in the "dilbilgisi" subgroup
        scores[i] = 0.0
    return scores


def test_matrix_rows_columns_subgroups_trend_and_alert() -> None:
    matrix = build_matrix(report_input(regressed()))
    assert [c.run_id for c in matrix.columns] == [f"run-{d}" for d in range(1, 7)] + ["run-now"]
    assert matrix.columns[-2].is_baseline
    assert matrix.columns[-1].is_current
    names = [r.name for r in matrix.rows]
    assert names == ["mc / acc,none", "mc / acc,none / dilbilgisi", "mc / acc,none / genel_kultur"]
    main, grammar, general = matrix.rows
    assert main.gated
    assert main.alert
    assert main.cells[-1].status == "fail"
    assert main.cells[-1].delta == pytest.approx(-0.2)
    assert main.cells[-1].ci is not None
    assert grammar.cells[-1].delta == pytest.approx(-0.4)  # the subgroup that regressed
    assert grammar.cells[-1].p is not None
    assert grammar.cells[-1].p < 0.001
    assert general.cells[-1].delta == pytest.approx(0.0)
    assert main.trend == "flat"  # one drop after a flat history is the baseline's job, no trend
    assert main.sparkline().count(",") == 7
    [flips] = matrix.flips
    assert flips.lost == tuple(range(0, 40, 2))
    assert flips.gained == ()


def test_a_declining_history_trends_down_with_its_p_value() -> None:
    data = report_input(GOOD)
    declining = [  # 0.87, 0.84, ..., 0.66, then this run's 0.80
        record(f"run-{d}", d, [1.0] * (90 - 3 * d) + [0.0] * (10 + 3 * d), GROUPS)
        for d in range(1, 9)
    ]
    data = dataclasses.replace(data, history=declining, baseline=declining[-1])
    [main, *_] = build_matrix(data).rows
    assert main.trend == "down"
    assert main.trend_p is not None
    assert main.trend_p < 0.01
    html = render_html(data)
    assert "↘ down (p=" in html


def test_a_gated_row_shows_the_gates_cusum_alarm() -> None:
    """A gated metric whose history declines two examples a run: the gate's CUSUM alarms at
    this run, and the row says so with its figures, not with a p-value."""
    declining = [
        record(f"run-{d}", d, [1.0] * (90 - 2 * d) + [0.0] * (10 + 2 * d), GROUPS)
        for d in range(1, 6)
    ]
    now_scores = [1.0] * 78 + [0.0] * 22
    threshold = MetricThreshold("mc", "acc", min=0.5)
    run = task_run(now_scores, GROUPS)
    verdicts = gate_all([threshold], run, None, GateConfig(), history=declining)
    now = outcome("run-now", run, timestamp="2026-11-24T10:00:00+00:00", suite="fast",
                  checkpoint="ckpt", verdicts=list(verdicts.values()))  # fmt: skip
    data = ReportInput(now, declining[-1], declining)
    [main, *_] = build_matrix(data).rows
    assert main.trend == "down"
    assert main.trend_p is None
    assert main.trend_cusum is not None
    assert main.trend_cusum[0] > main.trend_cusum[1]
    assert "↘ down (CUSUM 4.6, h 4.4)" in render_html(data)


def test_history_window_keeps_the_baseline_column() -> None:
    data = report_input(GOOD, history_days=10)
    data = dataclasses.replace(data, report=ReportConfig(history=3, examples=5))
    columns = build_matrix(data).columns
    assert [c.run_id for c in columns] == ["run-8", "run-9", "run-10", "run-now"]
    older_baseline = dataclasses.replace(data, baseline=data.history[1])
    columns = build_matrix(older_baseline).columns
    # the baseline is kept (pinned next to this run) although it is outside the window shown
    assert [c.run_id for c in columns] == ["run-8", "run-9", "run-10", "run-2", "run-now"]
    assert columns[-2].is_baseline


def test_hostile_strings_are_escaped_everywhere_and_nothing_is_fetched() -> None:
    data = report_input(regressed(), text=HOSTILE, groups=[HOSTILE, "x"] * 50)
    html = render_html(data)
    assert "<script>window" not in html
    assert "<img" not in html
    assert "&lt;script&gt;window.__pwned=1&lt;/script&gt;" in html
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", html)  # no CDN, works offline
    assert "default-src 'none'" in html  # and a CSP forbids any fetch, injected or not
    assert "Regression gate FAILED" in html
    assert html.count("<tr><td>") == 20  # the 20 examples that went right -> wrong


def test_eval_run_writes_the_report(pytester: pytest.Pytester) -> None:
    pytester.makefile(
        ".toml",
        thresholds='[model]\ncheckpoint = "c"\n[suites.fast]\ntasks = ["mlgate_tr_mc"]\n'
        "[thresholds.mlgate_tr_mc]\nacc = 0.5\n",
    )
    pytester.makeconftest(
        """
        from pytest_mlgate.backend.fake import FakeBackend

        def pytest_mlgate_make_backend(spec):
            return FakeBackend({"mlgate_tr_mc": {"acc": [1, 1, 0]}})
        """
    )
    pytester.runpytest("-m", "eval").assert_outcomes(passed=1)
    html = (pytester.path / "mlgate-report.html").read_text()
    assert "Regression gate passed" in html
    assert "0.6667" in html
    pytester.runpytest("-m", "eval", "--mlgate-report", "out/r.html")
    assert (pytester.path / "out" / "r.html").is_file()


@pytest.mark.parametrize("lost", [0, 2, 4, 6, 7, 9, 12])
def test_the_alert_uses_exactly_the_verdicts_margin_min_ratio_included(lost: int) -> None:
    """min_ratio 0.9 of a 0.80 baseline allows a drop of 0.08; [gate] max_drop is 0.02. The row
    alerts exactly when the verdict's reason says the drop is beyond min_ratio's margin, so a
    passing min_ratio item never shows an alert (it did, against max_drop, before)."""
    history = [record(f"run-{d}", d, GOOD, GROUPS) for d in range(1, 5)]
    scores = list(GOOD)
    for i in range(lost):
        scores[i] = 0.0
    run = task_run(scores, GROUPS)
    threshold = MetricThreshold("mc", "acc", min_ratio=0.9)
    [verdict] = gate_all([threshold], run, history[-1], GateConfig()).values()
    now = outcome("run-now", run, timestamp="2026-11-24T10:00:00+00:00", verdicts=[verdict])
    [main, *_] = build_matrix(ReportInput(now, history[-1], history)).rows
    assert main.margin == pytest.approx(0.08)
    beyond = "within min_ratio 0.9" not in verdict.reason
    assert main.alert is beyond
    assert beyond is (lost / 100 > 0.08)
    if lost <= 8:
        assert verdict.status is Status.PASS
        assert not main.alert
