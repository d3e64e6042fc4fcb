"""Pure functions: results + thresholds + baseline -> verdicts. No pytest, no I/O.

The rule (DESIGN §4, §10): a metric fails when it breaks an absolute bound (``min`` / ``max``), or
when it dropped against the baseline by more than its margin (``max_drop``) AND the one-sided
paired test says the drop is significant at ``alpha`` (after the multiple-comparison correction
across every gated metric of the run). A drop beyond the margin that is not significant passes
with a warning giving the p-value and the minimum detectable drop. A missing metric fails.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from functools import partial

from pytest_mlgate import stats
from pytest_mlgate.config.load import VARIANT_MARK, GateConfig, MetricThreshold, clean_task
from pytest_mlgate.errors import MetricNotFound, TaskNotFound
from pytest_mlgate.gate.pairing import pair_examples, prompt_mismatches
from pytest_mlgate.manifest import Manifest, incomparable
from pytest_mlgate.results import EvalRun, MetricResult, TaskResult


class Status(str, enum.Enum):
    PASS = "pass"
    WARN = "warn"
    FAIL = "fail"


class Caveat(str, enum.Enum):
    """Why a verdict that did not fail deserves a warning (each has its warning class)."""

    NOISE = "noise"  #: a drop beyond the margin that the paired test calls noise
    INCOMPARABLE = "incomparable"  #: compared although the baseline was made differently
    CHANCE = "chance"  #: a score no better than guessing (or 0 on every example)
    ANCHOR = "anchor"  #: the anchor could not be compared with (it was skipped)
    TREND = "trend"  #: a significant downward trend over the recorded history


# Why a score can sit at chance while the checkpoint is fine: named in the chance guard.
CHANCE_CAUSES = (
    "likely causes: the prompt format, the chat template (on or off, or the wrong one), a "
    "missing or doubled BOS token, or a backend that returns no log-probabilities"
)
CHANCE_METRICS = ("acc", "acc_norm")


@dataclass(frozen=True)
class Verdict:
    """The outcome of one gated metric, with a one-line reason a reviewer can act on."""

    threshold: MetricThreshold
    status: Status
    reason: str
    value: float | None = None  #: the metric's value (None: missing from the results)
    n: int | None = None
    value_ci: tuple[float, float] | None = None  #: 95% CI of the value, where one is defined
    baseline_run: str | None = None  #: the run compared with
    comparison: stats.Comparison | None = None  #: the paired (or fallback) test against it
    p_adjusted: float | None = None  #: the comparison's p after the correction
    notes: tuple[str, ...] = ()
    #: warnings the verdict carries: (kind, message)
    caveats: tuple[tuple[Caveat, str], ...] = ()
    #: the Mann-Kendall test over the recorded history and this run: (S, p, runs)
    trend: tuple[float, float, int] | None = None
    #: the head-to-head comparison with the reference checkpoint and its adjusted p
    reference: tuple[stats.Comparison, float] | None = None

    @property
    def passed(self) -> bool:
        return self.status is not Status.FAIL

    @property
    def p(self) -> float | None:
        """The p-value that decided: adjusted where a correction applied."""
        if self.p_adjusted is not None:
            return self.p_adjusted
        return None if self.comparison is None else self.comparison.p_value


@dataclass(frozen=True)
class GateOutcome:
    """One gated run: its results, its verdicts and its manifest. A recorded run is one too
    (its results keep only the example texts that flipped), and so is a baseline."""

    run: EvalRun
    verdicts: tuple[Verdict, ...]
    manifest: Manifest

    @property
    def run_id(self) -> str:
        return self.manifest.run_id

    @property
    def passed(self) -> bool:
        return all(v.passed for v in self.verdicts)


def metric_direction(threshold: MetricThreshold, metric: MetricResult) -> bool | None:
    """Whether higher is better: the threshold's ``higher_is_better`` wins over lm-eval's."""
    return (
        metric.higher_is_better
        if threshold.higher_is_better is None
        else threshold.higher_is_better
    )


def allowed_drop(threshold: MetricThreshold, settings: GateConfig) -> float:
    """The margin a metric may drop by against the baseline: its own ``max_drop``, else
    ``[gate] max_drop``."""
    return settings.max_drop if threshold.max_drop is None else threshold.max_drop


def ratio_margin(ratio: float, value: float, higher_is_better: bool) -> float:
    """``min_ratio``'s allowed drop against ``value``: ``(1 - ratio) * value``, or for a
    lower-is-better metric ``(1 / ratio - 1) * value`` (the ratio inverted)."""
    return (1 - ratio) * value if higher_is_better else (1 / ratio - 1) * value


def margin(
    threshold: MetricThreshold,
    settings: GateConfig,
    compared_value: float,
    higher_is_better: bool,
    use_ratio: bool,
) -> tuple[float, str]:
    """The allowed drop of one comparison and how reasons name it: ``min_ratio`` where it
    applies (the reference, or the baseline of a run without one), else ``max_drop``."""
    if use_ratio and threshold.min_ratio is not None:
        allowed = ratio_margin(threshold.min_ratio, compared_value, higher_is_better)
        return allowed, f"min_ratio {threshold.min_ratio:g} (a drop of {allowed:.4f})"
    allowed = allowed_drop(threshold, settings)
    return allowed, f"max_drop {allowed:g}"


def format_value(metric: MetricResult) -> str:
    low, high = metric.ci()
    ci = "" if math.isnan(low) else f", 95% CI {low:.3f}-{high:.3f}"
    return f"{metric.value:.4f}{ci}, n={metric.n}"


def _label(threshold: MetricThreshold) -> str:
    label = f"{threshold.task} {threshold.metric}"
    return label if threshold.subgroup is None else f"{label}[{threshold.subgroup}]"


def subgroup_view(run: EvalRun, threshold: MetricThreshold) -> EvalRun:
    """The run a threshold is checked on: the whole run, or for a subgroup's item its task
    restricted to that subgroup's documents."""
    if threshold.subgroup is None or threshold.task not in run:
        return run
    return EvalRun({threshold.task: run[threshold.task].in_subgroup(threshold.subgroup)}, run.info)


