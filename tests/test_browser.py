"""The HTML report in a real browser (Debian's chromium, driven by playwright; .ci/run installs
both): it renders without console errors, sorting and filtering work, hostile text is inert."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from pytest_mlgate.config.schema import GateConfig, MetricThreshold
from pytest_mlgate.gate.decision import gate_all
from pytest_mlgate.report.html import write_html
from pytest_mlgate.report.matrix import ReportInput
from pytest_mlgate.results import EvalRun, Example, MetricResult, TaskResult
from tests.outcomes import compared, outcome

ERRORS: list[str] = []  # console errors, page errors and non-file requests of the page
HOSTILE = '<script>window.__pwned=1</script><img src=x onerror="window.__pwned=2">'
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]


def chromium_path() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None:
        message = "Debian's chromium is not installed (apt-get install chromium)"
        if os.environ.get("CI"):
            pytest.fail(message + "; .ci/run installs it")
        pytest.skip(message)
    return found


def run_of(values: dict[str, float], n: int = 100) -> EvalRun:
    tasks = {}
    for name, value in values.items():
        right = round(value * n)
        scores = tuple([1.0] * right + [0.0] * (n - right))
        metric = MetricResult(name, "acc,none", right / n, None, n, True, tuple(range(n)), scores)
        tasks[name] = TaskResult(
            name,
            {"acc,none": metric},
            n,
            subgroups={i: HOSTILE if i % 2 else "temiz" for i in range(n)},
            examples={
                i: Example(f"{HOSTILE} soru {i}", HOSTILE, f"yanıt {HOSTILE}") for i in range(n)
            },
        )
    return EvalRun(tasks)


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    before = {"alpha": 0.9, "beta": 0.5, "gamma": 0.7, f"task{HOSTILE}": 0.6}
    now = {"alpha": 0.6, "beta": 0.55, "gamma": 0.71, f"task{HOSTILE}": 0.6}
    history = [
        outcome(f"run-{d}", run_of(before), timestamp=f"2026-11-{d:02d}T00:00:00+00:00")
        for d in range(1, 6)
    ]
    baseline = history[-1]
    thresholds = [MetricThreshold(t, "acc", max_drop=0.02) for t in now]
    run = run_of(now)
    verdicts = gate_all(thresholds, run, baseline, GateConfig())
    current = outcome(
        "run-now",
        run,
        timestamp="2026-11-24T00:00:00+00:00",
        branch=HOSTILE,
        suite=HOSTILE,
        checkpoint=HOSTILE,
        verdicts=list(verdicts.values()),
    )
    data = ReportInput(current, baseline, history)
    path = tmp_path_factory.mktemp("report") / "report.html"
    write_html(path, data)
    return path


@pytest.fixture(scope="module")
def page(report: Path) -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    executable = chromium_path()
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 900})
        errors: list[str] = []
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.on(
            "request",
            lambda r: errors.append(f"request {r.url}") if not r.url.startswith("file:") else None,
        )
        page.goto(report.as_uri())
        ERRORS[:] = errors
        yield page
        browser.close()


def main_rows(page: Any) -> list[str]:
    texts: list[str] = page.eval_on_selector_all(
        "#matrix tbody tr.main th", "cells => cells.map(c => c.textContent.trim())"
    )
    return texts


def test_renders_without_console_errors_or_requests(page: Any) -> None:
    assert page.locator("h1").inner_text().endswith("Regression gate FAILED")
    assert ERRORS == []


def test_hostile_text_is_inert_everywhere(page: Any) -> None:
    assert page.evaluate("typeof window.__pwned") == "undefined"
    assert page.locator("#matrix img").count() == 0
    assert page.locator("body script").count() == 1  # ours, and only ours
    assert HOSTILE in page.locator("header").inner_text()  # shown as text, not markup


def current_values(page: Any) -> list[float]:
    values: list[str] = page.eval_on_selector_all(
        "#matrix tbody tr.main td.current", "cells => cells.map(c => c.dataset.value)"
    )
    return [float(v) for v in values]


def test_sorting_by_a_column_orders_the_rows_and_keeps_subgroups(page: Any) -> None:
    current = page.locator("#matrix thead th.current")
    current.click()
    assert main_rows(page)[0].startswith("beta")  # 0.55 is the lowest value of this run
    assert current_values(page) == sorted(current_values(page))
    current.click()
    assert current_values(page) == sorted(current_values(page), reverse=True)
    first_group = page.locator("#matrix tbody").first
    assert first_group.locator("tr.sub").count() == 2  # subgroups moved with their row


def test_filter_and_alert_toggle(page: Any) -> None:
    page.fill("#filter", "gamma")
    assert page.locator("#matrix tbody:not(.hidden)").count() == 1
    page.fill("#filter", "")
    page.check("#only-alerts")
    visible = page.eval_on_selector_all(
        "#matrix tbody:not(.hidden) tr.main th", "cells => cells.map(c => c.textContent.trim())"
    )
    assert [v.split(" /")[0] for v in visible] == ["alpha"]  # the only regression
    page.uncheck("#only-alerts")


def test_drill_down_lists_the_flipped_examples(page: Any) -> None:
    summary = page.locator("details summary", has_text="alpha").first
    assert "30 right → wrong" in summary.inner_text()


def test_the_markdown_summary_is_inert_when_rendered_with_raw_html_allowed(
    page: Any, tmp_path: Path
) -> None:
    """GitHub renders some raw HTML in comments: none may come from model or dataset text."""
    from markdown_it import MarkdownIt

    from pytest_mlgate.report.markdown import render_markdown

    verdict = compared(
        f"t{HOSTILE}",
        HOSTILE,
        "fail",
        delta=-0.1,
        reason=f"{HOSTILE} | `x` [link](javascript:alert(3))",
    )
    run = outcome("r", EvalRun({}), suite=HOSTILE, checkpoint=HOSTILE, verdicts=[verdict])
    text = render_markdown(run, baseline=HOSTILE)
    body = MarkdownIt("commonmark", {"html": True}).enable("table").render(text)
    page_file = tmp_path / "summary.html"
    page_file.write_text(f"<!DOCTYPE html><html><body>{body}</body></html>")
    summary = page.context.browser.new_page()  # the module's browser: the sync API does not nest
    summary.goto(page_file.as_uri())
    assert summary.evaluate("typeof window.__pwned") == "undefined"
    assert summary.locator("img, script, a[href^='javascript']").count() == 0
    assert "<script>window.__pwned=1</script>" in summary.locator("table").inner_text()
    summary.close()


def test_anchor_baseline_and_this_run_stay_in_view_with_30_columns(
    page: Any, tmp_path: Path
) -> None:
    """With 30 recorded runs at 1400 px the history scrolls, but the anchor, the baseline and
    this run are pinned at the right edge: their header boxes lie inside the viewport."""
    from pytest_mlgate.gate.verdicts import Anchor

    history = [
        outcome(f"run-{d:02d}", run_of({"alpha": 0.9 - d / 100, "beta": 0.5}),
                timestamp=f"2026-10-{d:02d}T00:00:00+00:00")
        for d in range(1, 31)
    ]  # fmt: skip
    anchor, baseline = history[0], history[-1]
    run = run_of({"alpha": 0.55, "beta": 0.5})
    thresholds = [MetricThreshold(t, "acc", max_drop=0.02) for t in ("alpha", "beta")]
    verdicts = gate_all(thresholds, run, baseline, GateConfig(), history=history)
    current = outcome("run-now", run, verdicts=list(verdicts.values()))
    data = ReportInput(current, baseline, history, anchor=Anchor(anchor, "v1.0.0"))
    path = tmp_path / "wide.html"
    write_html(path, data)
    wide = page.context.browser.new_page(viewport={"width": 1400, "height": 900})
    wide.goto(path.as_uri())
    assert wide.locator("#matrix thead th").count() == 2 + 30 + 1  # name, trend, runs, this run
    for selector in ("th.anchor", "th.baseline", "th.current"):
        box = wide.locator(f"#matrix thead {selector}").bounding_box()
        assert box is not None
        assert box["x"] >= 0, (selector, box)
        assert box["x"] + box["width"] <= 1400 + 1, (selector, box)
    scroll = wide.locator(".scroll")
    assert scroll.evaluate("el => el.scrollWidth > el.clientWidth")  # the history does scroll
    pinned = [
        wide.locator(f"#matrix thead {s}").bounding_box()
        for s in ("th.anchor", "th.baseline", "th.current")
    ]
    assert [b["x"] for b in pinned if b] == sorted(b["x"] for b in pinned if b)  # side by side
    # the gate's CUSUM alarmed (h for two metrics at ARL 500 each run: 5.1); before: "(p=…)"
    assert "↘ down (CUSUM " in wide.locator("#matrix tbody tr.main").first.inner_text()
    wide.close()
