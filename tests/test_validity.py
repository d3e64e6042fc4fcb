"""Gate validity, simulated in-process through the fake backend's results (seeded, bounded): the
run-level error rate, margins tested as margins, valid continuous tests at every n. Larger
repetition counts: ``python -m benchmarks.bench_validity``."""

from __future__ import annotations

import numpy as np
import pytest

from benchmarks import bench_validity as sim
from pytest_mlgate import stats


def at_most(rate: sim.Rate, level: float) -> bool:
    """The observed rate is consistent with at most ``level``: its 95% interval reaches it."""
    return rate.interval[0] <= level


def test_a_true_drop_at_the_margin_fails_at_most_alpha() -> None:
    """max_drop 0.02, true drop exactly 2 pp: fails at most alpha of the time (before: 15 %, the
    rule tested "drop > 0" and then compared the observed drop with the margin)."""
    rate = sim.true_drop(300, 0.02)
    print(rate.row())
    assert at_most(rate, 0.05)
    assert rate.rate < 0.09


def test_no_change_fails_far_less_than_alpha() -> None:
    rate = sim.true_drop(300, 0.0)
    assert rate.rate <= 0.02  # inside the margin the test of "drop > margin" rarely rejects


@pytest.mark.parametrize("realistic", [False, True])
def test_run_level_false_failures_with_every_family_on(realistic: bool) -> None:
    """Overall + five subgroups + a variant + the anchor, no real change: the run fails at most
    alpha of the time with error_rate = "run" (before: 10.5 % with margins 0, 9.6 % realistic)."""
    rate = sim.null_every_family(300, realistic=realistic)
    print(rate.row())
    assert at_most(rate, 0.05)
    assert rate.rate < 0.08


def test_per_family_correction_is_the_documented_weaker_guarantee() -> None:
    """The control: error_rate = "family" (today's behaviour) exceeds alpha per run."""
    rate = sim.null_every_family(300, realistic=False, error_rate="family")
    print(rate.row())
    assert rate.interval[0] > 0.05


@pytest.mark.parametrize("n", [1, 3, 5, 10, 30])
def test_the_continuous_paired_test_holds_its_size_at_every_n(n: int) -> None:
    """Before: the paired bootstrap rejected 45 % at n = 1, 18.5 % at n = 3, 10.5 % at n = 5."""
    rate = sim.continuous_size(400, n)
    print(rate.row())
    assert at_most(rate, 0.05)
    assert rate.rate <= 0.07


def test_one_example_can_never_fail_a_continuous_gate() -> None:
    """n = 1, the example going 0.9 -> 0.1: the exact sign-flip p-value is 0.5 (before: the
    bootstrap's 1/2001)."""
    assert stats.compare([0.9], [0.1], paired=True).p_value == pytest.approx(0.5)
    assert stats.compare([0.9] * 10, [0.1] + [0.9] * 9, paired=True).p_value == pytest.approx(0.5)


def test_collapsed_continuous_metrics_can_fail_after_the_correction() -> None:
    """21 continuous metrics at alpha 0.01 all collapsing 0.9 -> 0.1 (n = 200): each p-value is
    below alpha / 21, so Holm can fail them (before: the bootstrap's floor 1/2001 never could)."""
    rng = np.random.default_rng(7)
    resamples = stats.resamples_for(21, 0.01)
    assert resamples >= 20 * 21 / 0.01
    ps = []
    for i in range(21):
        base = np.clip(0.9 + rng.normal(0, 0.05, 200), 0, 1)
        new = np.clip(0.1 + rng.normal(0, 0.05, 200), 0, 1)
        ps.append(stats.compare(base, new, paired=True, resamples=resamples, seed=i).p_value)
    assert max(stats.holm(ps)) < 0.01


def test_a_p_value_of_zero_is_never_printed() -> None:
    assert stats.format_p(0.0) == "<1e-16"
    assert stats.format_p(1e-300) == "<1e-16"
    assert stats.format_p(0.0004) == "0.0004"


def test_tango_reduces_to_mcnemar_at_margin_zero_and_respects_the_margin() -> None:
    """At margin 0 Tango's statistic is McNemar's (b - c) / sqrt(b + c); a drop well inside the
    margin is not evidence of a drop beyond it."""
    b, c, n = 30, 10, 400
    z = (b - c) / (b + c) ** 0.5
    assert stats.tango_score(b, c, n, 0.0) == pytest.approx(1 - stats.normal_cdf(z))
    assert stats.tango_score(b, c, n, 0.10) > 0.99  # observed 5 pp, margin 10 pp
    assert stats.tango_score(b, c, n, 0.02) > stats.tango_score(b, c, n, 0.0)