def _baseline_view(run: EvalRun, threshold: MetricThreshold) -> EvalRun:
    """The baseline as a subgroup's item sees it; without that task when the baseline holds no
    document of the subgroup (the item then says the baseline lacks it)."""
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
class _Bounds:
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


def _check_bounds(threshold: MetricThreshold, run: EvalRun, settings: GateConfig) -> _Bounds:
    label = _label(threshold)
    try:
        task = run[threshold.task]
        metric = task.metric(threshold.metric)
    except (TaskNotFound, MetricNotFound) as exc:
        return _Bounds(
            Verdict(threshold, Status.FAIL, f"{label}: missing from the results: {exc}"), None
        )
    if metric.n <= 0:
        empty = "evaluated on no examples"
        verdict = _checked_metric(threshold, metric, Status.FAIL, f"{label}: {empty}")
        return _Bounds(verdict, metric, empty)
    if not math.isfinite(metric.value):
        reason = f"{label} = {metric.value} (n={metric.n})"
        return _Bounds(_checked_metric(threshold, metric, Status.FAIL, reason), metric, reason)
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
        return _Bounds(verdict, metric, broken)
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
    return _Bounds(verdict, metric, warning=chance_warning)


def check_threshold(
    threshold: MetricThreshold, run: EvalRun, settings: GateConfig | None = None
) -> Verdict:
    """Check one metric against its absolute bounds and the chance guard. Missing or NaN
    values fail (fail closed)."""
    return _check_bounds(threshold, run, settings or GateConfig()).verdict


def _stderr_comparison(current: MetricResult, base: MetricResult) -> stats.Comparison | None:
    """Last resort without per-example scores (e.g. a group's aggregate): a z-test on stderrs."""
    if current.stderr is None or base.stderr is None:
        return None
    se = math.hypot(current.stderr, base.stderr)
    delta = current.value - base.value
    if se == 0:
        return None
    z = delta / se
    p = stats.normal_cdf(z) if current.higher_is_better else 1 - stats.normal_cdf(z)
    half = stats.normal_quantile(0.975) * se
    return stats.Comparison(
        "stderr-z",
        False,
        min(current.n, base.n),
        base.value,
        current.value,
        delta,
        (delta - half, delta + half),
        p,
    )


@dataclass
class _Pending:
    """A comparison waiting for the family's multiple-comparison correction."""

    bounds: _Bounds
    metric: MetricResult  # with its direction resolved
    comparison: stats.Comparison
    notes: list[str]
    caveats: tuple[tuple[Caveat, str], ...] = ()


# The comparison families, each corrected on its own (DESIGN §10): a run's false-alarm rate is
# then at most alpha per family in use.
OVERALL, SUBGROUPS, GAPS = "overall metrics vs the baseline", "subgroups vs the baseline", "gaps"
ANCHORED, TRENDS, REFERENCED = "vs the anchor", "trends", "vs the reference"


