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
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

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


@dataclass(frozen=True)
class SequentialPlan:
    """Which items of a sequential run are decided look by look and which wait for the whole
    task (each with its reason). A task with a waiting item is evaluated to its last look; the
    others stop once their items are decided."""

    looked: tuple[MetricThreshold, ...]
    waiting: Mapping[MetricThreshold, str] = field(default_factory=dict)
    #: comparisons decided at fixed n: in the run's one family, and in the baseline family
    fixed_in_run: int = 0
    fixed_in_baseline: int = 0

    @property
    def waiting_tasks(self) -> frozenset[str]:
        return frozenset(item.task for item in self.waiting)

    def share(self, settings: GateConfig) -> float:
        """The share of alpha the look-by-look comparisons spend. The comparisons decided at
        fixed n in the same family (a waiting item's, a reference checkpoint's on the documents
        evaluated) get the rest, in proportion to their number: Bonferroni between the two
        parts, Holm within each (``gate.decision`` scales the fixed part's Holm p-values to
        match), so the chance that any comparison fails when every true drop equals its margin
        stays at most alpha. 1 when nothing shares the family or nothing is corrected."""
        fixed = self.fixed_in_run if settings.error_rate == "run" else self.fixed_in_baseline
        if fixed <= 0 or settings.correction == "none":
            return 1.0
        return len(self.looked) / (len(self.looked) + fixed)

    def notes(self) -> list[str]:
        """One line per waiting task: which item waits and why."""
        said: dict[str, str] = {}
        for item, why in self.waiting.items():
            said.setdefault(item.task, f"{item.item_name}: {why}")
        return [
            f"sequential: {task}: every document evaluated ({why})" for task, why in said.items()
        ]


def plan_sequential(
    thresholds: Sequence[MetricThreshold],
    baseline: EvalRun | None,
    settings: GateConfig,
    *,
    anchor: bool,
    reference: bool,
) -> SequentialPlan | str:
    """The items a sequential run decides look by look, or why the run cannot stop early at all
    (then it evaluates every document and gates at fixed n). An item the sequential test cannot
    decide (subgroups, variants, ``min_ratio``, a continuous metric…) waits for its task's last
    look and is gated at fixed n there; the other tasks may still stop early."""
    if baseline is None:
        return "there is no baseline to compare with"
    if anchor:
        return "an anchor is compared at the full n ([gate] anchor)"
    if settings.on_trend == "fail":
        return 'the trend test fails runs (on_trend = "fail") and needs the full n'
    variants = {clean_task(t.task) for t in thresholds if clean_task(t.task) != t.task}
    looked: list[MetricThreshold] = []
    waiting: dict[MetricThreshold, str] = {}
    for threshold in thresholds:
        problem = _item_problem(threshold, baseline, variants)
        if problem is None:
            looked.append(threshold)
        else:
            waiting[threshold] = problem
    if not looked:
        first, why = next(iter(waiting.items()))
        return f"no item can be decided look by look ({first.item_name}: {why})"
    ref = 1 if reference else 0
    in_baseline = len(waiting)
    in_run = sum(1 + ref + (item.max_gap is not None) for item in waiting) + ref * len(looked)
    return SequentialPlan(tuple(looked), waiting, in_run, in_baseline)


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
