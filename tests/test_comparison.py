"""The one comparison rule: baseline, anchor, reference and a variant's gap decided alike."""

from __future__ import annotations

from dataclasses import replace

import pytest

from pytest_mlgate import stats
from pytest_mlgate.config.schema import GateConfig, MetricThreshold
from pytest_mlgate.gate.decision import gate_all
from pytest_mlgate.gate.verdicts import Anchor, Caveat, GateOutcome, Reference, Status
from pytest_mlgate.results import EvalRun, MetricResult, TaskResult
from tests.outcomes import outcome

N = 100


def task(name: str, scores: list[float]) -> TaskResult:
    metric = MetricResult(
        name, "acc,none", sum(scores) / len(scores), None, len(scores), True,
        tuple(range(len(scores))), tuple(scores),
    )  # fmt: skip
    return TaskResult(name, {"acc,none": metric}, len(scores))


def scores(right: int, lost: int = 0) -> list[float]:
    """``right`` of N right, the first ``lost`` of them turned wrong."""
    return [0.0] * lost + [1.0] * (right - lost) + [0.0] * (N - right)


def kinds(now: list[float], other: list[float]) -> dict[str, str]:
    """The same two score vectors compared as each kind of comparison: the reason of each."""
    settings = GateConfig(max_drop=0.02, max_drift=0.02)
    base = outcome("b", EvalRun({"t": task("t", other)}))
    current = EvalRun({"t": task("t", now)})
    plain = MetricThreshold("t", "acc")
    reasons = {}
    [v] = gate_all([plain], current, base, settings).values()
    reasons["baseline"] = v.reason
    [v] = gate_all([plain], current, None, settings, anchor=Anchor(base, "v1")).values()
    reasons["anchor"] = v.reason
    [v] = gate_all([plain], current, None, settings, reference=Reference(base, "ref")).values()
    reasons["reference"] = v.reason
    variant = EvalRun({"t": task("t", other), "t@typo": task("t@typo", now)})
    gap = MetricThreshold("t@typo", "acc", max_gap=0.02)
    [v] = gate_all([gap], variant, None, settings).values()
    reasons["gap"] = v.reason
    return reasons


@pytest.mark.parametrize(("lost", "outcome_word"), [(0, "within"), (3, "noise"), (20, "fails")])
def test_every_kind_reads_and_decides_alike(lost: int, outcome_word: str) -> None:
    """One rule, four kinds: each kind's text has the same parts (the other run and its value,
    delta, CI, p, test, n) and the same ending, only the word for the loss differs."""
    reasons = kinds(scores(80, lost), scores(80))
    words = {"baseline": "drop", "anchor": "drift", "reference": "drop", "gap": "gap"}
    names = {
        "baseline": "vs baseline 0.8000 (run b)",
        "anchor": "vs anchor v1 0.8000",
        "reference": "vs reference ref 0.8000",
        "gap": "vs clean t 0.8000",
    }
    for kind, reason in reasons.items():
        part = reason[reason.index(names[kind]) :]
        assert f", delta {-lost / N:+.4f} [95% CI" in part, kind
        # 0/1 scores against a margin > 0: Tango's score test (before: McNemar's test of "drop > 0")
        assert f"(tango-score, n={N}): " in part, kind
        rule = (
            "max_gap 0.02"
            if kind == "gap"
            else "max_drift 0.02"
            if kind == "anchor"
            else ("max_drop 0.02")
        )
        if outcome_word == "within":
            assert f": within {rule}" in part, kind
        elif outcome_word == "noise":
            # before: the anchor's, reference's and gap's warnings gave no detectable drop
            word = words[kind]
            tested = f"({word} 3.0 pp > margin 2 pp, p = "
            assert f"{word} of 0.0300 > {rule} is not significant at alpha 0.05 {tested}" in part
            assert "minimum detectable drop at n=100 is 0." in part, kind
        else:
            word = words[kind]
            assert (
                f": significant {word} of 0.2000 > {rule}: {word} 20.0 pp > margin 2 pp, p = "
                in part
            )