@dataclass(frozen=True)
class Anchor:
    """The fixed run every gated metric is also compared with, and how reasons name it."""

    outcome: GateOutcome
    label: str  #: the git tag it was found by, else its run id


@dataclass(frozen=True)
class Reference:
    """The checkpoint evaluated head to head on the same documents in the same session."""

    outcome: GateOutcome  #: its results (not recorded) and manifest
    label: str  #: how reasons name it: the path or URI it was given as


@dataclass(frozen=True)
class _Extra:
    """A further comparison of one metric (gap, anchor, trend, reference), decided, folded
    into its verdict: the worse status wins and the text is appended to the reason."""

    status: Status
    text: str
    caveats: tuple[tuple[Caveat, str], ...] = ()
    trend: tuple[float, float, int] | None = None
    reference: tuple[stats.Comparison, float] | None = None


Decide = Callable[[float], "Verdict | _Extra"]


class _Decision:
    """Every comparison of a run, queued per family, corrected per family, then combined."""

    def __init__(
        self,
        run: EvalRun,
        baseline: GateOutcome | None,
        settings: GateConfig,
        manifest: Manifest | None,
        record_hint: str,
        anchor: Anchor | None,
        reference: Reference | None = None,
    ) -> None:
        self.run, self.baseline, self.settings = run, baseline, settings
        self.manifest, self.record_hint, self.anchor = manifest, record_hint, anchor
        self.reference = reference
        self.main: dict[MetricThreshold, Verdict] = {}
        self.extras: dict[MetricThreshold, list[_Extra]] = {}
        self.families: dict[str, list[tuple[MetricThreshold, float, Decide]]] = {}

    def _keep(self, threshold: MetricThreshold, result: Verdict | _Extra | None) -> None:
        if isinstance(result, Verdict):
            self.main[threshold] = result
        elif result is not None:
            self.extras.setdefault(threshold, []).append(result)

    def _queue(self, family: str, threshold: MetricThreshold, p: float, decide: Decide) -> None:
        self.families.setdefault(family, []).append((threshold, p, decide))

    def add(self, threshold: MetricThreshold) -> None:
        settings = self.settings
        current = subgroup_view(self.run, threshold)
        bounds = _check_bounds(threshold, current, settings)
        if threshold.max_gap is not None and bounds.metric is not None:
            gap = _compare_with_clean(bounds, self.run)
            if isinstance(gap, _Pending):
                self._queue(
                    GAPS,
                    threshold,
                    gap.comparison.p_value,
                    partial(_decide_gap, gap, settings=settings),
                )
            else:
                self._keep(threshold, gap)
        if bounds.metric is not None and self.anchor is not None:
            drift = _compare_with_anchor(bounds, current, self.anchor, settings, self.manifest)
            if isinstance(drift, _Pending):
                decide_drift: Decide = partial(
                    _decide_drift, drift, anchor=self.anchor, settings=settings
                )
                self._queue(ANCHORED, threshold, drift.comparison.p_value, decide_drift)
            else:
                self._keep(threshold, drift)
        if bounds.metric is not None and self.reference is not None:
            head = _compare_with_reference(bounds, current, self.reference)
            if isinstance(head, _Pending):
                decide_head: Decide = partial(
                    _decide_reference, head, reference=self.reference, settings=settings
                )
                self._queue(REFERENCED, threshold, head.comparison.p_value, decide_head)
            else:
                self._keep(threshold, head)
        if bounds.metric is None or self.baseline is None:
            self._keep(threshold, _without_baseline(bounds, self.baseline))
            return
        base = replace(self.baseline, run=_baseline_view(self.baseline.run, threshold))
        outcome = _compare_with_baseline(
            bounds, current, base, settings, self.manifest, self.record_hint
        )
        if isinstance(outcome, Verdict):
            self._keep(threshold, outcome)
        else:
            family = SUBGROUPS if threshold.subgroup else OVERALL
            decide: Decide = partial(
                _decide,
                outcome,
                baseline_run=self.baseline.run_id,
                settings=settings,
                use_ratio=self.reference is None,
            )
            self._queue(family, threshold, outcome.comparison.p_value, decide)

    def add_trend(self, threshold: MetricThreshold, history: Sequence[GateOutcome]) -> None:
        """A Mann-Kendall test for a downward trend over the history and this run."""
        if self.settings.on_trend == "off" or threshold.subgroup is not None:
            return
        values = [_value_of(r.run, threshold) for r in history] + [_value_of(self.run, threshold)]
        known = [v for v in values if v is not None]
        metric = _metric_of(self.run, threshold)
        if len(known) < 4 or metric is None:
            return
        down = metric_direction(threshold, metric) is not False
        s, p = stats.mann_kendall_down(known if down else [-v for v in known])
        self._queue(
            TRENDS, threshold, p, partial(_decide_trend, (s, p, len(known)), settings=self.settings)
        )

    def verdicts(self, thresholds: Sequence[MetricThreshold]) -> dict[MetricThreshold, Verdict]:
        for queued in self.families.values():
            adjusted = stats.adjust([p for _, p, _ in queued], self.settings.correction)
            for (threshold, _, decide), p_adj in zip(queued, adjusted, strict=True):
                self._keep(threshold, decide(p_adj))
        return {t: _with_extras(self.main[t], self.extras.get(t, [])) for t in thresholds}