def test_sign_flip_is_exact_up_to_twenty_and_seeded_above() -> None:
    values = np.array([-0.3, -0.2, -0.1, 0.05])
    # Exact: of 16 sign patterns, the observed sum (-0.55) and the one below it (-0.6): 2 / 16.
    assert stats.sign_flip(values) == pytest.approx(2 / 16)
    many = np.random.default_rng(1).normal(-0.05, 0.2, 100)
    same = stats.sign_flip(many, resamples=4000, seed=3)
    assert same == stats.sign_flip(many, resamples=4000, seed=3)
    assert same >= 1 / 4001


@pytest.mark.parametrize(("n", "margin"), [(400, 0.0), (400, 0.02), (80, 0.0)])
def test_stated_power_is_the_simulated_power_of_the_test_run(n: int, margin: float) -> None:
    """The minimum detectable drop stated for (n, margin, adjusted alpha) is detected about 80 %
    of the time by the test the gate runs (before: a normal approximation, 4-6 % too small)."""
    alpha, share, p = 0.05 / 8, 0.2, 0.7
    mde = stats.exact_minimum_detectable_drop(n, p, alpha, 0.8, share, margin)
    rng = np.random.default_rng(11)
    reps, hits = 1000, 0
    for _ in range(reps):
        t = rng.binomial(n, share)
        b = rng.binomial(t, (share + mde) / (2 * share))
        base = np.array([1.0] * b + [0.0] * (t - b) + [1.0] * (n - t))
        new = np.array([0.0] * b + [1.0] * (t - b) + [1.0] * (n - t))
        hits += stats.compare(base, new, paired=True, margin=margin).p_value <= alpha
    low, high = stats.wilson_interval(hits, reps)
    assert low <= 0.8 <= high + 0.02


@pytest.mark.parametrize(("n", "margin", "alpha"), [(50, 0.02, 0.05), (400, 0.05, 0.00625)])
def test_the_power_sums_over_exactly_the_cells_the_margin_test_rejects(
    n: int, margin: float, alpha: float
) -> None:
    """The power loop decides each (right->wrong, wrong->right) cell by the critical z, not by
    a p-value per cell: every cell's decision is the test's own (``tango_score(...) <= alpha``),
    the boundary cells included."""
    for t in range(1, n + 1):
        b = np.arange(0, t + 1, dtype=np.float64)
        region = stats._tango_rejects(b, t - b, n, margin, alpha)
        test = [stats.tango_score(int(x), int(t - x), n, margin) <= alpha for x in b]
        assert region.tolist() == test, t


def test_every_planned_comparison_gets_its_power_and_subgroups_warn() -> None:
    """Whole task, anchor and each subgroup item get a minimum detectable drop; n = 80 per
    subgroup with max_drop 0.02 is far beyond twice the margin: a PowerWarning names it."""
    from pytest_mlgate.config.schema import GateConfig, MetricThreshold
    from pytest_mlgate.gate.power import plan_power, power_warnings

    model = sim.Model(np.random.default_rng(2))
    baseline = sim.recorded("b", sim.run_of(model.draw()))
    item = MetricThreshold("t", "acc", max_drop=0.02, subgroups=True, min_subgroup_n=30)
    config = GateConfig(max_drop=0.02, anchor="tag:v*", max_drift=0.05)
    planned = plan_power([item], baseline, config, {("t", "acc,none"): 0.2})
    labels = [c.label for c in planned]
    assert labels[:2] == ["t acc vs baseline", "t acc vs the anchor"]
    assert [c.n for c in planned[2:]] == [80] * 5
    assert all(c.alpha == pytest.approx(0.05 / 7) for c in planned)
    assert planned[2].detectable > planned[0].detectable > 0.04
    messages = power_warnings([item], baseline, config, {("t", "acc,none"): 0.2})
    assert any(
        m.startswith("t acc[g0] vs baseline: n=80: the minimum detectable drop") for m in messages
    )
    head = plan_power([MetricThreshold("t", "acc", min_ratio=0.9)], baseline, config, None, True)
    labels = [c.label for c in head]
    assert labels == ["t acc vs baseline", "t acc vs the reference", "t acc vs the anchor"]
    assert head[1].margin == pytest.approx(0.1 * baseline.run["t"].metric("acc").value)
    assert head[1].detectable > 0


def test_a_flat_noisy_history_rarely_raises_a_trend_alarm() -> None:
    """No erosion, 20 consecutive recordings against a sliding 30-run history (n = 479, 5 % of
    the answers changing each run): the CUSUM alarms in a few % of sequences (ARL 500: about
    4 %); the per-run Mann-Kendall rule before it in most of them."""
    rate = sim.trend_false_alarms(40, "gate")
    before = sim.trend_false_alarms(40, "mann-kendall")
    print(rate.row(), before.row(), sep="\n")
    assert at_most(rate, 0.05)
    assert rate.rate <= 0.1
    assert before.interval[0] > 0.2


