"""Group-sequential design: alpha spending, fail and pass-early bounds per look, margin score test.

The gate looks at a task's results after 10 %, 25 %, 50 % and 100 % of its documents (by default)
and stops once the verdict is known. Testing at every look with the fixed-n level would fail a
checkpoint whose true drop equals the margin far more often than ``alpha`` (the "peeking" pitfall),
so each look gets its own boundary from an alpha-spending function: the probability of failing at
or before information fraction ``t`` under the null (true drop = margin) is at most ``alpha(t)``.

- **Spending**: Hwang–Shih–DeCani, ``alpha(t) = alpha (1 - exp(-gamma t)) / (1 - exp(-gamma))``.
  ``gamma = -4`` behaves like O'Brien–Fleming (almost nothing spent early: late stops on clear
  regressions), ``gamma = 1`` like Pocock (much spent early: a high last boundary and lost power).
  The default ``gamma = -3`` sits between: see ``DEFAULT_GAMMA``.
- **Fail (efficacy) bounds** are computed exactly for the actual look sizes by recursive numerical
  integration of the Brownian motion ``S(t) = Z(t) sqrt(t)`` (Armitage–McPherson–Rowe): the density
  of ``S`` among the paths that have not crossed yet is carried from look to look on a grid
  (Simpson's rule), and each bound is solved by bisection so that the crossing probability at that
  look equals the alpha spent there. The grid error is below 1e-7 in probability.
- **Pass early (futility)** is non-binding: at a look before the last, the item passes when the
  upper confidence bound on the drop lies inside the margin, i.e. the score statistic is at or
  below ``-z(futility_level)``. The fail bounds are computed as if it did not exist, so stopping
  for a pass can only lower the false-failure rate.
- **The statistic** is the score test for the difference of paired proportions against a margin
  (Tango 1998): right→wrong ``losses``, wrong→right ``gains`` among ``n`` paired documents, with the
  nuisance (the share of gains) at its maximum-likelihood value under "drop = margin" (the same
  statistic as ``stats.tango_score``), with a half-document continuity correction.
- **Several items** (:func:`holm_sequential`): Holm's procedure look by look (Maurer & Bretz 2013),
  so the run-level false-failure rate stays at ``alpha`` over all items and looks together.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from pytest_mlgate import sampling, stats
from pytest_mlgate.config.schema import SEQUENTIAL_LOOKS, looks_problem

Array = Any  # numpy arrays; numpy's own stubs are too loose to help here

DEFAULT_LOOKS: tuple[float, ...] = SEQUENTIAL_LOOKS
# gamma -3: at the default looks it spends 1.8 % of alpha by 10 % of the documents (OBF-like -4
# spends 0.9 %, so a 10 pp regression at n = 2,000 stops at look 1 too rarely to keep the mean
# share evaluated under 0.20), while its last boundary stays within 0.1 of the fixed-n critical
# value, so power at the fixed-n minimum detectable drop drops by about 1 pp (benchmark:
# benchmarks/bench_sequential.py).
DEFAULT_GAMMA = -3.0
GAMMA_RANGE = (-8.0, 2.0)
_GRID_POINTS = 1601  # per look, odd for Simpson's rule
_TAIL_SD = 9.0  # the grid reaches this many standard deviations below zero
_MAX_BOUND = 12.0
# Half a document: without it the score test's size at the margin is 5.1 % at alpha 5 % for the
# fixed n = 2,000 (exact enumeration) and above it at early looks with few discordant documents.
CONTINUITY = 0.5  # a look that spends (almost) nothing gets this z bound

Decision = Literal["fail", "pass", "continue"]


def hsd_spent(fraction: float, alpha: float, gamma: float = DEFAULT_GAMMA) -> float:
    """Cumulative alpha spent by information ``fraction`` (Hwang–Shih–DeCani)."""
    t = min(max(fraction, 0.0), 1.0)
    if abs(gamma) < 1e-12:
        return alpha * t
    return alpha * math.expm1(-gamma * t) / math.expm1(-gamma)


def obf_spent(fraction: float, alpha: float) -> float:
    """Lan–DeMets O'Brien–Fleming-type spending: ``2 - 2 Phi(z(1 - alpha/2) / sqrt(t))``."""
    t = min(max(fraction, 0.0), 1.0)
    if t <= 0.0:
        return 0.0
    z = stats.normal_quantile(1 - alpha / 2)
    return 2.0 * (1.0 - stats.normal_cdf(z / math.sqrt(t)))