def gate_all(
    thresholds: Sequence[MetricThreshold],
    run: EvalRun,
    baseline: GateOutcome | None,
    settings: GateConfig,
    manifest: Manifest | None = None,
    record_hint: str = "pytest -m eval --mlgate-record",
    *,
    anchor: Anchor | None = None,
    history: Sequence[GateOutcome] = (),
    reference: Reference | None = None,
) -> dict[MetricThreshold, Verdict]:
    """Verdicts for every gated metric of a run: absolute bounds, then the comparisons (with
    the baseline; with the anchor; with the reference; a variant also with its clean task),
    and the trend over ``history`` (the baseline branch's last runs, oldest first), each
    family corrected on its own."""
    decision = _Decision(run, baseline, settings, manifest, record_hint, anchor, reference)
    for threshold in thresholds:
        decision.add(threshold)
        if history:
            decision.add_trend(threshold, history)
    return decision.verdicts(thresholds)


def _metric_of(run: EvalRun, threshold: MetricThreshold) -> MetricResult | None:
    try:
        return run[threshold.task].metric(threshold.metric)
    except (TaskNotFound, MetricNotFound):
        return None


def _value_of(run: EvalRun, threshold: MetricThreshold) -> float | None:
    metric = _metric_of(run, threshold)
    return None if metric is None or not math.isfinite(metric.value) else metric.value


def drift_margin(threshold: MetricThreshold, settings: GateConfig) -> float | None:
    """The allowed drop against the anchor: the metric's ``max_drift``, else ``[gate]``'s."""
    return settings.max_drift if threshold.max_drift is None else threshold.max_drift


def _compare_with_anchor(
    bounds: _Bounds,
    run: EvalRun,
    anchor: Anchor,
    settings: GateConfig,
    manifest: Manifest | None,
) -> _Pending | _Extra | None:
    """One metric against the anchor; an anchor made differently is skipped, never failed."""
    assert bounds.metric is not None
    threshold, metric = bounds.verdict.threshold, bounds.metric
    if drift_margin(threshold, settings) is None:
        return None
    skipped = f"{_label(threshold)}: anchor {anchor.label} skipped"
    view = _baseline_view(anchor.outcome.run, threshold)
    try:
        base_task = view[threshold.task]
        base = base_task.metric(metric.key)
    except (TaskNotFound, MetricNotFound):
        return _Extra(Status.PASS, f"vs anchor {anchor.label}: not in it")
    direction = metric_direction(threshold, metric)
    metric = replace(metric, higher_is_better=direction)
    base = replace(base, higher_is_better=direction)
    comparison, notes, reasons = _comparison(metric, run[threshold.task], base, base_task)
    if manifest is not None:
        reasons = (
            incomparable(manifest, anchor.outcome.manifest, threshold.task, "the anchor") + reasons
        )
    if direction is None or comparison is None or not math.isfinite(base.value) or reasons:
        why = "; ".join(reasons) or "it cannot be compared (no direction, scores or value)"
        message = (
            f"{skipped}: {why}. Re-anchor: point [gate] anchor at a run recorded with today's "
            "setup (its run id, or a newer tag)"
        )
        return _Extra(
            Status.PASS, f"vs anchor {anchor.label}: skipped ({why})", ((Caveat.ANCHOR, message),)
        )
    return _Pending(bounds, metric, comparison, notes)


