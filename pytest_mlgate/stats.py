"""Paired tests, confidence intervals and power, vectorised with numpy (no scipy at run time).

The gate asks one question per metric: did the new checkpoint get *worse* than the baseline on
the same examples, by more than noise explains? So the tests here are one-sided ("drop"), on
per-example differences ``new - baseline`` oriented so that a positive difference is better:

- 0/1 scores (accuracy, exact match): the exact McNemar test, i.e. a binomial test on the
  discordant pairs (``b`` right→wrong, ``c`` wrong→right; under no change ``b ~ Bin(b+c, 1/2)``).
- 0/1 scores against a margin ``d > 0`` ("the drop is at most d"): Tango's score test for the
  difference of paired proportions, the nuisance (wrong->right share) at its restricted MLE.
- continuous scores (F1, BLEU per example, ...): a sign-flip permutation test of the mean paired
  difference (shifted by the margin), enumerated exactly up to ``EXACT_FLIP_MAX_N`` pairs so its
  size is at most alpha at every n; above it a Monte Carlo sign-flip with enough resamples for the
  run's correction (seeded from the comparison), and above ``BOOTSTRAP_MAX_N`` pairs a paired
  z-test, accurate at that n.
- ``min_ratio``: a test of ``mean(new - ratio * baseline) < 0`` on the per-pair values.
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
EXACT_FLIP_MAX_N = 20  #: 2**20 sign patterns: enumerated, the test is exact
MIN_RESAMPLES, MAX_RESAMPLES = 2000, 200_000
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
    if p < 1e-16:  # below double precision of 1 - p: never "0", which no test can show
        return "<1e-16"
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
PAIRED_TESTS = (
    "mcnemar-exact",
    "tango-score",
    "sign-flip-exact",
    "sign-flip",
    "paired-normal",
    "paired-bootstrap",  # written by releases before the sign-flip test
)


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
    baseline: Array,
    new: Array,
    higher_is_better: bool = True,
    level: float = 0.95,
    margin: float = 0.0,
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
    # Against a margin the null is "the loss is the margin": the observed loss less the margin,
    # on the unpooled standard error (the pooled one assumes equal proportions).
    shifted = delta + margin if higher_is_better else delta - margin
    se_null = se0 if margin == 0 else se
    if se_null == 0:
        p = _degenerate_p(shifted, higher_is_better)
    else:
        z = shifted / se_null
        p = normal_cdf(z) if higher_is_better else 1 - normal_cdf(z)
    return (name, p, (delta - z_half, delta + z_half))


def tango_score(b: int, c: int, n: int, margin: float) -> float:
    """Tango's score test for paired proportions against a margin: the one-sided p-value for
    "the drop is larger than ``margin``", where the drop is ``(b - c) / n`` (``b`` right->wrong,
    ``c`` wrong->right). The wrong->right share is taken at its maximum likelihood under
    "drop = margin" (Tango 1998), which keeps the test's size near alpha at small n where a Wald
    test's is not."""
    if n <= 0:
        return 1.0
    d = min(max(margin, 0.0), 1.0 - 1e-12)
    # Restricted MLE of p01 under p10 - p01 = d: the root of 2n p^2 + B p + C = 0.
    big_b = d * (2 * n - b + c) - (b + c)
    big_c = -c * d * (1 - d)
    p01 = (-big_b + math.sqrt(max(big_b * big_b - 8 * n * big_c, 0.0))) / (4 * n)
    variance = n * (2 * p01 + d * (1 - d))
    excess = b - c - n * d
    if variance <= 0:
        return 0.0 if excess > 0 else 1.0
    return 1 - normal_cdf(excess / math.sqrt(variance))


def resamples_for(comparisons: int, alpha: float) -> int:
    """Monte Carlo resamples whose p-value resolution is finer than the smallest level the run's
    correction can ask for (alpha / comparisons): about 20 * comparisons / alpha, capped."""
    wanted = math.ceil(20 * max(comparisons, 1) / max(alpha, 1e-9))
    return max(MIN_RESAMPLES, min(MAX_RESAMPLES, wanted))


