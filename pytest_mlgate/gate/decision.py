"""Every comparison of a run queued by family, corrected, decided by the one rule, and folded into
one verdict per gated metric; the trend's CUSUM over the history; power warnings. No pytest, no I/O.

The rule (DESIGN §4, §10): a metric fails when it breaks an absolute bound (``min`` / ``max``), or
when it dropped against the baseline by more than its margin (``max_drop``) AND the one-sided
paired test says the drop is significant at ``alpha`` (after the multiple-comparison correction).
A drop beyond the margin that is not significant passes with a warning giving the p-value and the
minimum detectable drop. A missing metric fails. The anchor, the reference and a variant's clean
task are compared by the same rule (``gate.comparison``).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from functools import partial

from pytest_mlgate import stats
from pytest_mlgate.config.schema import GateConfig, MetricThreshold, clean_task
from pytest_mlgate.gate.bounds import (
    Bounds,
    check_bounds,
    item_label,
    metric_direction,
    metric_of,
    other_view,
    subgroup_view,
)
from pytest_mlgate.gate.comparison import (
    ANCHOR,
    BASELINE,
    GAP,
    REFERENCE,
    Against,
    Decision,
    Pending,
    Unusable,
    decide,
    pair,
)
from pytest_mlgate.gate.looks import SequentialStop
from pytest_mlgate.gate.trend import TrendSeries, stated_arl, trend_series
from pytest_mlgate.gate.verdicts import (
    SEVERITY,
    Anchor,
    Caveat,
    GateOutcome,
    Reference,
    Status,
    Verdict,
)
from pytest_mlgate.manifest import Manifest, incomparable
from pytest_mlgate.results import EvalRun


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


def _as_verdict(decision: Decision) -> Verdict:
    """The baseline's decision as the metric's verdict."""
    item = decision.pending
    assert item is not None
    return replace(
        item.bounds.verdict,
        status=decision.status,
        reason=decision.text,
        baseline_run=item.against.run_id,
        comparison=item.comparison,
        p_adjusted=decision.p_adjusted,
        notes=item.notes,
        caveats=decision.caveats,
    )


def _as_extra(decision: Decision) -> _Extra:
    item = decision.pending
    assert item is not None
    assert decision.p_adjusted is not None
    head = (item.comparison, decision.p_adjusted) if item.against.kind is REFERENCE else None
    return _Extra(decision.status, decision.text, decision.caveats, reference=head)


def _unusable_extra(bounds: Bounds, against: Against, problem: Unusable) -> _Extra:
    """An anchor, reference or clean task that cannot be compared with: the anchor is skipped
    (it passes with a caveat: re-anchor), the others fail."""
    if against.kind is ANCHOR:
        if problem.step == "missing":
            return _Extra(Status.PASS, f"vs {against.name}: not in it")
        message = (
            f"{item_label(bounds.verdict.threshold)}: {against.name} skipped: {problem.why}. "
            "Re-anchor: point [gate] anchor at a run recorded with today's setup (its run id, "
            "or a newer tag)"
        )
        skipped = f"vs {against.name}: skipped ({problem.why})"
        return _Extra(Status.PASS, skipped, ((Caveat.ANCHOR, message),))
    if problem.step == "missing":
        return _Extra(Status.FAIL, f"vs {against.name}: not evaluated ({problem.why})")
    return _Extra(Status.FAIL, f"vs {against.name}: cannot be compared ({problem.why})")


def _unusable_baseline(
    bounds: Bounds, against: Against, problem: Unusable, settings: GateConfig, record_hint: str
) -> Verdict:
    """The verdict of a metric whose baseline cannot be tested against, each case saying how to
    fix it."""
    absolute, threshold = bounds.verdict, bounds.verdict.threshold
    label, run_id = item_label(threshold), against.run_id
    verdict = replace(absolute, baseline_run=run_id)
    if problem.step == "missing":
        note = f"not in baseline run {run_id}"
        return replace(verdict, reason=f"{absolute.reason}; {note}", notes=(note,))
    if problem.step == "direction":
        reason = (
            f"{label}: {problem.why}, so a drop cannot be told from a gain; add higher_is_better "
            f"= true (or false) to [thresholds.{threshold.task}] {threshold.metric}"
        )
        return replace(verdict, status=Status.FAIL, reason=reason)
    assert problem.base is not None
    assert problem.margin is not None
    if problem.step == "value":
        reason = (
            f"{label}: the baseline value is {problem.base.value} (run {run_id}), nothing to "
            f"compare with; record a new baseline ({record_hint})"
        )
        return replace(verdict, status=Status.FAIL, reason=reason)
    if problem.step == "incomparable":
        reason = (
            f"{label}: not comparable with baseline run {run_id}: {problem.why}. Record a new "
            f"baseline from the reference branch ({record_hint}) or set "
            '[gate] on_incomparable = "warn"'
        )
        notes = (*problem.notes, *problem.reasons)
        return replace(
            verdict,
            status=Status.FAIL,
            reason=reason,
            comparison=problem.comparison,
            notes=notes,
        )
    # Untestable: no per-example scores and no stderr; the point estimate against the margin.
    assert bounds.metric is not None
    higher = metric_direction(threshold, bounds.metric)
    value, base = bounds.metric.value, problem.base.value
    drop = base - value if higher else value - base
    status = Status.FAIL if drop > problem.margin.allowed else absolute.status
    reason = (
        f"{absolute.reason}; baseline {base:.4f} (run {run_id}): drop {drop:+.4f} cannot be "
        "tested (no per-example scores or stderr)"
    )
    caveats = absolute.caveats + _incomparable_caveat(label, run_id, problem.reasons)
    return replace(verdict, status=status, reason=reason, notes=problem.notes, caveats=caveats)


def _incomparable_caveat(
    label: str, run_id: str | None, reasons: Sequence[str]
) -> tuple[tuple[Caveat, str], ...]:
    if not reasons:
        return ()
    message = (
        f"{label}: compared with baseline run {run_id} although {'; '.join(reasons)} "
        '([gate] on_incomparable = "warn")'
    )
    return ((Caveat.INCOMPARABLE, message),)


class _Decision:
    """Every comparison of a run, queued per family, corrected (per run or per family), then
    combined."""

    def __init__(
        self,
        run: EvalRun,
        baseline: GateOutcome | None,
        settings: GateConfig,
        manifest: Manifest | None,
        record_hint: str,
        anchor: Anchor | None,
        reference: Reference | None = None,
        comparisons: int = 1,
        sequential: Mapping[MetricThreshold, SequentialStop] | None = None,
    ) -> None:
        self.run, self.baseline, self.settings = run, baseline, settings
        self.resamples = stats.resamples_for(comparisons, settings.alpha)
        self.manifest, self.record_hint, self.anchor = manifest, record_hint, anchor
        self.reference = reference
        self.sequential = sequential or {}
        self.main: dict[MetricThreshold, Verdict] = {}
        self.extras: dict[MetricThreshold, list[_Extra]] = {}
        self.families: dict[str, list[tuple[MetricThreshold, float, Decide]]] = {}
        self.looked: set[int] = set()  #: ids of the queued comparisons decided look by look
        self.trends: list[TrendSeries] = []

    def _keep(self, threshold: MetricThreshold, result: Verdict | _Extra | None) -> None:
        if isinstance(result, Verdict):
            self.main[threshold] = result
        elif result is not None:
            self.extras.setdefault(threshold, []).append(result)

    def _queue(self, family: str, threshold: MetricThreshold, p: float, decide: Decide) -> None:
        self.families.setdefault(family, []).append((threshold, p, decide))

    def _others(self, threshold: MetricThreshold) -> list[Against]:
        """The runs this metric is compared with, besides the baseline."""
        others = []
        if threshold.max_gap is not None:
            clean = clean_task(threshold.task)
            others.append(Against(GAP, self.run, clean, f"clean {clean}"))
        if self.anchor is not None:
            outcome = self.anchor.outcome
            view = other_view(outcome.run, threshold)
            name = f"anchor {self.anchor.label}"
            others.append(
                Against(ANCHOR, view, threshold.task, name, outcome.run_id, outcome.manifest)
            )
        if self.reference is not None:
            view = other_view(self.reference.outcome.run, threshold)
            name = f"reference {self.reference.label}"
            others.append(Against(REFERENCE, view, threshold.task, name))
        return others

    def _compare(
        self, bounds: Bounds, current: EvalRun, against: Against
    ) -> Pending | Unusable | None:
        return pair(
            bounds,
            current[bounds.verdict.threshold.task],
            against,
            self.settings,
            self.manifest,
            with_reference=self.reference is not None,
            resamples=self.resamples,
        )

    def add(self, threshold: MetricThreshold) -> None:
        settings = self.settings
        current = subgroup_view(self.run, threshold)
        bounds = check_bounds(threshold, current, settings)
        if bounds.metric is not None:
            for against in self._others(threshold):
                found = self._compare(bounds, current, against)
                if isinstance(found, Pending):
                    then: Decide = partial(self._decide_extra, found)
                    self._queue(found.family, threshold, found.comparison.p_value, then)
                elif found is not None:
                    self._keep(threshold, _unusable_extra(bounds, against, found))
        if bounds.metric is None or self.baseline is None:
            self._keep(threshold, _without_baseline(bounds, self.baseline))
            return
        baseline = self.baseline
        view = other_view(baseline.run, threshold)
        against = Against(
            BASELINE, view, threshold.task, "baseline", baseline.run_id, baseline.manifest
        )
        found = self._compare(bounds, current, against)
        if isinstance(found, Pending):
            label = item_label(threshold)
            caveats = bounds.verdict.caveats + _incomparable_caveat(
                label, baseline.run_id, found.incomparable
            )
            found = replace(found, caveats=caveats, sequential=self.sequential.get(threshold))
            decide_main: Decide = partial(self._decide_main, found)
            self._queue(found.family, threshold, found.comparison.p_value, decide_main)
            if found.sequential is not None:
                self.looked.add(id(decide_main))
        else:
            assert found is not None  # the baseline comparison is always made
            self._keep(
                threshold,
                _unusable_baseline(bounds, against, found, settings, self.record_hint),
            )

    def _decide_main(self, item: Pending, p_adj: float) -> Verdict:
        return _as_verdict(decide(item, p_adj, self.settings))

    def _decide_extra(self, item: Pending, p_adj: float) -> _Extra:
        return _as_extra(decide(item, p_adj, self.settings))

    def add_trend(self, threshold: MetricThreshold, history: Sequence[GateOutcome]) -> None:
        """The metric's run-to-run changes over the comparable history and this run, for the
        trend's CUSUM (``gate.trend``), decided once every metric's series is known."""
        if self.settings.on_trend == "off" or threshold.subgroup is not None:
            return
        metric = metric_of(self.run, threshold)
        if metric is None or _value_of(self.run, threshold) is None:
            return
        runs = [r.run for r in self._comparable_tail(history, threshold.task)] + [self.run]
        higher = metric_direction(threshold, metric) is not False
        series = trend_series(threshold, runs, higher)
        if series.changes:
            self.trends.append(series)

    def corrected_together(self) -> list[list[tuple[MetricThreshold, float, Decide]]]:
        """The groups corrected together: with ``error_rate = "run"`` every comparison that can
        fail the run is one group, so the chance that any of them fails under no change is at
        most alpha; with ``"family"`` each family is its own group (at most alpha per family in
        use). The trend is not in either: a CUSUM alarm is not a p-value. It is governed by its
        average run length between false alarms instead (``gate.trend.stated_arl``), over the
        run's metrics together with ``"run"``; with ``on_trend = "fail"`` a run's chance of a
        false failure is then at most alpha plus about 1/trend_arl."""
        if self.settings.error_rate == "family":
            return list(self.families.values())
        run = [q for qs in self.families.values() for q in qs]
        return [run] if run else []

    def decide_trends(self) -> None:
        arl = stated_arl(self.settings, len(self.trends))
        h = stats.cusum_threshold(arl)
        for series in self.trends:
            found = stats.cusum_down(series.changes, h)
            extra = _decide_trend(found, h, series.runs, self.settings)
            main = self.main.get(series.threshold)
            alone = series.changes[-1] - stats.CUSUM_K > h  # this run's change alarms alone
            if extra.status is Status.WARN and alone and main is not None and not main.passed:
                # then the alarm repeats the comparison that failed the run: its figures stay
                extra = _Extra(Status.PASS, "", trend=extra.trend)
            self._keep(series.threshold, extra)

    def _comparable_tail(self, history: Sequence[GateOutcome], task: str) -> Sequence[GateOutcome]:
        """The recorded runs since the last one made differently from this run (another task
        version, n-shot, dtype, prompt format …): an incomparable change resets the trend, so a
        one-off level shift is not read as a trend."""
        if self.manifest is None:
            return history
        for index in range(len(history) - 1, -1, -1):
            if incomparable(self.manifest, history[index].manifest, task):
                return history[index + 1 :]
        return history

    def verdicts(self, thresholds: Sequence[MetricThreshold]) -> dict[MetricThreshold, Verdict]:
        for queued in self.corrected_together():
            looked = [q for q in queued if id(q[2]) in self.looked]
            fixed = [q for q in queued if id(q[2]) not in self.looked]
            # Beside the comparisons decided look by look (at their share of alpha,
            # gate.looks.SequentialPlan.share), the fixed-n ones get the rest: their Holm p-values
            # scaled by (all / fixed), Bonferroni between the two parts.
            split = self.settings.correction != "none" and looked and fixed
            scale = (len(self.sequential) + len(fixed)) / len(fixed) if split else 1.0
            for part, times in ((looked, 1.0), (fixed, scale)):
                adjusted = stats.adjust([p for _, p, _ in part], self.settings.correction)
                for (threshold, _, then), p_adj in zip(part, adjusted, strict=True):
                    self._keep(threshold, then(min(1.0, p_adj * times)))
        self.decide_trends()
        return {t: _with_extras(self.main[t], self.extras.get(t, [])) for t in thresholds}


def _decide_trend(found: stats.Cusum, h: float, runs: int, settings: GateConfig) -> _Extra:
    """An alarm when the CUSUM passes h at this run (once per change point: it restarts after
    each alarm); the verdict keeps (CUSUM, h, comparable runs) either way."""
    trend = (found.statistic, h, runs)
    if not found.alarmed:
        return _Extra(Status.PASS, "", trend=trend)
    text = (
        f"downward trend: CUSUM {found.statistic:.1f} > h {h:.1f} over the last {found.runs} "
        f"of {runs} comparable runs (in-control average run length {settings.trend_arl} runs "
        "between false alarms); compare with an anchor ([gate] anchor) to see how far"
    )
    status = Status.FAIL if settings.on_trend == "fail" else Status.WARN
    caveats = () if status is Status.FAIL else ((Caveat.TREND, text),)
    return _Extra(status, text, caveats, trend)


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


def _without_baseline(bounds: Bounds, baseline: GateOutcome | None) -> Verdict:
    verdict = bounds.verdict
    if baseline is not None:
        return verdict
    suffix = "; no baseline recorded yet" if verdict.passed else ""
    return replace(verdict, reason=verdict.reason + suffix, notes=("no baseline recorded yet",))


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
    sequential: Mapping[MetricThreshold, SequentialStop] | None = None,
) -> dict[MetricThreshold, Verdict]:
    """Verdicts for every gated metric of a run: absolute bounds, then the comparisons (with
    the baseline; with the anchor; with the reference; a variant also with its clean task),
    corrected together per ``[gate] error_rate``; and the trend's CUSUM over ``history`` (the
    baseline branch's last runs, oldest first) at its stated average run length.
    ``sequential``: the baseline comparisons a sequential run decided look by look (their
    decisions replace the fixed-n test's)."""
    kinds = 1 + (anchor is not None) + (reference is not None)  # the trend is no test: no p
    comparisons = len(thresholds) * kinds + sum(t.max_gap is not None for t in thresholds)
    decision = _Decision(
        run, baseline, settings, manifest, record_hint, anchor, reference, comparisons, sequential
    )
    for threshold in thresholds:
        decision.add(threshold)
        if history:
            decision.add_trend(threshold, history)
    return decision.verdicts(thresholds)


def _value_of(run: EvalRun, threshold: MetricThreshold) -> float | None:
    metric = metric_of(run, threshold)
    return None if metric is None or not math.isfinite(metric.value) else metric.value