def _decide_drift(item: _Pending, p_adj: float, *, anchor: Anchor, settings: GateConfig) -> _Extra:
    c, threshold = item.comparison, item.bounds.verdict.threshold
    margin = drift_margin(threshold, settings)
    assert margin is not None
    drop = c.oriented_drop(item.metric.higher_is_better is not False)
    corrected = "" if settings.correction == "none" else f", {settings.correction}-adjusted"
    text = (
        f"vs anchor {anchor.label} {c.baseline:.4f}, cumulative {c.delta * 100:+.1f} pp "
        f"[95% CI {c.ci[0] * 100:+.1f}, {c.ci[1] * 100:+.1f}], p={stats.format_p(p_adj)}"
        f"{corrected} ({c.test}, n={c.n})"
    )
    if not (math.isfinite(c.delta) and math.isfinite(c.p_value)):
        return _Extra(Status.FAIL, f"{text}: the comparison is undefined; failing closed")
    if drop > margin and p_adj < settings.alpha:
        return _Extra(
            Status.FAIL, f"{text}: significant drift of {drop:.4f} > max_drift {margin:g}"
        )
    if drop > margin:
        text = f"{text}: drift of {drop:.4f} > max_drift {margin:g} is not significant"
        return _Extra(Status.WARN, text, ((Caveat.NOISE, f"{_label(threshold)}: {text}"),))
    return _Extra(Status.PASS, f"{text}: within max_drift {margin:g}")


def _compare_with_reference(
    bounds: _Bounds, run: EvalRun, reference: Reference
) -> _Pending | _Extra:
    """One metric against the reference, paired on the same documents. Its requests may be
    tokenized differently (another tokenizer), so only the documents must match."""
    assert bounds.metric is not None
    threshold, metric = bounds.verdict.threshold, bounds.metric
    view = _baseline_view(reference.outcome.run, threshold)
    try:
        base_task = view[threshold.task]
        base = base_task.metric(metric.key)
    except (TaskNotFound, MetricNotFound) as exc:
        return _Extra(Status.FAIL, f"vs reference {reference.label}: not evaluated ({exc})")
    direction = metric_direction(threshold, metric)
    if direction is None or not math.isfinite(base.value):
        why = "no direction" if direction is None else f"its value is {base.value}"
        return _Extra(Status.FAIL, f"vs reference {reference.label}: cannot be compared ({why})")
    metric = replace(metric, higher_is_better=direction)
    base = replace(base, higher_is_better=direction)
    comparison, notes, reasons = _comparison(
        metric, run[threshold.task], base, base_task, prompts=False
    )
    if comparison is None or reasons:
        why = "; ".join(reasons) or "no per-example scores or stderr"
        return _Extra(Status.FAIL, f"vs reference {reference.label}: cannot be compared ({why})")
    return _Pending(bounds, metric, comparison, notes)


def _decide_reference(
    item: _Pending, p_adj: float, *, reference: Reference, settings: GateConfig
) -> _Extra:
    c, threshold = item.comparison, item.bounds.verdict.threshold
    higher = item.metric.higher_is_better is not False
    allowed, rule = margin(threshold, settings, c.baseline, higher, use_ratio=True)
    drop = c.oriented_drop(higher)
    corrected = "" if settings.correction == "none" else f", {settings.correction}-adjusted"
    text = (
        f"vs reference {reference.label} {c.baseline:.4f}, delta {c.delta:+.4f} [95% CI "
        f"{c.ci[0]:+.4f}, {c.ci[1]:+.4f}], p={stats.format_p(p_adj)}{corrected} "
        f"({c.test}, n={c.n})"
    )
    head = (c, p_adj)
    if not (math.isfinite(c.delta) and math.isfinite(c.p_value)):
        return _Extra(Status.FAIL, f"{text}: the comparison is undefined; failing closed")
    if drop > allowed and p_adj < settings.alpha:
        return _Extra(
            Status.FAIL, f"{text}: significant drop of {drop:.4f} > {rule}", reference=head
        )
    if drop > allowed:
        text = f"{text}: drop of {drop:.4f} > {rule} is not significant at alpha {settings.alpha:g}"
        caveats = ((Caveat.NOISE, f"{_label(threshold)}: {text}"),)
        return _Extra(Status.WARN, text, caveats, reference=head)
    return _Extra(Status.PASS, f"{text}: within {rule}", reference=head)


