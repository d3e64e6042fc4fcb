"""Statistics checked against scipy (an independent implementation) and by simulation."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats as sp

from pytest_mlgate import stats


@pytest.mark.parametrize(("k", "n"), [(0, 1), (3, 10), (17, 40), (480, 1000), (4990, 10000)])
def test_binomial_cdf_matches_scipy(k: int, n: int) -> None:
    assert stats.binom_cdf(k, n) == pytest.approx(sp.binom.cdf(k, n, 0.5), rel=1e-9, abs=1e-300)


@pytest.mark.parametrize(("k", "n"), [(0, 10), (8, 10), (150, 200), (1, 1)])
def test_wilson_matches_scipy(k: int, n: int) -> None:
    ci = sp.binomtest(k, n).proportion_ci(confidence_level=0.95, method="wilson")
    low, high = stats.wilson_interval(k, n)
    assert (low, high) == pytest.approx((ci.low, ci.high), abs=1e-9)


def paired_sample(
    n: int, seed: int, flip_bad: float, flip_good: float
) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    base = (rng.random(n) < 0.7).astype(float)
    new = base.copy()
    r = rng.random(n)
    new[(base == 1) & (r < flip_bad)] = 0.0
    new[(base == 0) & (r < flip_good)] = 1.0
    return base, new


@pytest.mark.parametrize("seed", range(5))
def test_mcnemar_exact_matches_scipy_binomtest(seed: int) -> None:
    base, new = paired_sample(300, seed, flip_bad=0.08, flip_good=0.1)
    p, b, c = stats.mcnemar_exact(base, new)
    assert b == int(((base == 1) & (new == 0)).sum())
    assert c == int(((base == 0) & (new == 1)).sum())
    expected = sp.binomtest(b, b + c, 0.5, alternative="greater").pvalue
    assert p == pytest.approx(expected, rel=1e-9)
    # a lower-is-better 0/1 metric (an error flag) flips the roles of b and c
    p_low, b_low, c_low = stats.mcnemar_exact(1 - base, 1 - new, higher_is_better=False)
    assert (p_low, b_low, c_low) == pytest.approx((p, b, c))


def test_paired_bootstrap_ci_matches_scipy_bootstrap() -> None:
    rng = np.random.default_rng(3)
    base = rng.beta(2, 3, size=400)
    new = np.clip(base + rng.normal(-0.02, 0.1, size=400), 0, 1)
    _, (low, high) = stats.paired_bootstrap(base, new, iterations=4000, seed=1)
    ref = sp.bootstrap(
        (new - base,), np.mean, n_resamples=4000, method="percentile", random_state=2
    ).confidence_interval
    assert low == pytest.approx(ref.low, abs=0.003)
    assert high == pytest.approx(ref.high, abs=0.003)


@pytest.mark.parametrize(("shift", "seed"), [(-0.03, 1), (-0.01, 2), (0.0, 3), (0.02, 4)])
def test_paired_bootstrap_p_agrees_with_paired_t(shift: float, seed: int) -> None:
    rng = np.random.default_rng(seed)
    base = rng.beta(2, 2, size=600)
    new = np.clip(base + rng.normal(shift, 0.15, size=600), 0, 1)
    p, _ = stats.paired_bootstrap(base, new, iterations=4000, seed=seed)
    reference = sp.ttest_rel(new, base, alternative="less").pvalue
    assert p == pytest.approx(reference, abs=0.02)
    p_normal, _ = stats.paired_normal(base, new)
    assert p_normal == pytest.approx(reference, abs=0.005)


def test_unpaired_two_proportion_z_matches_formula() -> None:
    base = np.array([1.0] * 70 + [0.0] * 30)
    new = np.array([1.0] * 60 + [0.0] * 40)
    name, p, (low, high) = stats.unpaired_test(base, new)
    assert name == "two-proportion-z"
    pooled = 130 / 200
    z = (0.6 - 0.7) / np.sqrt(pooled * (1 - pooled) * (2 / 100))
    assert p == pytest.approx(sp.norm.cdf(z), rel=1e-9)
    assert low < -0.1 < high


def test_holm_adjustment() -> None:
    assert stats.holm([0.01, 0.04, 0.03, 0.005]) == pytest.approx([0.03, 0.06, 0.06, 0.02])
    assert stats.adjust([0.2, 0.9], "none") == [0.2, 0.9]
    assert stats.adjust([0.2, 0.9], "bonferroni") == [0.4, 1.0]


def test_compare_picks_the_test_for_the_data() -> None:
    base, new = paired_sample(200, 0, 0.2, 0.02)
    binary = stats.compare(base, new, paired=True)
    assert binary.test == "mcnemar-exact"
    assert binary.discordant is not None
    assert binary.delta == pytest.approx(new.mean() - base.mean())
    assert binary.p_value < 0.001
    assert binary.oriented_drop(higher_is_better=True) == pytest.approx(-binary.delta)
    continuous = stats.compare(base * 0.5 + 0.1, new * 0.5 + 0.1, paired=True)
    assert continuous.test == "sign-flip"  # before: paired-bootstrap (size above alpha at small n)
    unpaired = stats.compare(base[:150], new, paired=False)
    assert unpaired.test == "two-proportion-z"
    assert not unpaired.paired


def test_null_comparisons_raise_false_alarms_at_most_alpha() -> None:
    """Both runs drawn from the same per-example accuracy: alarms must stay at or below alpha."""
    rng = np.random.default_rng(2024)
    alpha, reps, n = 0.05, 2000, 400
    alarms = 0
    for _ in range(reps):
        q = rng.beta(3, 1.5, size=n)  # each example has its own chance of being answered right
        base = (rng.random(n) < q).astype(float)
        new = (rng.random(n) < q).astype(float)
        p, _, _ = stats.mcnemar_exact(base, new)
        alarms += p < alpha
    rate = alarms / reps
    tolerance = 3 * np.sqrt(alpha * (1 - alpha) / reps)  # 3 binomial standard errors
    assert rate <= alpha + tolerance, rate


def test_a_drop_of_the_minimum_detectable_size_is_caught_at_the_stated_power() -> None:
    rng = np.random.default_rng(7)
    alpha, reps, n, p = 0.05, 2000, 500, 0.7
    mde = stats.minimum_detectable_drop(n, p, alpha=alpha, power=0.8)
    assert 0.05 < mde < 0.15
    caught = 0
    for _ in range(reps):
        base = (rng.random(n) < p).astype(float)
        new = (rng.random(n) < p - mde).astype(float)  # independent errors, as the MDE assumes
        caught += stats.mcnemar_exact(base, new)[0] < alpha
    assert caught / reps == pytest.approx(0.8, abs=0.04)


def test_mde_shrinks_with_n_and_with_agreement() -> None:
    wide = stats.minimum_detectable_drop(120, 0.7)
    narrow = stats.minimum_detectable_drop(5000, 0.7)
    agreeing = stats.minimum_detectable_drop(120, 0.7, discordance=0.05)
    assert narrow < wide
    assert agreeing < wide
    assert stats.mcnemar_power(5000, narrow, stats.independent_discordance(0.7, narrow), 0.05) == (
        pytest.approx(0.8, abs=1e-6)
    )


def test_tiny_p_values_keep_their_precision() -> None:
    base = np.ones(300)
    new = np.concatenate([np.zeros(200), np.ones(100)])  # 200 right->wrong, none back
    p, b, c = stats.mcnemar_exact(base, new)
    assert (b, c) == (200, 0)
    assert p == pytest.approx(0.5**200, rel=1e-9)  # not 0.0 from 1 - cdf


def test_holm_ignores_nan_instead_of_lifting_everything_after_it() -> None:
    assert stats.holm([float("nan"), 1e-20, 1e-20]) == pytest.approx([1.0, 3e-20, 3e-20])


@pytest.mark.parametrize("higher_is_better", [True, False])
def test_identical_runs_without_variance_are_never_significant(higher_is_better: bool) -> None:
    zeros = np.zeros(3)
    assert stats.unpaired_test(zeros, zeros, higher_is_better)[1] == 1.0
    assert stats.paired_normal(zeros, zeros, higher_is_better)[0] == 1.0
    worse = np.ones(3) if not higher_is_better else -np.ones(3)
    assert stats.paired_normal(zeros, worse, higher_is_better)[0] == 0.0


@pytest.mark.parametrize(("drop", "p", "share"), [(0.02, 0.7, None), (0.03, 0.87, 0.05)])
def test_examples_needed_is_the_smallest_n_that_detects_the_drop(
    drop: float, p: float, share: float | None
) -> None:
    n = stats.examples_needed(drop, p, discordance=share)
    assert n is not None
    assert stats.minimum_detectable_drop(n, p, discordance=share) <= drop
    assert stats.minimum_detectable_drop(n - 1, p, discordance=share) > drop
    assert stats.examples_needed(1e-6, p, most=1000) is None  # beyond what the search allows
