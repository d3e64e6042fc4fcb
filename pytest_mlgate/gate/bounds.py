"""Point-estimate bounds: ``min`` / ``max``, the chance guard, ``max_disparity``; the views of a
run a (subgroup) item is checked on. Not tests: no p-value, no correction. No pytest, no I/O."""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

from pytest_mlgate import stats
from pytest_mlgate.config.schema import VARIANT_MARK, GateConfig, MetricThreshold
from pytest_mlgate.errors import MetricNotFound, TaskNotFound
from pytest_mlgate.gate.verdicts import Caveat, Status, Verdict
from pytest_mlgate.results import EvalRun, MetricResult, TaskResult

# Why a score can sit at chance while the checkpoint is fine: named in the chance guard.
CHANCE_CAUSES = (
    "likely causes: the prompt format, the chat template (on or off, or the wrong one), a "
    "missing or doubled BOS token, or a backend that returns no log-probabilities"
)
CHANCE_METRICS = ("acc", "acc_norm")


def metric_direction(threshold: MetricThreshold, metric: MetricResult) -> bool | None:
    """Whether higher is better: the threshold's ``higher_is_better`` wins over lm-eval's."""
    return (
        metric.higher_is_better
        if threshold.higher_is_better is None
        else threshold.higher_is_better
    )


def format_value(metric: MetricResult) -> str:
    low, high = metric.ci()
    ci = "" if math.isnan(low) else f", 95% CI {low:.3f}-{high:.3f}"
    return f"{metric.value:.4f}{ci}, n={metric.n}"


def item_label(threshold: MetricThreshold) -> str:
    label = f"{threshold.task} {threshold.metric}"
    return label if threshold.subgroup is None else f"{label}[{threshold.subgroup}]"


def subgroup_view(run: EvalRun, threshold: MetricThreshold) -> EvalRun:
    """The run a threshold is checked on: the whole run, or for a subgroup's item its task
    restricted to that subgroup's documents."""
    if threshold.subgroup is None or threshold.task not in run:
        return run
    return EvalRun({threshold.task: run[threshold.task].in_subgroup(threshold.subgroup)}, run.info)


def other_view(run: EvalRun, threshold: MetricThreshold) -> EvalRun:
    """The other run of a comparison as a subgroup's item sees it; without that task when it holds
    no document of the subgroup (the item then says the other run lacks it)."""
    view = subgroup_view(run, threshold)
    if threshold.subgroup is not None and threshold.task in view and not view[threshold.task].n:
        return EvalRun({}, run.info)
    return view


def disparity(
    task: TaskResult, metric: MetricResult, least: int
) -> tuple[float, tuple[str, MetricResult], tuple[str, MetricResult]] | None:
    """The gap between the best and the worst subgroup of ``least`` examples or more, and those
    two subgroups (None with fewer than two such subgroups)."""
    sizes = task.subgroup_sizes()
    groups = [
        (group, task.in_subgroup(group).metrics[metric.key])
        for group in sorted(sizes)
        if sizes[group] >= least
    ]
    groups = [(g, m) for g, m in groups if math.isfinite(m.value)]
    if len(groups) < 2:
        return None
    best = max(groups, key=lambda g: g[1].value)
    worst = min(groups, key=lambda g: g[1].value)
    return best[1].value - worst[1].value, best, worst


def _disparity_problem(
    threshold: MetricThreshold, task: TaskResult, metric: MetricResult
) -> str | None:
    if threshold.max_disparity is None or threshold.subgroup is not None:
        return None
    found = disparity(task, metric, threshold.min_subgroup_n)
    if found is None or found[0] <= threshold.max_disparity:
        return None
    gap, (high, best), (low, worst) = found
    return (
        f"disparity {gap:.4f} between subgroups {high!r} ({format_value(best)}) and {low!r} "
        f"({format_value(worst)}) > max_disparity {threshold.max_disparity:g}"
    )


@dataclass(frozen=True)
class Bounds:
    """A metric checked against its absolute bounds."""

    verdict: Verdict
    metric: MetricResult | None
    broken: str | None = None  # "below min 0.6" when a bound failed
    warning: str | None = None  # the chance guard's, when it warns