def pocock_spent(fraction: float, alpha: float) -> float:
    """Lan–DeMets Pocock-type spending: ``alpha log(1 + (e - 1) t)``."""
    t = min(max(fraction, 0.0), 1.0)
    return alpha * math.log1p((math.e - 1.0) * t)


def validate_looks(looks: Sequence[float]) -> tuple[float, ...]:
    """The looks as a tuple, or ``ValueError`` saying what is wrong (the config's own rule)."""
    values = tuple(float(x) for x in looks)
    problem = looks_problem(values)
    if problem is not None:
        raise ValueError(f"looks {list(values)}: {problem}")
    return values


def look_sizes(n_docs: int, looks: Sequence[float] = DEFAULT_LOOKS) -> tuple[int, ...]:
    """Documents evaluated by each look: ``ceil(fraction * n)``, looks that add none dropped
    (as the backends deal them: :func:`pytest_mlgate.sampling.look_sizes`)."""
    if n_docs < 1:
        raise ValueError(f"a sequential design needs at least one document, got {n_docs}")
    return sampling.look_sizes(n_docs, validate_looks(looks))


def _simpson_weights(count: int, step: float) -> Array:
    weights = np.ones(count)
    weights[1:-1:2] = 4.0
    weights[2:-1:2] = 2.0
    return weights * step / 3.0


def _phi(x: Array) -> Array:
    return np.exp(-0.5 * x * x) / math.sqrt(2.0 * math.pi)


def _upper_tail(x: Array) -> Array:
    # 1 - Phi(x) without scipy: erfc through numpy's vectorised math via math.erfc
    return 0.5 * np.vectorize(math.erfc)(x / math.sqrt(2.0))


@dataclass(frozen=True)
class _Survivors:
    """Density of S(t) on a grid, over the paths that have not crossed any bound yet."""

    points: Array
    weights: Array  # Simpson weight times density: the probability mass at each point
    variance: float  # t of the look it belongs to

    def crossing(self, bound: float, step_variance: float) -> float:
        """P(not crossed before, S(t_next) >= bound) for an increment of ``step_variance``."""
        tails = _upper_tail((bound - self.points) / math.sqrt(step_variance))
        return float(np.dot(self.weights, tails))


def _first_look(variance: float, bound: float) -> _Survivors:
    sd = math.sqrt(variance)
    points = np.linspace(-_TAIL_SD * sd, bound, _GRID_POINTS)
    density = _phi(points / sd) / sd
    return _Survivors(
        points, density * _simpson_weights(_GRID_POINTS, points[1] - points[0]), variance
    )


def _next_look(previous: _Survivors, variance: float, bound: float) -> _Survivors:
    step_sd = math.sqrt(variance - previous.variance)
    low = min(-_TAIL_SD * math.sqrt(variance), bound - 1.0)
    points = np.linspace(low, bound, _GRID_POINTS)
    kernel = _phi((points[:, None] - previous.points[None, :]) / step_sd) / step_sd
    density = kernel @ previous.weights
    return _Survivors(
        points, density * _simpson_weights(_GRID_POINTS, points[1] - points[0]), variance
    )


def _solve_bound(survivors: _Survivors, variance: float, target: float) -> float:
    """The z bound at which the crossing probability at this look equals ``target``."""
    step_variance = variance - survivors.variance
    scale = math.sqrt(variance)
    if survivors.crossing(_MAX_BOUND * scale, step_variance) >= target:
        return _MAX_BOUND
    low, high = -4.0, _MAX_BOUND
    for _ in range(60):  # bisection to 1e-17 in z: far below the grid's own error
        middle = (low + high) / 2
        if survivors.crossing(middle * scale, step_variance) > target:
            low = middle
        else:
            high = middle
    return (low + high) / 2