def _decide_trend(test: tuple[float, float, int], p_adj: float, *, settings: GateConfig) -> _Extra:
    s, _, runs = test
    trend = (s, p_adj, runs)
    if p_adj >= settings.alpha:
        return _Extra(Status.PASS, "", trend=trend)
    text = (
        f"downward trend over the last {runs} runs (Mann-Kendall S={s:g}, "
        f"p={stats.format_p(p_adj)}); compare with an anchor ([gate] anchor) to see how far"
    )
    status = Status.FAIL if settings.on_trend == "fail" else Status.WARN
    caveats = () if status is Status.FAIL else ((Caveat.TREND, text),)
    return _Extra(status, text, caveats, trend)


def _compare_with_clean(bounds: _Bounds, run: EvalRun) -> _Pending | _Extra:
    """A variant (``TASK@KIND``) against its clean task on the same documents, paired."""
    assert bounds.metric is not None
    variant, threshold = bounds.metric, bounds.verdict.threshold
    clean = clean_task(threshold.task)
    try:
        clean_result = run[clean]
        base = clean_result.metric(variant.key)
    except (TaskNotFound, MetricNotFound) as exc:
        return _Extra(Status.FAIL, f"no clean {clean!r} to measure the gap against: {exc}")
    direction = metric_direction(threshold, variant)
    if direction is None:
        return _Extra(
            Status.FAIL, f"lm-eval does not say whether higher is better for {variant.key!r}"
        )
    variant, base = (
        replace(variant, higher_is_better=direction),
        replace(base, higher_is_better=direction),
    )
    comparison, notes, _ = _comparison(variant, run[threshold.task], base, clean_result)
    if comparison is None:
        return _Extra(
            Status.FAIL, f"the gap against {clean!r} cannot be tested (no per-example scores)"
        )
    return _Pending(bounds, variant, comparison, notes)


def _decide_gap(item: _Pending, p_adj: float, *, settings: GateConfig) -> _Extra:
    c, threshold = item.comparison, item.bounds.verdict.threshold
    assert threshold.max_gap is not None
    drop = c.oriented_drop(item.metric.higher_is_better is not False)
    corrected = "" if settings.correction == "none" else f", {settings.correction}-adjusted"
    text = (
        f"gap vs {clean_task(threshold.task)} {c.delta:+.4f} [95% CI {c.ci[0]:+.4f}, "
        f"{c.ci[1]:+.4f}], p={stats.format_p(p_adj)}{corrected} ({c.test}, n={c.n})"
    )
    if not (math.isfinite(c.delta) and math.isfinite(c.p_value)):
        return _Extra(Status.FAIL, f"{text}: the comparison is undefined; failing closed")
    if drop > threshold.max_gap and p_adj < settings.alpha:
        return _Extra(
            Status.FAIL, f"{text}: significant gap of {drop:.4f} > max_gap {threshold.max_gap:g}"
        )
    if drop > threshold.max_gap:
        text = (
            f"{text}: gap of {drop:.4f} > max_gap {threshold.max_gap:g} is not significant at "
            f"alpha {settings.alpha:g}"
        )
        return _Extra(Status.WARN, text, ((Caveat.NOISE, f"{_label(threshold)}: {text}"),))
    return _Extra(Status.PASS, f"{text}: within max_gap {threshold.max_gap:g}")


SEVERITY = {Status.PASS: 0, Status.WARN: 1, Status.FAIL: 2}


def _with_extras(verdict: Verdict, extras: Sequence[_Extra]) -> Verdict:
    """A verdict with its further comparisons folded in: the worst status wins."""
    status = verdict.status
    reason, caveats, trend = verdict.reason, verdict.caveats, verdict.trend
    head = verdict.reference
    for extra in extras:
        status = max(status, extra.status, key=SEVERITY.__getitem__)
        reason = f"{reason}; {extra.text}" if extra.text else reason
        caveats += extra.caveats
        trend = extra.trend or trend
        head = extra.reference or head
    return replace(
        verdict, status=status, reason=reason, caveats=caveats, trend=trend, reference=head
    )


def _without_baseline(bounds: _Bounds, baseline: GateOutcome | None) -> Verdict:
    verdict = bounds.verdict
    if baseline is not None:
        return verdict
    suffix = "; no baseline recorded yet" if verdict.passed else ""
    return replace(verdict, reason=verdict.reason + suffix, notes=("no baseline recorded yet",))