def chance_check(
    task: TaskResult, metric: MetricResult, settings: GateConfig
) -> tuple[str | None, str | None]:
    """The chance guard on a task's whole-task multiple-choice accuracy: (why it fails, why it
    warns). Fails when the one-sided 95% upper bound is at most chance + the margin; warns when
    the score is not significantly above chance but the bound is wider. A generative metric
    that is 0 on every example warns the same way."""
    if settings.chance == "off" or not metric.is_binary or VARIANT_MARK in task.name:
        return None, None
    if task.output_type == "generate_until" and metric.higher_is_better is not False:
        if not any(metric.scores):
            return None, f"every one of the {len(metric.scores)} examples scored 0; {CHANCE_CAUSES}"
        return None, None
    if task.output_type != "multiple_choice" or task.chance is None:
        return None, None
    if metric.name not in CHANCE_METRICS:
        return None, None
    k, n = int(sum(metric.scores)), len(metric.scores)
    upper = stats.binomial_upper_bound(k, n, 0.95)
    p = stats.binomial_sf(k, n, task.chance)
    at = f"chance is {task.chance:.4f}"
    if upper <= task.chance + settings.chance_margin:
        problem = (
            f"indistinguishable from chance: its one-sided 95% upper bound {upper:.4f} is at "
            f"most chance + {settings.chance_margin:g} ({at}); {CHANCE_CAUSES}"
        )
        return (problem, None) if settings.chance == "fail" else (None, problem)
    if p >= 0.05:
        return None, (
            f"not significantly above chance (one-sided p={stats.format_p(p)}, {at}, upper "
            f"bound {upper:.4f}); {CHANCE_CAUSES}"
        )
    return None, None


def _checked_metric(
    threshold: MetricThreshold, metric: MetricResult, status: Status, reason: str
) -> Verdict:
    low, high = metric.ci() if math.isfinite(metric.value) else (math.nan, math.nan)
    ci = None if math.isnan(low) else (low, high)
    return Verdict(threshold, status, reason, metric.value, metric.n, ci)


def check_bounds(threshold: MetricThreshold, run: EvalRun, settings: GateConfig) -> Bounds:
    label = item_label(threshold)
    try:
        task = run[threshold.task]
        metric = task.metric(threshold.metric)
    except (TaskNotFound, MetricNotFound) as exc:
        return Bounds(
            Verdict(threshold, Status.FAIL, f"{label}: missing from the results: {exc}"), None
        )
    if metric.n <= 0:
        empty = "evaluated on no examples"
        verdict = _checked_metric(threshold, metric, Status.FAIL, f"{label}: {empty}")
        return Bounds(verdict, metric, empty)
    if not math.isfinite(metric.value):
        reason = f"{label} = {metric.value} (n={metric.n})"
        return Bounds(_checked_metric(threshold, metric, Status.FAIL, reason), metric, reason)
    shown = f"{label} = {format_value(metric)}"
    broken: str | None = None
    if threshold.min is not None and metric.value < threshold.min:
        broken = f"below min {threshold.min:g}"
    elif threshold.max is not None and metric.value > threshold.max:
        broken = f"above max {threshold.max:g}"
    chance_problem, chance_warning = (
        chance_check(task, metric, settings) if threshold.subgroup is None else (None, None)
    )
    broken = broken or chance_problem or _disparity_problem(threshold, task, metric)
    if broken is not None:
        verdict = _checked_metric(threshold, metric, Status.FAIL, f"{shown}: {broken}")
        return Bounds(verdict, metric, broken)
    bounded = threshold.min is not None or threshold.max is not None
    passing = f"{shown}: within {threshold.describe()}" if bounded else shown
    verdict = _checked_metric(threshold, metric, Status.PASS, passing)
    if chance_warning is not None:
        verdict = replace(
            verdict,
            status=Status.WARN,
            reason=f"{shown}: {chance_warning}",
            caveats=((Caveat.CHANCE, f"{label} = {metric.value:.4f}: {chance_warning}"),),
        )
    return Bounds(verdict, metric, warning=chance_warning)


def check_threshold(
    threshold: MetricThreshold, run: EvalRun, settings: GateConfig | None = None
) -> Verdict:
    """Check one metric against its absolute bounds and the chance guard. Missing or NaN
    values fail (fail closed)."""
    return check_bounds(threshold, run, settings or GateConfig()).verdict


def metric_of(run: EvalRun, threshold: MetricThreshold) -> MetricResult | None:
    """The metric ``threshold`` gates, as ``run`` holds it (None: the task or metric is not in
    the run)."""
    try:
        return run[threshold.task].metric(threshold.metric)
    except (TaskNotFound, MetricNotFound):
        return None
