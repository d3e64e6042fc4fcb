"""Paired tests, confidence intervals and power, vectorised with numpy (no scipy at run time).

The gate asks one question per metric: did the new checkpoint get *worse* than the baseline on
the same examples, by more than noise explains? So the tests here are one-sided ("drop"), on
per-example differences ``new - baseline`` oriented so that a positive difference is better:

- 0/1 scores (accuracy, exact match): the exact McNemar test, i.e. a binomial test on the
  discordant pairs (``b`` right→wrong, ``c`` wrong→right; under no change ``b ~ Bin(b+c, 1/2)``).
- continuous scores (F1, BLEU per example, ...): a paired bootstrap of the mean difference,
  recentred under the null; above ``BOOTSTRAP_MAX_N`` pairs the mean difference is normal to
  well within the bootstrap's own Monte Carlo error, so a paired z-test is used instead.
- unpaired fallbacks when the example sets differ: a two-proportion z-test, or Welch's t
  approximated by the normal (n is in the hundreds for any task worth gating).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from statistics import NormalDist
from typing import Any

import numpy as np

_NORMAL = NormalDist()
BOOTSTRAP_MAX_N = 5000
Array = Any  # numpy arrays; numpy's own stubs are too loose to help here


def normal_quantile(p: float) -> float:
    return _NORMAL.inv_cdf(p)


def normal_cdf(x: float) -> float:
    return _NORMAL.cdf(x)


def wilson_interval(successes: int, n: int, level: float = 0.95) -> tuple[float, float]:
    """Wilson score interval for a binomial proportion (well behaved near 0 and 1, small n)."""
    if n <= 0:
        return (math.nan, math.nan)
    z = normal_quantile(0.5 + level / 2)
    p = successes / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return (max(0.0, centre - half), min(1.0, centre + half))


def binom_cdf(k: int, n: int, p: float = 0.5) -> float:
    """P(X <= k) for X ~ Bin(n, p), exact, in log space via the pmf recurrence (vectorised)."""
    if k < 0:
        return 0.0
    if k >= n:
        return 1.0
    ks = np.arange(0, k, dtype=np.float64)
    # log pmf(j+1) = log pmf(j) + log((n-j)/(j+1)) + log(p/(1-p))
    steps = np.log(n - ks) - np.log(ks + 1) + math.log(p) - math.log1p(-p)
    log_pmf = np.concatenate(([n * math.log1p(-p)], n * math.log1p(-p) + np.cumsum(steps)))
    peak = float(log_pmf.max())
    return float(min(1.0, math.exp(peak) * float(np.exp(log_pmf - peak).sum())))


def format_p(p: float | None, missing: str = "–") -> str:
    """How a p-value reads everywhere (reasons, terminal, HTML, Markdown): two significant digits
    below 0.001, three decimals above."""
    if p is None or math.isnan(p):
        return missing
    return f"{p:.2g}" if p < 0.001 else f"{p:.3f}"


def binomial_sf(k: int, n: int, p: float) -> float:
    """P(X >= k) for X ~ Bin(n, p)."""
    return 1.0 - binom_cdf(k - 1, n, p) if k > 0 else 1.0


def binomial_upper_bound(k: int, n: int, level: float = 0.95) -> float:
    """One-sided exact (Clopper-Pearson) upper confidence bound of a proportion: the largest p
    under which seeing at most k successes in n still has probability 1 - level."""
    if n <= 0:
        return math.nan
    if k >= n:
        return 1.0
    low, high = k / n, 1.0
    for _ in range(60):  # P(X <= k; p) falls as p grows: bisect for 1 - level
        mid = (low + high) / 2
        if binom_cdf(k, n, mid) > 1 - level:
            low = mid
        else:
            high = mid
    return high


# The tests that compare examples pair by pair (the others are unpaired fallbacks).
PAIRED_TESTS = ("mcnemar-exact", "paired-bootstrap", "paired-normal")


@dataclass(frozen=True)
class Comparison:
    """A new run against its baseline on one metric (differences oriented: positive = better)."""

    test: str  # mcnemar-exact, paired-bootstrap, paired-normal, two-proportion-z, welch-normal
    paired: bool
    n: int  # examples compared (pairs when paired)
    baseline: float
    value: float
    delta: float  # value - baseline, in the metric's own direction
    ci: tuple[float, float]  # of delta, two-sided at the requested level
    p_value: float  # one-sided: the evidence that the new run is worse
    discordant: tuple[int, int] | None = None  # (right->wrong, wrong->right), McNemar only

    def oriented_drop(self, higher_is_better: bool) -> float:
        """How much worse the new run is (positive = worse), whatever the metric's direction."""
        return -self.delta if higher_is_better else self.delta