def sign_flip(values: Array, *, resamples: int = MIN_RESAMPLES, seed: int = 0) -> float:
    """One-sided sign-flip permutation p-value for "mean(values) < 0". Under the null the values
    are symmetric about 0, so every sign pattern is equally likely: enumerated exactly up to
    ``EXACT_FLIP_MAX_N`` values (the size is at most alpha at every n), else ``resamples`` random
    patterns with the (k + 1) / (B + 1) estimate (never 0, valid at every B)."""
    v = np.asarray(values, dtype=np.float64)
    n = v.size
    if n == 0:
        return 1.0
    observed = float(v.sum())
    tol = 1e-9 * max(1.0, float(np.abs(v).sum()))
    magnitudes = np.abs(v)
    if n <= EXACT_FLIP_MAX_N:
        hits = 0
        rows = 1 << n
        chunk = 1 << 16
        bits = 1 << np.arange(n, dtype=np.int64)
        for start in range(0, rows, chunk):
            codes = np.arange(start, min(rows, start + chunk), dtype=np.int64)
            signs = np.where((codes[:, None] & bits) != 0, -1.0, 1.0)
            hits += int(np.count_nonzero(signs @ magnitudes <= observed + tol))
        return hits / rows
    rng = np.random.default_rng(seed)
    hits = 0
    chunk = max(1, min(resamples, 4_000_000 // n))
    for start in range(0, resamples, chunk):
        rows = min(resamples, start + chunk) - start
        signs = rng.integers(0, 2, size=(rows, n), dtype=np.int8) * 2 - 1
        hits += int(np.count_nonzero(signs @ magnitudes <= observed + tol))
    return (hits + 1) / (resamples + 1)


def mean_below_zero(
    values: Array, *, resamples: int = MIN_RESAMPLES, seed: int = 0
) -> tuple[str, float]:
    """The test for "mean(values) < 0" on per-pair values: sign-flip up to ``BOOTSTRAP_MAX_N``,
    a one-sided z-test above (the mean of thousands of bounded values is normal)."""
    v = np.asarray(values, dtype=np.float64)
    if v.size <= EXACT_FLIP_MAX_N:
        return "sign-flip-exact", sign_flip(v)
    if v.size <= BOOTSTRAP_MAX_N:
        # Bounded work (about 2e8 sign products): at n = 5000 still 40,000 resamples.
        affordable = max(MIN_RESAMPLES, 200_000_000 // v.size)
        return "sign-flip", sign_flip(v, resamples=min(resamples, affordable), seed=seed)
    se = float(v.std(ddof=1)) / math.sqrt(v.size)
    mean = float(v.mean())
    if se == 0:
        return "paired-normal", 0.0 if mean < 0 else 1.0
    return "paired-normal", normal_cdf(mean / se)


def drop_test(
    baseline: Array,
    new: Array,
    *,
    higher_is_better: bool = True,
    margin: float = 0.0,
    ratio: float | None = None,
    resamples: int = MIN_RESAMPLES,
    seed: int = 0,
) -> tuple[str, float, tuple[int, int] | None]:
    """The gate's one test on paired per-example scores: (test, one-sided p for "the loss is
    larger than the margin", the discordant counts of 0/1 scores). ``margin`` is the largest
    allowed loss (``max_drop``, ``max_drift``, ``max_gap``); with ``ratio`` (``min_ratio``) the
    null is "new >= ratio * baseline" (for a lower-is-better metric "new <= baseline / ratio").
    A pure function of (scores, margin, level-independent p): the sequential gate evaluates it
    look by look."""
    base = np.asarray(baseline, dtype=np.float64)
    cur = np.asarray(new, dtype=np.float64)
    binary = bool(np.isin(base, (0.0, 1.0)).all() and np.isin(cur, (0.0, 1.0)).all())
    if ratio is not None:
        values = cur - ratio * base if higher_is_better else base - ratio * cur
        name, p = mean_below_zero(values, resamples=resamples, seed=seed)
        return name, p, None
    if binary:
        p_mc, b, c = mcnemar_exact(base, cur, higher_is_better)
        if margin <= 0:
            return "mcnemar-exact", p_mc, (b, c)
        return "tango-score", tango_score(b, c, base.size, margin), (b, c)
    oriented = (cur - base) if higher_is_better else (base - cur)
    name, p = mean_below_zero(oriented + margin, resamples=resamples, seed=seed)
    return name, p, None


def compare(
    baseline: Array,
    new: Array,
    *,
    paired: bool,
    higher_is_better: bool = True,
    level: float = 0.95,
    margin: float = 0.0,
    ratio: float | None = None,
    resamples: int = MIN_RESAMPLES,
    seed: int = 0,
) -> Comparison:
    """The gate's comparison of one metric: the right test for the data, one-sided for a loss
    beyond ``margin`` (or below ``ratio`` of the baseline)."""
    base = np.asarray(baseline, dtype=np.float64)
    cur = np.asarray(new, dtype=np.float64)
    value, base_value = float(cur.mean()), float(base.mean())
    delta = value - base_value
    if not paired:
        allowed = margin if ratio is None else ratio_allowance(ratio, base_value, higher_is_better)
        name, p, ci = unpaired_test(base, cur, higher_is_better, level, margin=allowed)
        return Comparison(name, False, min(base.size, cur.size), base_value, value, delta, ci, p)
    name, p, discordant = drop_test(
        base,
        cur,
        higher_is_better=higher_is_better,
        margin=margin,
        ratio=ratio,
        resamples=resamples,
        seed=seed,
    )
    ci = _mean_ci(cur - base, level)
    return Comparison(name, True, base.size, base_value, value, delta, ci, p, discordant)


def ratio_allowance(ratio: float, value: float, higher_is_better: bool) -> float:
    """``min_ratio``'s allowed loss against ``value``: ``(1 - ratio) * value``, or for a
    lower-is-better metric ``(1 / ratio - 1) * value`` (the ratio inverted)."""
    return (1 - ratio) * value if higher_is_better else (1 / ratio - 1) * value


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


#: The CUSUM's reference value, in standard errors of a run-to-run change: half the shift it
#: detects fastest. One standard error per run is the issue's erosion: 1 pp per run at n = 479
#: with 5 % of the examples changing answers between runs is 0.98 of one.
CUSUM_K = 0.5


@dataclass(frozen=True)
class Cusum:
    """Page's one-sided CUSUM over a series of standardized run-to-run changes (positive:
    worse), restarted at zero after each alarm so that one change point gives one alarm."""

    statistic: float  #: after the last change (the value that alarmed, before its restart)
    alarmed: bool  #: whether the last change took it past the threshold
    runs: int  #: the runs it accumulated over: since it last stood at zero, the last included
    alarms: int  #: alarms earlier in the series (each restarted it)


def cusum_down(changes: Sequence[float], h: float, k: float = CUSUM_K) -> Cusum:
    """S_t = max(0, S_{t-1} + z_t - k), alarm when S_t > h, then S_t = 0 again.

    ``changes`` are z_t, each run's change from the previous comparable run in standard errors,
    oriented so that a drop is positive. A CUSUM rather than a test per window: its average run
    length between false alarms is a property of (k, h) alone (``cusum_arl``), so the chance of
    a false alarm over many consecutive runs is stated, where a per-run test at alpha raises one
    alarm in about 1/alpha runs per window it re-reads."""
    s, start, alarms, alarmed = 0.0, 0, 0, False
    for t, z in enumerate(changes, start=1):
        if alarmed:  # the previous change alarmed: start over from the run it alarmed at
            s, start, alarms = 0.0, t - 1, alarms + 1
        s = max(0.0, s + z - k)
        alarmed = s > h
        if s == 0.0:
            start = t
    return Cusum(s, alarmed, len(changes) - start + 1, alarms)


def _normal_cdf_array(x: Array) -> Array:
    dist = NormalDist()
    flat = np.asarray(x, dtype=np.float64).ravel()
    return np.array([dist.cdf(float(v)) for v in flat]).reshape(np.shape(x))


def cusum_arl(h: float, k: float = CUSUM_K, shift: float = 0.0, states: int = 200) -> float:
    """The average run length of ``cusum_down`` from a start at zero when the changes are
    independent N(shift, 1): ``shift = 0`` is the in-control ARL (runs to a false alarm),
    ``shift > 0`` the delay to detect a drop of ``shift`` standard errors per run.

    Brook and Evans' Markov chain: [0, h] cut into ``states`` cells of width w = 2h/(2·states
    − 1), cell 0 holding the mass at zero; ARL = (I − R)⁻¹·1 at cell 0, R the transitions among
    the cells that have not alarmed. 200 cells agree with simulation to well under 1 %."""
    w = 2.0 * h / (2 * states - 1)
    offsets = np.arange(-(states - 1), states, dtype=np.float64)  # j - i, every pair of cells
    upper = _normal_cdf_array((offsets + 0.5) * w + k - shift)
    lower = _normal_cdf_array((offsets - 0.5) * w + k - shift)
    index = np.arange(states)
    steps = index[None, :] - index[:, None] + states - 1  # row i, column j -> offset j - i
    moves = upper[steps] - lower[steps]
    moves[:, 0] = upper[steps[:, 0]]  # everything at or below the first cell lands at zero
    lengths = np.linalg.solve(np.eye(states) - moves, np.ones(states))
    return float(lengths[0])


_THRESHOLDS: dict[tuple[float, float], float] = {}


def cusum_threshold(arl: float, k: float = CUSUM_K) -> float:
    """The decision threshold h whose in-control ARL (``cusum_arl``) is ``arl`` runs, to 1e-4
    (bisection; ARL grows with h). Cached: a run asks once per distinct ARL."""
    key = (float(arl), float(k))
    if key not in _THRESHOLDS:
        low, high = 0.0, 4.0
        while cusum_arl(high, k) < arl:
            low, high = high, high * 2
        while high - low > 1e-4:
            mid = (low + high) / 2
            low, high = (mid, high) if cusum_arl(mid, k) < arl else (low, mid)
        _THRESHOLDS[key] = high
    return _THRESHOLDS[key]


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


def _log_factorials(n: int) -> Array:
    """log k! for k = 0..n (cumulative sums of log k)."""
    return np.concatenate(([0.0], np.cumsum(np.log(np.arange(1, n + 1, dtype=np.float64)))))


def _binom_pmf(n: int, p: float, ks: Array, log_fact: Array) -> Array:
    """Binomial pmf at integer ``ks`` (vectorised, in log space; ``log_fact`` up to n)."""
    ks = np.asarray(ks, dtype=np.int64)
    if p <= 0 or p >= 1:
        at = 0 if p <= 0 else n
        return (ks == at).astype(np.float64)
    log = (
        log_fact[n] - log_fact[ks] - log_fact[n - ks] + ks * math.log(p) + (n - ks) * math.log1p(-p)
    )
    return np.asarray(np.exp(log))


def _tango_rejects(b: Array, c: Array, n: int, margin: float, alpha: float) -> Array:
    """Where ``tango_score`` over arrays of (b, c) is at or below ``alpha``. Its p-value is
    1 - Phi(z), decreasing in z, so the test rejects where z reaches Phi^-1(1 - alpha): one
    comparison per cell instead of a normal CDF each (the power loop asks for millions). The
    few z within 1e-6 of the critical value get the p-value itself, so the region is the
    test's to the last cell."""
    d = min(max(margin, 0.0), 1.0 - 1e-12)
    big_b = d * (2 * n - b + c) - (b + c)
    big_c = -c * d * (1 - d)
    p01 = (-big_b + np.sqrt(np.maximum(big_b * big_b - 8 * n * big_c, 0.0))) / (4 * n)
    variance = np.maximum(n * (2 * p01 + d * (1 - d)), 1e-300)
    z = (b - c - n * d) / np.sqrt(variance)
    critical = normal_quantile(1 - alpha) if 0 < alpha < 1 else math.copysign(math.inf, 0.5 - alpha)
    rejects = z >= critical
    for i in np.flatnonzero(np.abs(z - critical) < 1e-6):
        rejects[i] = 1 - normal_cdf(float(z[i])) <= alpha
    return rejects


def paired_power(
    n: int, drop: float, discordance: float, alpha: float, margin: float = 0.0
) -> float:
    """Power of the paired 0/1 test the gate runs, exactly: McNemar's exact test at margin 0,
    Tango's score test against ``margin`` above it, at level ``alpha`` (pass the adjusted one).
    The discordant count t ~ Bin(n, discordance); given t, the right->wrong count
    b ~ Bin(t, (discordance + drop) / (2 discordance)); the power sums the probability of every
    (t, b) the test rejects. No normal shortcut."""
    if n <= 0 or drop <= 0:
        return 0.0
    share = min(max(discordance, drop), 1.0)
    lean = min(1.0, (share + drop) / (2 * share))
    sd = math.sqrt(n * share * (1 - share)) + 1
    low, high = max(0, int(n * share - 9 * sd)), min(n, int(n * share + 9 * sd) + 1)
    log_fact = _log_factorials(n)
    ts = np.arange(low, high + 1)
    weights = _binom_pmf(n, share, ts, log_fact)
    total = 0.0
    for t, weight in zip(ts.tolist(), weights.tolist(), strict=True):
        if weight < 1e-12 or t == 0:
            continue
        bs = np.arange(0, t + 1)
        if margin <= 0:  # exact McNemar: P(B >= b | t, 1/2), summed from the top
            rejects = np.cumsum(_binom_pmf(t, 0.5, bs, log_fact)[::-1])[::-1] <= alpha
        else:
            b, c = bs.astype(np.float64), (t - bs).astype(np.float64)
            rejects = _tango_rejects(b, c, n, margin, alpha)
        rejected = bs[rejects]
        if rejected.size:
            total += weight * float(_binom_pmf(t, lean, rejected, log_fact).sum())
    return min(1.0, total)


def exact_minimum_detectable_drop(
    n: int,
    p: float,
    alpha: float = 0.05,
    power: float = 0.8,
    discordance: float | None = None,
    margin: float = 0.0,
) -> float:
    """The smallest true drop the gate's own paired test detects with ``power`` at ``alpha``
    against ``margin`` (``paired_power``; the independent-errors discordance when none is
    measured). NaN when no drop up to the accuracy itself reaches the power."""
    if n <= 0 or not 0 < p <= 1:
        return math.nan

    def share(drop: float) -> float:
        return independent_discordance(p, drop) if discordance is None else discordance

    if paired_power(n, p, share(p), alpha, margin) < power:
        return math.nan
    low, high = 0.0, p
    for _ in range(18):  # resolution p / 2**18: far below a tenth of a point
        mid = (low + high) / 2
        if paired_power(n, mid, share(mid), alpha, margin) >= power:
            high = mid
        else:
            low = mid
    return high