def test_a_kind_without_its_other_run_says_so_the_same_way() -> None:
    """A variant without its clean task, a reference without the task: both fail naming what is
    missing; an anchor without it passes, noting it (an anchor is never a reason to fail)."""
    settings = GateConfig(max_drift=0.02)
    lone = EvalRun({"t@typo": task("t@typo", scores(80))})
    gap = MetricThreshold("t@typo", "acc", max_gap=0.02)
    [v] = gate_all([gap], lone, None, settings).values()
    assert v.status is Status.FAIL
    assert "vs clean t: not evaluated (" in v.reason  # before: "no clean 't' to measure ..."
    elsewhere = outcome("o", EvalRun({"u": task("u", scores(80))}))
    current = EvalRun({"t": task("t", scores(80))})
    plain = MetricThreshold("t", "acc")
    [v] = gate_all([plain], current, None, settings, reference=Reference(elsewhere, "r")).values()
    assert v.status is Status.FAIL
    assert "vs reference r: not evaluated (" in v.reason
    [v] = gate_all([plain], current, None, settings, anchor=Anchor(elsewhere, "v1")).values()
    assert v.status is Status.PASS
    assert "vs anchor v1: not in it" in v.reason


def test_the_chance_guard_warning_survives_the_baseline_comparison() -> None:
    """``bounds.warning`` honoured: a score not significantly above chance warns even when the
    comparison with the baseline passes."""

    def mc(right: int) -> TaskResult:
        t = task("mc", [1.0] * right + [0.0] * (N - right))
        return TaskResult("mc", t.metrics, t.n, output_type="multiple_choice", chance=0.25)

    base = outcome("b", EvalRun({"mc": mc(31)}))
    [v] = gate_all(
        [MetricThreshold("mc", "acc")], EvalRun({"mc": mc(31)}), base, GateConfig(chance="warn")
    ).values()
    assert v.status is Status.WARN
    assert "within max_drop" in v.reason
    assert any(kind is Caveat.CHANCE for kind, _ in v.caveats)


def test_an_incomparable_change_resets_the_trend() -> None:
    """Four float32 runs, then (another dtype) one more and this run, each losing two more
    examples: among comparable runs the CUSUM passes h at this run (five changes of McNemar's
    z = 2 / sqrt(2) each); across the dtype change only the two bfloat16 runs enter it, and it
    does not alarm. (Before, Mann-Kendall: a one-off level shift at the change read as a trend,
    p = 0.004.)"""
    import dataclasses

    from pytest_mlgate.manifest import ModelInfo

    def at(run_id: str, right: int, dtype: str) -> tuple[EvalRun, GateOutcome]:
        run = EvalRun({"t": task("t", [1.0] * right + [0.0] * (N - right))})
        made = outcome(run_id, run)
        return run, dataclasses.replace(
            made, manifest=dataclasses.replace(made.manifest, model=ModelInfo(dtype=dtype))
        )

    history = [at(f"r{i}", 80 - 2 * i, "float32")[1] for i in range(4)]
    history.append(at("s0", 72, "bfloat16")[1])
    now, now_outcome = at("now", 70, "bfloat16")
    item = MetricThreshold("t", "acc")
    manifest = now_outcome.manifest
    [v] = gate_all([item], now, None, GateConfig(), manifest, history=history).values()
    assert v.trend is not None
    assert v.trend[2] == 2  # the run since the change and this one
    assert v.status is Status.PASS
    same = [dataclasses.replace(h, manifest=manifest) for h in history]
    [v] = gate_all([item], now, None, GateConfig(), manifest, history=same).values()
    assert v.trend is not None
    assert v.trend[2] == 6
    assert v.status is Status.WARN  # the same decline among comparable runs alarms
    assert "downward trend: CUSUM 4.6 > h 4.4 over the last 6 of 6 comparable runs" in v.reason