def mcnemar_exact(
    baseline: Array, new: Array, higher_is_better: bool = True
) -> tuple[float, int, int]:
    """One-sided exact McNemar: p-value for "new is worse", and the discordant counts (b, c)."""
    base = np.asarray(baseline) > 0.5
    cur = np.asarray(new) > 0.5
    if not higher_is_better:
        base, cur = ~base, ~cur
    b = int(np.count_nonzero(base & ~cur))  # right -> wrong
    c = int(np.count_nonzero(~base & cur))  # wrong -> right
    # Under H0 each discordant pair is a fair coin; "worse" means many right->wrong: P(B >= b),
    # computed as P(B <= c) by symmetry, which keeps its precision when it is tiny.
    p = 1.0 if b + c == 0 else binom_cdf(c, b + c)

    return (min(1.0, max(0.0, p)), b, c)


def paired_binary_ci(baseline: Array, new: Array, level: float = 0.95) -> tuple[float, float]:
    """CI of the difference of two paired proportions (Wald on the per-pair differences)."""
    diff = np.asarray(new, dtype=np.float64) - np.asarray(baseline, dtype=np.float64)
    return _mean_ci(diff, level)


def _mean_ci(diff: Array, level: float) -> tuple[float, float]:
    n = diff.size
    if n == 0:
        return (math.nan, math.nan)
    mean = float(diff.mean())
    if n == 1:
        return (mean, mean)
    half = normal_quantile(0.5 + level / 2) * float(diff.std(ddof=1)) / math.sqrt(n)
    return (mean - half, mean + half)