def efficacy_bounds(
    fractions: Sequence[float], cumulative_alpha: Sequence[float]
) -> tuple[float, ...]:
    """Z bounds per look such that, under the null, P(first crossing at look k) equals the alpha
    spent between look k-1 and k (the bounds of the pass-early rule ignored: non-binding)."""
    bounds: list[float] = []
    survivors: _Survivors | None = None
    spent_before = 0.0
    for fraction, spent in zip(fractions, cumulative_alpha, strict=True):
        target = max(spent - spent_before, 0.0)
        spent_before = spent
        if survivors is None:
            z = stats.normal_quantile(1.0 - target) if target > 0 else _MAX_BOUND
            z = min(z, _MAX_BOUND)
            survivors = _first_look(fraction, z * math.sqrt(fraction))
        else:
            z = _solve_bound(survivors, fraction, target) if target > 0 else _MAX_BOUND
            survivors = _next_look(survivors, fraction, z * math.sqrt(fraction))
        bounds.append(z)
    return tuple(bounds)


def crossing_probabilities(
    fractions: Sequence[float], bounds: Sequence[float]
) -> tuple[float, ...]:
    """Cumulative P(Z crosses a bound by look k) under the null, by the same integration."""
    total = 0.0
    result: list[float] = []
    survivors: _Survivors | None = None
    for fraction, z in zip(fractions, bounds, strict=True):
        if survivors is None:
            total += 1.0 - stats.normal_cdf(z)
            survivors = _first_look(fraction, z * math.sqrt(fraction))
        else:
            total += survivors.crossing(z * math.sqrt(fraction), fraction - survivors.variance)
            survivors = _next_look(survivors, fraction, z * math.sqrt(fraction))
        result.append(total)
    return tuple(result)


@dataclass(frozen=True)
class Look:
    """One interim analysis: how many documents, and the z bounds that decide there."""

    number: int  # 1-based
    documents: int
    fraction: float  # documents / all documents: the information fraction
    alpha_spent: float  # cumulative alpha spent by this look
    fail_z: float  # fail when the margin score statistic is >= this
    pass_z: float | None  # pass early when it is <= this; None at the last look

    def decide(self, z: float) -> Decision:
        if z >= self.fail_z:
            return "fail"
        if self.pass_z is None or z <= self.pass_z:
            return "pass"
        return "continue"


@dataclass(frozen=True)
class SequentialDesign:
    """The looks of one comparison item, for ``total`` documents at one-sided level ``alpha``."""

    total: int
    alpha: float
    gamma: float
    futility_level: float
    looks: tuple[Look, ...]

    @property
    def fixed_n_z(self) -> float:
        return stats.normal_quantile(1.0 - self.alpha)

    def decide(self, look_number: int, z: float) -> Decision:
        return self.looks[look_number - 1].decide(z)

    def table(self) -> list[str]:
        """The boundary table, one line per look, as `mlgate power --sequential` prints it."""
        lines = ["look  documents  fraction  alpha spent  fail if z >=  pass early if z <="]
        for look in self.looks:
            pass_text = f"{look.pass_z:.3f}" if look.pass_z is not None else "(last look)"
            lines.append(
                f"{look.number:>4}  {look.documents:>9,}  {look.fraction:>8.3f}  "
                f"{look.alpha_spent:>11.5f}  {look.fail_z:>12.3f}  {pass_text:>17}"
            )
        return lines


def make_design(
    total: int,
    alpha: float,
    looks: Sequence[float] = DEFAULT_LOOKS,
    gamma: float = DEFAULT_GAMMA,
    futility_level: float | None = None,
    spending: Callable[[float, float], float] | None = None,
) -> SequentialDesign:
    """The design for ``total`` documents: fail bounds spent by HSD(gamma) (or ``spending``) at the
    actual look sizes, pass-early bounds at the upper ``futility_level`` confidence bound
    (default ``1 - alpha``: failure ruled out at the gate's own confidence)."""
    if not 0.0 < alpha < 0.5:
        raise ValueError(f"alpha {alpha!r} must be in (0, 0.5) for a one-sided sequential test")
    if not GAMMA_RANGE[0] <= gamma <= GAMMA_RANGE[1]:
        raise ValueError(f"gamma {gamma!r} is outside {list(GAMMA_RANGE)}")
    level = 1.0 - alpha if futility_level is None else futility_level
    if not 0.5 < level < 1.0:
        raise ValueError(f"futility_level {level!r} must be in (0.5, 1)")
    sizes = look_sizes(total, looks)
    fractions = [size / total for size in sizes]
    spend = spending or (lambda t, a: hsd_spent(t, a, gamma))
    cumulative = [spend(t, alpha) for t in fractions]
    cumulative[-1] = alpha  # the last look spends what is left
    bounds = efficacy_bounds(fractions, cumulative)
    pass_z = -stats.normal_quantile(level)
    built = tuple(
        Look(k + 1, size, t, spent, z, pass_z if k + 1 < len(sizes) else None)
        for k, (size, t, spent, z) in enumerate(
            zip(sizes, fractions, cumulative, bounds, strict=True)
        )
    )
    return SequentialDesign(total, alpha, gamma, level, built)


