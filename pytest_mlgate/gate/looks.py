"""Sequential gating, one look at a time: which items may stop early, each item's margin
statistic on the documents evaluated so far, the run's Holm procedure across the items, and the
decision as a verdict's reason says it. Pure: the look loop itself is ``run/looks.py``.

The rule (docs: "Sequential gate"): an item fails early when its paired drop is significantly
larger than its ``max_drop`` margin at the look's boundary of the design
(:func:`pytest_mlgate.gate.sequential.make_design`); it passes early when failure is ruled out
(the non-binding pass bound) and its ``min`` / ``max`` bounds are settled (the value's interval
at the look's confidence lies wholly on one side); otherwise it waits. The last look decides the
rest at the boundary the design leaves for it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from pytest_mlgate import stats
from pytest_mlgate.config.schema import GateConfig, MetricThreshold, clean_task
from pytest_mlgate.gate.bounds import metric_direction, metric_of
from pytest_mlgate.gate.pairing import paired_docs
from pytest_mlgate.gate.sequential import Decision, paired_margin_z
from pytest_mlgate.results import EvalRun


@dataclass(frozen=True)
class SequentialStop:
    """How one item of a sequential run was decided: at which look, on how many documents, by
    which statistic against which bound."""

    decision: Decision  #: "fail" or "pass"
    look: int  #: 1-based
    looks: int  #: the looks its design has
    documents: int  #: paired documents the decision was made on
    total: int  #: documents of the whole task
    z: float  #: the margin score statistic (large: the drop exceeds the margin)
    bound: float  #: the bound it crossed (the fail bound; at the last look, the fail bound too)
    by_bound: bool = False  #: decided by a min / max bound settled early, not by the margin

    @property
    def stopped_early(self) -> bool:
        return self.documents < self.total

    def text(self) -> str:
        """``decided after 240 of 2,000 documents (look 2 of 4: z = -1.91 <= -1.645)``."""
        if self.by_bound:
            rule = "a min/max bound is broken beyond doubt"
        elif self.decision == "fail":
            rule = f"margin z = {self.z:.2f} >= {self.bound:.3f}"
        elif self.look < self.looks:
            rule = f"margin z = {self.z:.2f} <= {self.bound:.3f}: failure ruled out"
        else:
            rule = f"margin z = {self.z:.2f} < {self.bound:.3f}"
        return (
            f"decided after {self.documents:,} of {self.total:,} documents "
            f"(look {self.look} of {self.looks}: {rule})"
        )


def sequential_share(settings: GateConfig, looked: int, fixed: int) -> float:
    """The share of alpha the look-by-look comparisons spend, when ``fixed`` others (a
    reference checkpoint's, decided at fixed n on the documents the candidate evaluated) are
    in the same run-level family: alpha is split in proportion to the comparisons (Bonferroni
    between the two parts, Holm within each), so the chance that any comparison fails when
    every true drop equals its margin stays at most alpha. 1 when the run has no fixed part,
    each family keeps its own alpha (``error_rate = "family"``) or nothing is corrected."""
    if fixed <= 0 or settings.error_rate != "run" or settings.correction == "none":
        return 1.0
    return looked / (looked + fixed)


def why_not_sequential(
    thresholds: Sequence[MetricThreshold],
    baseline: EvalRun | None,
    settings: GateConfig,
    *,
    anchor: bool,
) -> str | None:
    """Why this run cannot stop early (None: every item can be decided look by look). What is
    not decided look by look waits for the whole task, and a run that waits everywhere gains
    nothing: the run then evaluates every document and gates at fixed n."""
    if baseline is None:
        return "there is no baseline to compare with"
    if anchor:
        return "an anchor is compared at the full n ([gate] anchor)"
    if settings.on_trend == "fail":
        return 'the trend test fails runs (on_trend = "fail") and needs the full n'
    variants = {clean_task(t.task) for t in thresholds if clean_task(t.task) != t.task}
    for threshold in thresholds:
        problem = _item_problem(threshold, baseline, variants)
        if problem is not None:
            return f"{threshold.item_name}: {problem}"
    return None


def _item_problem(threshold: MetricThreshold, baseline: EvalRun, variants: set[str]) -> str | None:
    if threshold.gates_subgroups or threshold.subgroup is not None:
        return "subgroups are gated at the full n"
    if threshold.max_disparity is not None:
        return "max_disparity is gated at the full n"
    if threshold.max_gap is not None or threshold.task in variants:
        return "a perturbed variant and its clean task are compared at the full n"
    if threshold.min_ratio is not None:
        return "min_ratio is gated at the full n"
    metric = metric_of(baseline, threshold)
    if metric is None:
        return "the baseline does not hold it"
    if not metric.is_binary:
        return "its per-example scores are not 0/1 (the sequential test is for accuracies)"
    return None


@dataclass(frozen=True)
class Observed:
    """One item at one look: its margin statistic, its paired documents and its value."""

    z: float
    documents: int
    value: float
    uncovered: int  #: evaluated documents the baseline does not hold (then: not sequential)


def observe(
    run: EvalRun, baseline: EvalRun, threshold: MetricThreshold, margin: float
) -> Observed | None:
    """The item on the documents evaluated so far, paired with the baseline's (None: the run
    does not hold the metric)."""
    current, base = metric_of(run, threshold), metric_of(baseline, threshold)
    if current is None or base is None:
        return None
    pairs, uncovered = paired_docs(current, run[threshold.task], base, baseline[threshold.task])
    higher = metric_direction(threshold, current) is not False
    losses = sum(1 for _, was, now in pairs if (was > now if higher else was < now))
    gains = sum(1 for _, was, now in pairs if (was < now if higher else was > now))
    n = len(pairs)
    z = float(paired_margin_z(np.array([losses]), np.array([gains]), np.array([n]), margin)[0])
    value = sum(now for _, _, now in pairs) / n if n else math.nan
    return Observed(z, n, value, uncovered)


def bounds_state(threshold: MetricThreshold, observed: Observed, z: float) -> str:
    """ "settled" when the value's two-sided interval at confidence ``z`` is wholly on the
    allowed side of ``min`` and ``max``, "broken" when wholly on the other side of one of
    them, else "open"."""
    if threshold.min is None and threshold.max is None:
        return "settled"
    level = 2 * stats.normal_cdf(z) - 1
    successes = round(observed.value * observed.documents)
    low, high = stats.wilson_interval(successes, observed.documents, level)
    if (threshold.min is not None and high < threshold.min) or (
        threshold.max is not None and low > threshold.max
    ):
        return "broken"
    if (threshold.min is None or low >= threshold.min) and (
        threshold.max is None or high <= threshold.max
    ):
        return "settled"
    return "open"
