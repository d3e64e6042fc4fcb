"""Power for every comparison a run will make, for the test actually run: the minimum detectable
drop at each item's n, under the exact paired test, at the adjusted alpha, against the margin.
No pytest, no I/O."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from pytest_mlgate import stats
from pytest_mlgate.config.schema import GateConfig, MetricThreshold
from pytest_mlgate.gate.bounds import item_label, metric_of
from pytest_mlgate.gate.comparison import drift_margin, ratio_margin
from pytest_mlgate.gate.verdicts import GateOutcome
from pytest_mlgate.results import MetricResult

POWER = 0.8
#: with margin 0, the detectable drop above which a warning is given
ABSOLUTE_LIMIT = 0.05


@dataclass(frozen=True)
class ComparisonPower:
    """One planned comparison's power: its n, margin and level, and what it can detect."""

    label: str  #: "mmlu acc[g1] vs baseline"
    n: int
    margin: float
    alpha: float  #: the adjusted level its test is run at (the first Holm step: alpha / m)
    detectable: float  #: the minimum detectable drop (NaN: none up to the accuracy itself)
    basis: str
    #: the gated item whose comparison with the baseline this is (None: another comparison)
    baseline_of: MetricThreshold | None = None

    @property
    def limit(self) -> float:
        return 2 * self.margin if self.margin > 0 else ABSOLUTE_LIMIT

    @property
    def weak(self) -> bool:
        return math.isnan(self.detectable) or self.detectable > self.limit

    @property
    def test(self) -> str:
        return "exact McNemar" if self.margin <= 0 else "Tango's score test"

    def message(self) -> str:
        found = "no drop" if math.isnan(self.detectable) else f"{self.detectable * 100:.1f} pp"
        return (
            f"{self.label}: n={self.n}: the minimum detectable drop is {found} ({self.test} "
            f"against a {self.margin * 100:g} pp margin at adjusted alpha {self.alpha:.2g}, "
            f"{POWER:.0%} power; {self.basis}), more than {self.limit * 100:g} pp. A real drop "
            "below it passes or only warns: widen the margin, or evaluate more examples (raise "
            "the suite's sample, or remove it for every document) and record a new baseline "
            "with them (--mlgate-record on the baseline branch): the paired test counts only "
            f"documents both runs evaluated, so against this baseline n stays at most {self.n}."
        )


def _items(
    threshold: MetricThreshold,
    base: MetricResult,
    baseline: GateOutcome,
    settings: GateConfig,
    reference: bool = False,
) -> list[tuple[str, int, float]]:
    """(label, n, margin) of each comparison ``threshold`` makes against the baseline's n, its
    comparison with the baseline first."""
    task = baseline.run[threshold.task]
    allowed = settings.max_drop if threshold.max_drop is None else threshold.max_drop
    found = [(f"{item_label(threshold)} vs baseline", base.n, allowed)]
    if reference:  # head to head on the same documents: min_ratio's drop, else max_drop
        higher = base.higher_is_better is not False
        head = (
            allowed
            if threshold.min_ratio is None
            else ratio_margin(threshold.min_ratio, base.value, higher)
        )
        found.append((f"{item_label(threshold)} vs the reference", base.n, head))
    drift = drift_margin(threshold, settings)
    if settings.anchor is not None and drift is not None:
        found.append((f"{item_label(threshold)} vs the anchor", base.n, drift))
    if threshold.max_gap is not None:
        found.append((f"{item_label(threshold)} vs its clean task", base.n, threshold.max_gap))
    if threshold.gates_subgroups:
        sizes = task.subgroup_sizes()
        for group in sorted(sizes):
            if sizes[group] >= threshold.min_subgroup_n:
                label = f"{item_label(threshold.for_subgroup(group))} vs baseline"
                found.append((label, sizes[group], allowed))
    return found


def plan_power(
    thresholds: Iterable[MetricThreshold],
    baseline: GateOutcome,
    settings: GateConfig,
    discordance: Mapping[tuple[str, str], float] | None = None,
    reference: bool = False,
) -> list[ComparisonPower]:
    """The power of every 0/1 comparison the run will make, each at the level the run's
    correction gives its most significant comparison (alpha / m, m the comparisons corrected
    together). ``reference``: the run also compares with a reference checkpoint (its power is
    planned at the baseline's n and accuracy: the reference is evaluated on the same documents)."""
    planned: list[tuple[str, int, float, float, float | None, str, MetricThreshold | None]] = []
    for threshold in thresholds:
        base = metric_of(baseline.run, threshold)
        if base is None or not base.is_binary:
            continue
        p = base.value if base.higher_is_better is not False else 1 - base.value
        share = (discordance or {}).get((threshold.task, base.key))
        basis = (
            f"given the {share:.1%} of examples that flipped between the last two baseline runs"
            if share is not None
            else "assuming independent errors, a cautious bound until two baselines exist"
        )
        items = _items(threshold, base, baseline, settings, reference)
        for index, (label, n, margin) in enumerate(items):  # the first: vs the baseline
            planned.append((label, n, margin, p, share, basis, None if index else threshold))
    m = max(1, len(planned))
    alpha = settings.alpha / m
    found = []
    for label, n, margin, p, share, basis, item in planned:
        mde = stats.exact_minimum_detectable_drop(n, p, alpha, POWER, share, margin)
        found.append(ComparisonPower(label, n, margin, alpha, mde, basis, item))
    return found


def power_warnings(
    thresholds: Iterable[MetricThreshold],
    baseline: GateOutcome,
    settings: GateConfig,
    discordance: Mapping[tuple[str, str], float] | None = None,
) -> list[str]:
    """A ``PowerWarning`` message for each comparison whose minimum detectable drop exceeds
    twice its margin (0.05 absolute when the margin is 0), before the eval runs."""
    return [c.message() for c in plan_power(thresholds, baseline, settings, discordance) if c.weak]