@functools.lru_cache(maxsize=256)
def cached_design(
    total: int, alpha: float, looks: tuple[float, ...], gamma: float
) -> SequentialDesign:
    # a run asks for the same few (n, level) designs at every look and in every simulation
    return make_design(total, alpha, looks, gamma)


def paired_margin_z(
    losses: Array, gains: Array, n: Array, margin: float, continuity: float = CONTINUITY
) -> Array:
    """Score statistic for H0: drop <= ``margin`` on paired 0/1 scores (Tango 1998), vectorised.

    ``losses`` right→wrong and ``gains`` wrong→right among ``n`` pairs; drop = (losses - gains) / n.
    Large values mean the drop is larger than the margin. The nuisance parameter (the probability of
    a gain) is its maximum-likelihood value under drop = margin; with margin 0 and no continuity
    correction this is McNemar's z = (b - c) / sqrt(b + c). The numerator is shrunk towards 0 by
    ``continuity`` documents (half a document by default: ``b - c`` moves in steps of one), which
    keeps the size at or under alpha when few documents are discordant (an early look).
    """
    b = np.asarray(losses, dtype=float)
    c = np.asarray(gains, dtype=float)
    size = np.asarray(n, dtype=float)
    d = float(margin)
    linear = -b - c + (2.0 * size - b + c) * d
    constant = -c * d * (1.0 - d)
    root = np.sqrt(np.maximum(linear * linear - 8.0 * size * constant, 0.0))
    gain_share = np.maximum((root - linear) / (4.0 * size), 0.0)
    variance = size * (2.0 * gain_share + d * (1.0 - d))
    excess = b - c - size * d
    numerator = np.sign(excess) * np.maximum(np.abs(excess) - continuity, 0.0)
    safe = np.where(variance > 0, variance, 1.0)
    return np.where(variance > 0, numerator / np.sqrt(safe), 0.0)


@dataclass(frozen=True)
class Simulated:
    """Operating characteristics of a design at one true drop, by seeded simulation."""

    repetitions: int
    drop: float
    mean_share: float  # documents evaluated / all documents, averaged over repetitions
    fail_rate: float  # sequential design
    fixed_fail_rate: float  # the fixed-n test on all documents, same draws
    naive_fail_rate: float  # the fixed-n level at every look (peeking), same draws
    stopped_at: tuple[int, ...]  # repetitions decided at each look
    sequential_only: int = 0  # repetitions the design failed and the fixed-n test passed
    fixed_only: int = 0  # and the other way round: the two tests' paired disagreement

    def share_stopped_at(self, look_number: int) -> float:
        return self.stopped_at[look_number - 1] / self.repetitions


def draw_counts(
    design: SequentialDesign, p_loss: float, p_gain: float, repetitions: int, seed: int
) -> tuple[Array, Array, Array]:
    """Seeded draws for a simulation: cumulative losses and gains (repetitions × looks) and the
    look sizes, documents independent and identically distributed."""
    rng = np.random.default_rng(seed)
    sizes = np.array([look.documents for look in design.looks])
    steps = np.diff(sizes, prepend=0)
    shares = [p_loss, p_gain, 1.0 - p_loss - p_gain]
    draws = np.stack([rng.multinomial(int(m), shares, size=repetitions) for m in steps], axis=1)
    counts = np.cumsum(draws, axis=1)
    return counts[:, :, 0], counts[:, :, 1], sizes