def _declining(steps: int = 6, lost: int = 2) -> tuple[list[GateOutcome], EvalRun]:
    """``steps`` recorded runs and this one, each losing ``lost`` more examples (McNemar's
    z = sqrt(lost) per change: five changes of 2 pass h = 4.4)."""
    runs = [EvalRun({"t": task("t", scores(90, lost * i))}) for i in range(steps + 1)]
    return [outcome(f"r{i}", r) for i, r in enumerate(runs[:-1])], runs[-1]


@pytest.mark.parametrize(
    ("on_trend", "status"), [("off", Status.PASS), ("warn", Status.WARN), ("fail", Status.FAIL)]
)
def test_on_trend_off_warn_fail(on_trend: str, status: Status) -> None:
    """off: no trend computed; warn: a TrendWarning caveat, the run passes; fail: the run
    fails, the text in its reason."""
    history, now = _declining(5)
    item = MetricThreshold("t", "acc")
    [v] = gate_all([item], now, None, GateConfig(on_trend=on_trend), history=history).values()
    assert v.status is status
    trend_caveats = [m for kind, m in v.caveats if kind is Caveat.TREND]
    if on_trend == "off":
        assert v.trend is None
        assert not trend_caveats
        return
    assert v.trend is not None
    statistic, h, runs = v.trend
    assert statistic > h
    assert runs == 6
    assert "downward trend: CUSUM 4.6 > h 4.4 over the last 6 of 6 comparable runs" in v.reason
    assert "in-control average run length 500 runs between false alarms" in v.reason
    assert bool(trend_caveats) is (on_trend == "warn")


def test_the_trend_stays_outside_the_holm_family_and_its_arl_covers_the_run() -> None:
    """A baseline comparison's adjusted p is the same with or without a trend over the
    history; with two trended metrics and error_rate = "run" each CUSUM runs at twice the ARL
    (a higher h), so the run as a whole keeps one false alarm per trend_arl runs on average."""
    history, now = _declining(5)
    base = history[-1]
    one = MetricThreshold("t", "acc")
    settings = GateConfig(max_drop=0.0)
    [plain] = gate_all([one], now, base, settings).values()
    [trended] = gate_all([one], now, base, settings, history=history).values()
    assert trended.p_adjusted == plain.p_adjusted
    assert trended.trend is not None
    two = {"t": now["t"], "u": now["t"]}
    runs = [EvalRun({"t": h.run["t"], "u": h.run["t"]}) for h in history]
    both = [outcome(f"b{i}", r) for i, r in enumerate(runs)]
    items = [one, MetricThreshold("u", "acc")]
    verdicts = gate_all(items, EvalRun(two), None, GateConfig(), history=both)
    h_two = {v.trend[1] for v in verdicts.values() if v.trend is not None}
    assert h_two == {stats.cusum_threshold(1000)}
    assert trended.trend[1] == stats.cusum_threshold(500)
    family = gate_all(items, EvalRun(two), None, GateConfig(error_rate="family"), history=both)
    assert {v.trend[1] for v in family.values() if v.trend} == {trended.trend[1]}


def test_a_change_without_scores_or_stderr_restarts_the_series() -> None:
    """Standardized from the paired scores; from the standard errors when a run has no scores;
    a run with neither cannot be standardized, and the series starts again after it."""
    from pytest_mlgate.gate.trend import trend_series

    item = MetricThreshold("t", "acc")
    history, now = _declining(3)
    runs = [h.run for h in history] + [now]
    assert trend_series(item, runs, True).changes == pytest.approx([2**0.5] * 3)

    def without_scores(run: EvalRun, stderr: float | None) -> EvalRun:
        metric = run["t"].metrics["acc,none"]
        bare = replace(metric, scores=(), doc_ids=(), stderr=stderr)
        return EvalRun({"t": TaskResult("t", {"acc,none": bare}, N)})

    unscored = [without_scores(r, 0.03) for r in runs]
    assert trend_series(item, unscored, True).changes == pytest.approx([0.02 / 0.03 / 2**0.5] * 3)
    series = trend_series(item, [runs[0], without_scores(runs[1], None), *runs[2:]], True)
    assert series.changes == pytest.approx([2**0.5])  # only the change after the bare run
    assert series.runs == 2