def _compare_with_baseline(
    bounds: _Bounds,
    run: EvalRun,
    baseline: GateOutcome,
    settings: GateConfig,
    manifest: Manifest | None,
    record_hint: str,
) -> Verdict | _Pending:
    """The baseline side of one metric: a verdict when it cannot be tested, else the pending
    comparison."""
    assert bounds.metric is not None
    absolute, metric, threshold = bounds.verdict, bounds.metric, bounds.verdict.threshold
    against = replace(absolute, baseline_run=baseline.run_id)
    try:
        base_task = baseline.run[threshold.task]
        base = base_task.metric(metric.key)
    except (TaskNotFound, MetricNotFound):
        note = f"not in baseline run {baseline.run_id}"
        return replace(against, reason=f"{absolute.reason}; {note}", notes=(note,))
    direction = metric_direction(threshold, metric)
    if direction is None:
        reason = (
            f"{_label(threshold)}: lm-eval does not say whether higher is better for "
            f"{metric.key!r}, so a drop cannot be told from a gain; add higher_is_better = true "
            f"(or false) to [thresholds.{threshold.task}] {threshold.metric}"
        )
        return replace(against, status=Status.FAIL, reason=reason)
    if not math.isfinite(base.value):
        reason = (
            f"{_label(threshold)}: the baseline value is {base.value} (run {baseline.run_id}), "
            f"nothing to compare with; record a new baseline ({record_hint})"
        )
        return replace(against, status=Status.FAIL, reason=reason)
    metric = replace(metric, higher_is_better=direction)
    base = replace(base, higher_is_better=direction)
    comparison, notes, reasons = _comparison(metric, run[threshold.task], base, base_task)
    if manifest is not None:
        reasons = incomparable(manifest, baseline.manifest, threshold.task) + reasons
    if reasons:
        why = "; ".join(reasons)
        if settings.on_incomparable == "fail":
            reason = (
                f"{_label(threshold)}: not comparable with baseline run {baseline.run_id}: "
                f"{why}. Record a new baseline from the reference branch ({record_hint}) or set "
                '[gate] on_incomparable = "warn"'
            )
            return replace(
                against,
                status=Status.FAIL,
                reason=reason,
                comparison=comparison,
                notes=tuple(notes + reasons),
            )
        notes.extend(reasons)
        caveat = (
            Caveat.INCOMPARABLE,
            f"{_label(threshold)}: compared with baseline run {baseline.run_id} although "
            f'{"; ".join(reasons)} ([gate] on_incomparable = "warn")',
        )
        against = replace(against, caveats=(*against.caveats, caveat))
    if comparison is None:
        drop = base.value - metric.value if direction else metric.value - base.value
        status = Status.FAIL if drop > allowed_drop(threshold, settings) else absolute.status
        reason = (
            f"{absolute.reason}; baseline {base.value:.4f} (run {baseline.run_id}): drop "
            f"{drop:+.4f} cannot be tested (no per-example scores or stderr)"
        )
        return replace(against, status=status, reason=reason, notes=tuple(notes))
    return _Pending(bounds, metric, comparison, notes, against.caveats)


def _comparison(
    metric: MetricResult,
    task: TaskResult,
    base: MetricResult,
    base_task: TaskResult,
    prompts: bool = True,
) -> tuple[stats.Comparison | None, list[str], list[str]]:
    """The test for one metric against its baseline, its notes, and reasons the two runs are
    not comparable (documents the baseline does not hold; with ``prompts``, requests rendered
    differently)."""
    notes: list[str] = []
    reasons: list[str] = []
    if not (metric.scores and base.scores):
        notes.append("no per-example scores: unpaired test on the standard errors")
        return _stderr_comparison(metric, base), notes, reasons
    pairing = pair_examples(metric, task, base, base_task)
    if pairing.uncovered:
        reasons.append(
            f"documents differ ({pairing.uncovered} of {len(metric.scores)} evaluated "
            "examples are not in the baseline: another subset, seed or dataset version)"
        )
    differ, shared = prompt_mismatches(task, base_task, pairing.docs) if prompts else (0, 0)
    if differ:
        reasons.append(
            f"rendered requests differ on {differ} of {shared} shared documents (another "
            "prompt, few-shot examples, chat template, BOS or tokenizer)"
        )
    if not pairing.paired:
        notes.append("examples could not be paired: unpaired test")
    elif not (task.doc_hashes and base_task.doc_hashes):
        notes.append("paired by doc id alone (a run without document hashes)")
    comparison = stats.compare(
        pairing.baseline,
        pairing.current,
        paired=pairing.paired,
        higher_is_better=metric.higher_is_better is not False,
        level=0.95,
    )
    return comparison, notes, reasons