def flip_shares(
    drop: float, flip_rate: float = 0.015, discordance: float | None = None
) -> tuple[float, float]:
    """(right→wrong, wrong→right) probabilities per document at a true ``drop``: ``flip_rate``
    each way plus the drop (the benchmark's model), or, given ``discordance``, that share of
    documents flipping in all with net drop ``drop`` (``mlgate power --discordance``'s model)."""
    if discordance is None:
        p_loss, p_gain = flip_rate + drop, flip_rate
    else:
        p_loss, p_gain = (discordance + drop) / 2, (discordance - drop) / 2
    if p_loss < 0 or p_gain < 0 or p_loss + p_gain > 1:
        raise ValueError(
            f"a drop of {drop!r} gives flip probabilities {p_loss!r}, {p_gain!r}: not probabilities"
        )
    return p_loss, p_gain


def simulate(
    design: SequentialDesign,
    drop: float,
    margin: float,
    flip_rate: float = 0.015,
    repetitions: int = 10_000,
    seed: int = 0,
    discordance: float | None = None,
) -> Simulated:
    """Run the design ``repetitions`` times, documents flipping as :func:`flip_shares` says."""
    p_loss, p_gain = flip_shares(drop, flip_rate, discordance)
    losses, gains, sizes = draw_counts(design, p_loss, p_gain, repetitions, seed)
    z = paired_margin_z(losses, gains, sizes[None, :], margin)
    fail = np.array([look.fail_z for look in design.looks])[None, :]
    passing = np.array(
        [look.pass_z if look.pass_z is not None else np.inf for look in design.looks]
    )
    decided = (z >= fail) | (z <= passing[None, :])
    stop = np.argmax(decided, axis=1)  # the last look always decides
    failed = z[np.arange(repetitions), stop] >= fail[0, stop]
    fixed = z[:, -1] >= design.fixed_n_z
    naive = (z >= design.fixed_n_z).any(axis=1)
    return Simulated(
        repetitions=repetitions,
        drop=drop,
        mean_share=float(sizes[stop].mean() / design.total),
        fail_rate=float(failed.mean()),
        fixed_fail_rate=float(fixed.mean()),
        naive_fail_rate=float(naive.mean()),
        stopped_at=tuple(int(x) for x in np.bincount(stop, minlength=len(design.looks))),
        sequential_only=int((failed & ~fixed).sum()),
        fixed_only=int((fixed & ~failed).sum()),
    )


def _log(p: float) -> float:
    return math.log(p) if p > 0 else 0.0


def _log_trinomial(n: int, b: Array, c: Array, p_loss: float, p_gain: float) -> Array:
    # log k! for every k up to n, once: the sums below then index it instead of calling lgamma
    log_factorial = np.concatenate(([0.0], np.cumsum(np.log(np.arange(1, n + 1)))))
    rest = n - b - c
    return (
        log_factorial[n]
        - log_factorial[b]
        - log_factorial[c]
        - log_factorial[rest]
        + b * _log(p_loss)  # a zero probability comes with a count of 0 only (see spans)
        + c * _log(p_gain)
        + rest * _log(1.0 - p_loss - p_gain)
    )


def fixed_n_power(
    n: int,
    drop: float,
    margin: float,
    alpha: float,
    flip_rate: float = 0.015,
    discordance: float | None = None,
) -> float:
    """Exact probability that the fixed-n margin score test at one-sided ``alpha`` fails, summing
    the trinomial distribution of (losses, gains) over every count within 8 sd of its mean (the
    tails beyond hold under 1e-14)."""
    p_loss, p_gain = flip_shares(drop, flip_rate, discordance)
    spans = []
    for p in (p_loss, p_gain):
        sd = math.sqrt(n * p * (1 - p))
        low, high = max(0, int(n * p - 8 * sd - 1)), min(n, int(n * p + 8 * sd + 2))
        spans.append(np.arange(low, high + 1) if p > 0 else np.zeros(1, dtype=int))
    b, c = np.meshgrid(spans[0], spans[1], indexing="ij")
    keep = b + c <= n
    b, c = b[keep], c[keep]
    rejects = paired_margin_z(b, c, n, margin) >= stats.normal_quantile(1 - alpha)
    return float(np.exp(_log_trinomial(n, b, c, p_loss, p_gain))[rejects].sum())