def paired_bootstrap(
    baseline: Array,
    new: Array,
    *,
    higher_is_better: bool = True,
    iterations: int = 2000,
    level: float = 0.95,
    seed: int = 1234,
) -> tuple[float, tuple[float, float]]:
    """One-sided paired bootstrap: p-value for "new is worse" and a percentile CI of the delta.

    The null distribution resamples the differences recentred on zero; the p-value counts how
    often a null mean is at least as bad as the observed one ((k + 1) / (B + 1), never 0).
    Resampling is done in chunks so 100k examples x 2000 iterations stays within memory.
    """
    diff = np.asarray(new, dtype=np.float64) - np.asarray(baseline, dtype=np.float64)
    n = diff.size
    if n == 0:
        return (1.0, (math.nan, math.nan))
    observed = float(diff.mean())
    rng = np.random.default_rng(seed)
    means = np.empty(iterations, dtype=np.float64)
    chunk = max(1, min(iterations, 2_000_000 // max(n, 1)))
    for start in range(0, iterations, chunk):
        stop = min(iterations, start + chunk)
        idx = rng.integers(0, n, size=(stop - start, n))
        means[start:stop] = diff[idx].mean(axis=1)
    null = means - observed  # the resampled means, recentred under "no change"
    worse = null <= observed if higher_is_better else null >= observed
    p = (int(np.count_nonzero(worse)) + 1) / (iterations + 1)
    tail = (1 - level) / 2
    low, high = np.quantile(means, [tail, 1 - tail])
    return (p, (float(low), float(high)))


def unpaired_test(
    baseline: Array, new: Array, higher_is_better: bool = True, level: float = 0.95
) -> tuple[str, float, tuple[float, float]]:
    """When examples cannot be paired: two-proportion z (0/1) or Welch (normal approximation)."""
    base = np.asarray(baseline, dtype=np.float64)
    cur = np.asarray(new, dtype=np.float64)
    if base.size == 0 or cur.size == 0:
        return ("none", 1.0, (math.nan, math.nan))
    delta = float(cur.mean() - base.mean())
    binary = bool(np.isin(base, (0.0, 1.0)).all() and np.isin(cur, (0.0, 1.0)).all())
    if binary:
        name = "two-proportion-z"
        pooled = float((base.sum() + cur.sum()) / (base.size + cur.size))
        se0 = math.sqrt(max(pooled * (1 - pooled) * (1 / base.size + 1 / cur.size), 0.0))
        p1, p2 = float(base.mean()), float(cur.mean())
        se = math.sqrt(p1 * (1 - p1) / base.size + p2 * (1 - p2) / cur.size)
    else:
        name = "welch-normal"
        se = (
            math.sqrt(float(base.var(ddof=1)) / base.size + float(cur.var(ddof=1)) / cur.size)
            if base.size > 1 and cur.size > 1
            else 0.0
        )
        se0 = se
    z_half = normal_quantile(0.5 + level / 2) * se
    if se0 == 0:
        p = _degenerate_p(delta, higher_is_better)
    else:
        z = delta / se0
        p = normal_cdf(z) if higher_is_better else 1 - normal_cdf(z)
    return (name, p, (delta - z_half, delta + z_half))


def compare(
    baseline: Array,
    new: Array,
    *,
    paired: bool,
    higher_is_better: bool = True,
    level: float = 0.95,
    bootstrap_iterations: int = 2000,
    seed: int = 1234,
) -> Comparison:
    """The gate's comparison of one metric: the right test for the data, one-sided for a drop."""
    base = np.asarray(baseline, dtype=np.float64)
    cur = np.asarray(new, dtype=np.float64)
    value, base_value = float(cur.mean()), float(base.mean())
    delta = value - base_value
    if not paired:
        name, p, ci = unpaired_test(base, cur, higher_is_better, level)
        return Comparison(name, False, min(base.size, cur.size), base_value, value, delta, ci, p)
    binary = bool(np.isin(base, (0.0, 1.0)).all() and np.isin(cur, (0.0, 1.0)).all())
    if binary:
        p, b, c = mcnemar_exact(base, cur, higher_is_better)
        ci = paired_binary_ci(base, cur, level)
        return Comparison("mcnemar-exact", True, base.size, base_value, value, delta, ci, p, (b, c))
    if base.size > BOOTSTRAP_MAX_N:
        p, ci = paired_normal(base, cur, higher_is_better, level)
        return Comparison("paired-normal", True, base.size, base_value, value, delta, ci, p)
    p, ci = paired_bootstrap(
        base,
        cur,
        higher_is_better=higher_is_better,
        iterations=bootstrap_iterations,
        level=level,
        seed=seed,
    )
    return Comparison("paired-bootstrap", True, base.size, base_value, value, delta, ci, p)


def paired_normal(
    baseline: Array, new: Array, higher_is_better: bool = True, level: float = 0.95
) -> tuple[float, tuple[float, float]]:
    """One-sided z-test on the mean paired difference (large n), and its CI."""
    diff = np.asarray(new, dtype=np.float64) - np.asarray(baseline, dtype=np.float64)
    ci = _mean_ci(diff, level)
    se = float(diff.std(ddof=1)) / math.sqrt(diff.size) if diff.size > 1 else 0.0
    mean = float(diff.mean()) if diff.size else 0.0
    if se == 0:
        return (_degenerate_p(mean, higher_is_better), ci)
    z = mean / se
    return (normal_cdf(z) if higher_is_better else 1 - normal_cdf(z), ci)


def _degenerate_p(delta: float, higher_is_better: bool) -> float:
    """No variance at all: certainly worse only when the difference is strictly worse."""
    worse = delta < 0 if higher_is_better else delta > 0
    return 0.0 if worse else 1.0


def holm(p_values: Sequence[float]) -> list[float]:
    """Holm–Bonferroni adjusted p-values (step-down, monotone, capped at 1). A NaN p-value
    (an undefined test) counts as 1: it must not lift every p-value ranked after it."""
    p_values = [1.0 if math.isnan(p) else p for p in p_values]
    m = len(p_values)
    order = sorted(range(m), key=lambda i: p_values[i])
    adjusted = [0.0] * m
    running = 0.0
    for rank, index in enumerate(order):
        running = max(running, min(1.0, (m - rank) * p_values[index]))
        adjusted[index] = running
    return adjusted


def bonferroni(p_values: Sequence[float]) -> list[float]:
    return [1.0 if math.isnan(p) else min(1.0, p * len(p_values)) for p in p_values]


def adjust(p_values: Sequence[float], method: str) -> list[float]:
    if method == "holm":
        return holm(p_values)
    if method == "bonferroni":
        return bonferroni(p_values)
    if method == "none":
        return list(p_values)
    raise ValueError(f"unknown correction {method!r}: holm, bonferroni or none")


def mcnemar_power(n: int, drop: float, discordance: float, alpha: float) -> float:
    """Power of the one-sided McNemar test (normal approximation, Connor 1987).

    ``discordance`` is the share of examples whose correctness differs between the two runs;
    ``drop`` the true accuracy loss (= right->wrong share minus wrong->right share).
    """
    if drop <= 0 or n <= 0:
        return 0.0
    discordance = max(discordance, drop)
    spread = math.sqrt(max(discordance - drop * drop, 1e-12))
    z = (math.sqrt(n) * drop - normal_quantile(1 - alpha) * math.sqrt(discordance)) / spread
    return normal_cdf(z)


def independent_discordance(p: float, drop: float) -> float:
    """Discordance if the two runs' errors were independent: the conservative (largest) case."""
    q = p - drop
    return p * (1 - q) + (1 - p) * q


def minimum_detectable_drop(
    n: int,
    p: float,
    alpha: float = 0.05,
    power: float = 0.8,
    discordance: float | None = None,
) -> float:
    """Smallest accuracy drop the one-sided McNemar test detects with ``power`` at ``alpha``.

    Without a measured ``discordance`` the runs' errors are taken as independent, which gives
    the largest (most cautious) figure; checkpoints one PR apart usually agree far more.
    """
    if n <= 0 or not 0 < p <= 1:
        return math.nan
    low, high = 0.0, p
    for _ in range(60):  # bisection on a monotone power curve
        mid = (low + high) / 2
        share = independent_discordance(p, mid) if discordance is None else discordance
        if mcnemar_power(n, mid, share, alpha) >= power:
            high = mid
        else:
            low = mid
    return high


def examples_needed(
    drop: float,
    p: float,
    alpha: float = 0.05,
    power: float = 0.8,
    discordance: float | None = None,
    most: int = 10_000_000,
) -> int | None:
    """The fewest examples whose minimum detectable drop is at most ``drop`` (None: more than
    ``most``). Doubling, then bisection: the detectable drop shrinks as n grows."""

    def detects(n: int) -> bool:
        return minimum_detectable_drop(n, p, alpha, power, discordance) <= drop

    high = 1
    while not detects(high):
        if high >= most:
            return None
        high *= 2
    low = high // 2
    while high - low > 1:
        mid = (low + high) // 2
        if detects(mid):
            high = mid
        else:
            low = mid
    return high


def mann_kendall_down(values: Sequence[float]) -> tuple[float, float]:
    """The Mann-Kendall test for a monotone *downward* trend: (Kendall's S, one-sided p).

    Chosen because it asks exactly "do later runs score lower than earlier ones", with no
    assumption on the shape of the decline or the distribution of the scores (a regression
    slope would need both), and ties (unchanged values, common between checkpoints) are
    handled by the variance correction. S is the number of later-lower pairs subtracted from
    the later-higher ones; p uses the normal approximation with a continuity correction (exact
    enumeration below 4 values would be meaningless: nothing under 4 values is tested).
    """
    x = [v for v in values if math.isfinite(v)]
    n = len(x)
    if n < 4:
        return (0.0, 1.0)
    s = 0
    for i in range(n - 1):
        for j in range(i + 1, n):
            s += (x[j] > x[i]) - (x[j] < x[i])
    ties: dict[float, int] = {}
    for v in x:
        ties[v] = ties.get(v, 0) + 1
    variance = (
        n * (n - 1) * (2 * n + 5) - sum(t * (t - 1) * (2 * t + 5) for t in ties.values())
    ) / 18
    if variance <= 0:
        return (float(s), 1.0)
    z = (s + 1) / math.sqrt(variance) if s < 0 else (s - 1) / math.sqrt(variance) if s > 0 else 0.0
    return (float(s), normal_cdf(z))


def quantile_ratio(
    base: Sequence[float],
    new: Sequence[float],
    q: float,
    level: float = 0.95,
    iterations: int = 4000,
    seed: int = 0,
) -> tuple[float, tuple[float, float], float]:
    """How much slower ``new`` is than ``base`` at quantile ``q`` (latency samples): the ratio
    of the two quantiles, its bootstrap percentile CI (each sample resampled on its own: the
    requests are independent draws), and a one-sided p-value for "not slower" (the share of
    bootstrap ratios at or below 1)."""
    a, b = np.asarray(base, dtype=float), np.asarray(new, dtype=float)
    if a.size == 0 or b.size == 0:
        return math.nan, (math.nan, math.nan), math.nan
    observed = float(np.quantile(b, q) / np.quantile(a, q))
    rng = np.random.default_rng(seed)
    boot_a = np.quantile(a[rng.integers(0, a.size, (iterations, a.size))], q, axis=1)
    boot_b = np.quantile(b[rng.integers(0, b.size, (iterations, b.size))], q, axis=1)
    ratios = boot_b / boot_a
    tail = (1 - level) / 2
    low, high = np.quantile(ratios, [tail, 1 - tail])
    p = (1 + int(np.sum(ratios <= 1.0))) / (iterations + 1)
    return observed, (float(low), float(high)), p