def _decide(
    item: _Pending,
    p_adj: float,
    baseline_run: str,
    settings: GateConfig,
    use_ratio: bool = True,
) -> Verdict:
    metric, c = item.metric, item.comparison
    absolute = item.bounds.verdict
    threshold = absolute.threshold
    compared = replace(
        absolute, baseline_run=baseline_run, comparison=c, p_adjusted=p_adj, caveats=item.caveats
    )
    if not (math.isfinite(c.delta) and math.isfinite(c.p_value)):
        reason = (
            f"{_label(threshold)} = {metric.value:.4f} vs baseline {c.baseline:.4f} (run "
            f"{baseline_run}): the {c.test} comparison is undefined (delta {c.delta}, p "
            f"{c.p_value}); failing closed"
        )
        return replace(compared, status=Status.FAIL, reason=reason)
    higher = metric.higher_is_better is not False
    drop = c.oriented_drop(higher)
    allowed, rule = margin(threshold, settings, c.baseline, higher, use_ratio)
    corrected = "" if settings.correction == "none" else f", {settings.correction}-adjusted"
    against = (
        f"baseline {c.baseline:.4f} (run {baseline_run}), delta {c.delta:+.4f} "
        f"[95% CI {c.ci[0]:+.4f}, {c.ci[1]:+.4f}], p={stats.format_p(p_adj)}{corrected} "
        f"({c.test}, n={c.n})"
    )
    noise = False
    if item.bounds.broken is not None:
        status, tail = Status.FAIL, item.bounds.broken
    elif drop > allowed and p_adj < settings.alpha:
        status, tail = Status.FAIL, f"significant drop of {drop:.4f} > {rule}"
    elif drop > allowed:
        mde = _mde(c, metric, settings.alpha)
        status, noise = Status.WARN, True
        tail = f"drop of {drop:.4f} > {rule} is not significant at alpha {settings.alpha:g}" + (
            "" if math.isnan(mde) else f"; the minimum detectable drop at n={c.n} is {mde:.4f}"
        )
    else:
        status, tail = Status.PASS, f"within {rule}"
    if item.notes:
        tail += f" ({'; '.join(item.notes)})"
    reason = f"{_label(threshold)} = {metric.value:.4f} vs {against}: {tail}"
    caveats = item.caveats + (((Caveat.NOISE, reason),) if noise else ())
    if item.bounds.warning is not None and status is not Status.FAIL:
        status, reason = Status.WARN, f"{reason}; {item.bounds.warning}"
    return replace(compared, status=status, reason=reason, notes=tuple(item.notes), caveats=caveats)


def _mde(c: stats.Comparison, metric: MetricResult, alpha: float) -> float:
    """The drop this comparison could have detected with 80% power (0/1 metrics)."""
    if not metric.is_binary:
        return math.nan
    base_p = c.baseline if metric.higher_is_better else 1 - c.baseline
    share = None
    if c.discordant is not None and c.n:
        share = max(sum(c.discordant) / c.n, 1 / c.n)
    return stats.minimum_detectable_drop(c.n, base_p, alpha, discordance=share)


def power_warnings(
    thresholds: Iterable[MetricThreshold],
    baseline: GateOutcome,
    settings: GateConfig,
    discordance: Mapping[tuple[str, str], float] | None = None,
) -> list[str]:
    """Thresholds whose max_drop is below what n examples can detect (before the eval runs)."""
    messages = []
    for threshold in thresholds:
        try:
            base = baseline.run[threshold.task].metric(threshold.metric)
        except (TaskNotFound, MetricNotFound):
            continue
        if not base.is_binary:
            continue
        allowed = allowed_drop(threshold, settings)
        p = base.value if base.higher_is_better else 1 - base.value
        share = (discordance or {}).get((threshold.task, base.key))
        mde = stats.minimum_detectable_drop(base.n, p, settings.alpha, discordance=share)
        if allowed < mde:
            basis = (
                f"given the {share:.1%} of examples that flipped between the last two baseline runs"
                if share is not None
                else "assuming independent errors, a cautious bound until two baselines exist"
            )
            messages.append(
                f"{threshold.task} {threshold.metric}: n={base.n} cannot detect a "
                f"{allowed * 100:.1f} pp drop at alpha {settings.alpha:g} with 80% power; the "
                f"minimum detectable drop is {mde * 100:.1f} pp ({basis}). A drop between the "
                "two passes with a warning: raise max_drop, or evaluate more examples (raise "
                "the suite's sample, or remove it for every document) and record a new baseline "
                "with them (--mlgate-record on the baseline branch): the paired test counts only "
                "documents both runs evaluated, so against this baseline n stays at most "
                f"{base.n}."
            )
    return messages
