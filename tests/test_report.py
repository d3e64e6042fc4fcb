"""The HTML report: written by an eval run, self-contained, hostile strings inert."""

from __future__ import annotations

import re

import pytest

from pytest_mlgate.backend.fake import fake_task_result
from pytest_mlgate.config import MetricThreshold
from pytest_mlgate.gate import check_threshold
from pytest_mlgate.report.html import render_html
from pytest_mlgate.results import EvalRun

HOSTILE = '<script>alert(1)</script><img src=x onerror="alert(2)">'


def test_hostile_strings_are_escaped_and_nothing_is_fetched() -> None:
    run = EvalRun(
        {"t": fake_task_result("t", {f"acc{HOSTILE}": [1.0, 0.0]})},
        {"checkpoint": HOSTILE},
    )
    threshold = MetricThreshold("t", f"acc{HOSTILE}", min=0.9)
    verdict = check_threshold(threshold, run)
    html = render_html(
        {"thresholds.toml::t::x": verdict},
        run,
        {"suite": "fast", "checkpoint": HOSTILE, "version": "test"},
    )
    assert "<script>" not in html
    assert "<img" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert not re.search(r"""(src|href)=["']?https?:""", html)  # no CDN, works offline
    assert "Regression gate FAILED" in html


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