def test_an_erosion_is_flagged_once_not_on_every_later_run() -> None:
    """Two runs losing 3 pp each (one change point), then 23 flat runs, each gated against the
    last 30: one alarm, at the second eroded run; the CUSUM restarts after it, so the runs after
    it do not alarm again. Mann-Kendall per run (the rule before) alarmed on most of the runs
    that followed, for as long as the drop stayed in its window."""
    from pytest_mlgate.config.schema import GateConfig, MetricThreshold
    from pytest_mlgate.gate.decision import gate_all
    from pytest_mlgate.gate.verdicts import Caveat

    walk = sim.Wandering(np.random.default_rng(1))
    runs = [sim.run_of(walk.step()) for _ in range(sim.TREND_HISTORY)]
    alarms, before = [], []
    for step in range(1, 26):
        runs.append(sim.run_of(walk.step(0.03 if step <= 2 else 0.0)))
        history = [sim.recorded(f"h{i}", r) for i, r in enumerate(runs[-31:-1])]
        item = MetricThreshold("t", "acc")
        [v] = gate_all([item], runs[-1], None, GateConfig(), history=history).values()
        if any(kind is Caveat.TREND for kind, _ in v.caveats):
            alarms.append(step)
        values = [r["t"].metric("acc").value for r in runs[-31:]]
        if stats.mann_kendall_down(values)[1] < 0.05:
            before.append(step)
    assert alarms == [2]
    assert len(before) >= 10


def test_a_single_failing_drop_is_not_repeated_as_a_trend_alarm() -> None:
    """A run 20 pp below a flat history fails its baseline comparison; the CUSUM over that one
    change alarms too, but says nothing the failure does not: no trend caveat or text on the
    failed verdict (its CUSUM figures stay). A drop within the margin keeps the alarm, and so
    does a failure that ends an erosion over several runs."""
    from pytest_mlgate.config.schema import GateConfig, MetricThreshold
    from pytest_mlgate.gate.decision import gate_all
    from pytest_mlgate.gate.verdicts import Caveat, Status

    walk = sim.Wandering(np.random.default_rng(3))
    flat = [sim.run_of(walk.step()) for _ in range(10)]
    history = [sim.recorded(f"h{i}", r) for i, r in enumerate(flat)]

    def gated(*later: list[float], floor: float | None = None) -> tuple[object, ...]:
        runs = [sim.run_of(scores) for scores in later]
        past = history + [sim.recorded(f"l{i}", r) for i, r in enumerate(runs[:-1])]
        gated_item = MetricThreshold("t", "acc", min=floor, max_drop=0.05)
        [v] = gate_all([gated_item], runs[-1], past[-1], GateConfig(), history=past).values()
        trend = any(kind is Caveat.TREND for kind, _ in v.caveats) or "downward trend" in v.reason
        return v.status, trend, v.trend is not None

    right = walk.right.astype(bool)  # the last flat run's answers
    lost = np.flatnonzero(right)

    def dropped(share: float) -> list[float]:
        out = right.copy()
        out[lost[: int(share * sim.TREND_N)]] = False
        return [float(x) for x in out]

    assert gated(dropped(0.20)) == (Status.FAIL, False, True)
    assert gated(dropped(0.035)) == (Status.WARN, True, True)  # within the margin: it says so
    # two smaller drops, the second failing a floor: the alarm is the erosion's, and it stays
    second = dropped(0.04)
    floor = float(np.mean(second)) + 0.001
    assert gated(dropped(0.02), second, floor=floor) == (Status.FAIL, True, True)


def test_the_stated_average_run_length_is_the_cusums() -> None:
    """h from the Markov-chain ARL: the textbook one-sided figures (k = 0.5: h = 4 gives 336
    runs, h = 5 gives 930; a 1-SE shift is found in 8.4 and 10.4 runs), and the simulated
    in-control run length with the gate's McNemar z is at least the stated 500 runs."""
    assert stats.cusum_arl(4.0) == pytest.approx(336, rel=0.01)
    assert stats.cusum_arl(5.0) == pytest.approx(930, rel=0.01)
    assert stats.cusum_arl(4.0, shift=1.0) == pytest.approx(8.38, rel=0.01)
    assert stats.cusum_arl(5.0, shift=1.0) == pytest.approx(10.38, rel=0.01)
    h = stats.cusum_threshold(500)
    assert stats.cusum_arl(h) == pytest.approx(500, rel=1e-3)
    simulated = sim.trend_arl(300)
    print(simulated.row())
    assert simulated.interval[1] >= 500


def test_cusum_restarts_after_an_alarm_and_counts_its_span() -> None:
    found = stats.cusum_down([0.0, 3.0, 3.0, 0.0], h=4.0)
    assert (found.alarmed, found.alarms, found.statistic) == (False, 1, 0.0)
    found = stats.cusum_down([-1.0, 2.5, 2.5], h=3.5)
    assert (found.alarmed, found.alarms, found.statistic) == (True, 0, 4.0)
    assert found.runs == 3  # the run it stood at zero at, and the two that raised it