def fixed_n_detectable_drop(
    n: int,
    margin: float,
    alpha: float,
    power: float = 0.8,
    flip_rate: float = 0.015,
    discordance: float | None = None,
) -> float | None:
    """The true drop the fixed-n test detects with probability ``power`` (exact, by bisection);
    None when no possible drop reaches that power at this n."""
    low = margin
    high = (1.0 - 2 * flip_rate if discordance is None else discordance) - 1e-9
    if high <= low or fixed_n_power(n, high, margin, alpha, flip_rate, discordance) < power:
        return None
    for _ in range(24):  # to 1e-7 in the drop
        middle = (low + high) / 2
        if fixed_n_power(n, middle, margin, alpha, flip_rate, discordance) < power:
            low = middle
        else:
            high = middle
    return high


def simulate_item_fails(design: SequentialDesign, z_by_look: Sequence[float]) -> bool:
    """Whether one item's path of statistics fails under ``design`` (stopping at its decision)."""
    for look, z in zip(design.looks, z_by_look, strict=False):
        decision = look.decide(z)
        if decision != "continue":
            return decision == "fail"
    return False


@dataclass(frozen=True)
class ItemDecision:
    """How one comparison item of a sequential run was decided."""

    decision: Decision  # "fail" or "pass" (never "continue": the last look decides)
    look: int  # 1-based: the look it was decided at


@dataclass
class HolmLooks:
    """Holm's procedure over a run's comparison items, one look at a time (Maurer & Bretz
    2013's graphical procedure with Holm's graph): at each look every open item is tested at
    its design for ``alpha / open items``; a failure hands its level on, so the others are
    tested again at the same look; a pass keeps its share (the pass bound is non-binding).
    With ``shared`` off (``correction = "none"``) every item is tested at ``alpha``."""

    totals: Sequence[int]
    alpha: float
    looks: tuple[float, ...]
    gamma: float = DEFAULT_GAMMA
    shared: bool = True
    decided: dict[int, ItemDecision] = field(default_factory=dict)
    failed: int = 0

    def level(self) -> float:
        return self.alpha / max(len(self.totals) - self.failed, 1) if self.shared else self.alpha

    def design(self, item: int) -> SequentialDesign:
        return cached_design(self.totals[item], self.level(), self.looks, self.gamma)

    def look(
        self, k: int, z: Mapping[int, float], may_pass: Mapping[int, bool] | None = None
    ) -> None:
        """Look ``k`` (0-based) given the open items' statistics ``z``; ``may_pass[i]``
        False keeps item i from passing at this look (a bound not yet settled)."""
        retest = True
        while retest:  # a failure raises the others' level: test them again at this look
            retest = False
            for i, value in z.items():
                plan = self.design(i)
                if i in self.decided or k >= len(plan.looks):
                    continue
                if plan.looks[k].decide(value) == "fail":
                    self.decided[i] = ItemDecision("fail", k + 1)
                    self.failed += 1
                    if self.shared:
                        retest = True
                        break
        for i, value in z.items():
            plan = self.design(i)
            last = k == len(plan.looks) - 1
            allowed = last or may_pass is None or may_pass.get(i, True)
            open_here = i not in self.decided and k < len(plan.looks) and allowed
            if open_here and plan.looks[k].decide(value) == "pass":
                self.decided[i] = ItemDecision("pass", k + 1)


def holm_sequential(
    z_by_look: Sequence[Sequence[float]],
    totals: Sequence[int],
    alpha: float,
    looks: Sequence[float] = DEFAULT_LOOKS,
    gamma: float = DEFAULT_GAMMA,
) -> tuple[ItemDecision, ...]:
    """Holm's procedure over a run's comparison items, look by look (Maurer & Bretz 2013's
    graphical group-sequential procedure with Holm's graph): at each look every open item is
    tested at its design for ``alpha / open items``; an item that fails hands its level on, so
    the others are tested again at the same look at the larger level; an item that passes early
    keeps its share (the pass-early bound is non-binding, so its level is never recycled). The
    probability that any item fails when every true drop equals its margin is at most ``alpha``.

    ``z_by_look[i][k]``: item i's margin score statistic at look k (``totals[i]`` documents in
    all); an item whose task stopped has no later entries.
    """
    holm = HolmLooks(totals, alpha, tuple(looks), gamma)
    look_count = max((len(holm.design(i).looks) for i in range(len(totals))), default=0)
    for k in range(look_count):
        holm.look(k, {i: path[k] for i, path in enumerate(z_by_look) if k < len(path)})
    return tuple(holm.decided[i] for i in range(len(totals)))
