"""Pure functions: results + thresholds + baseline -> verdicts. No pytest, no I/O.

The rule (DESIGN §4): a metric fails when it breaks an absolute bound (``min`` / ``max``), or
when it dropped against the baseline by more than ``max_drop`` AND the paired test says the drop
is significant at ``alpha`` (after the multiple-comparison correction across every gated metric
of the run). A drop above ``max_drop`` that is not significant passes with a warning that gives
the p-value and the minimum detectable drop. A metric missing from the results fails.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from pytest_mlgate import stats
from pytest_mlgate.config import GateConfig, MetricThreshold
from pytest_mlgate.manifest import incomparable
from pytest_mlgate.results import (
    DOC_HASH_CHARS,
    EvalRun,
    MetricNotFound,
    MetricResult,
    TaskNotFound,
    TaskResult,
)


class Status(str, enum.Enum):
    PASS = "pass"
    WARN = "warn"
    FAIL = "fail"


@dataclass(frozen=True)
class Baseline:
    """The recorded run the current one is compared with."""

    run_id: str
    run: EvalRun
    manifest: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Verdict:
    """The outcome of one gated metric, with a one-line reason a reviewer can act on."""

    threshold: MetricThreshold
    status: Status
    reason: str
    metric: MetricResult | None = None
    baseline_run: str | None = None
    comparison: stats.Comparison | None = None
    p_adjusted: float | None = None
    notes: tuple[str, ...] = ()

    @property
    def passed(self) -> bool:
        return self.status is not Status.FAIL

    @property
    def value(self) -> float | None:
        return None if self.metric is None else self.metric.value

    @property
    def n(self) -> int | None:
        return None if self.metric is None else self.metric.n

    def summary(self) -> dict[str, Any]:
        """JSON-ready: what history, reports and JUnit properties show for this verdict."""
        c = self.comparison
        return {
            "task": self.threshold.task,
            "metric": self.threshold.metric,
            "status": self.status.value,
            "reason": self.reason,
            "value": _finite_or_none(self.value),
            "n": self.n,
            "min": self.threshold.min,
            "max": self.threshold.max,
            "max_drop": self.threshold.max_drop,
            "baseline_run": self.baseline_run,
            "baseline": None if c is None else _finite_or_none(c.baseline),
            "delta": None if c is None else _finite_or_none(c.delta),
            "delta_ci": None if c is None else [_finite_or_none(x) for x in c.ci],
            "p_value": None if c is None else c.p_value,
            "p_adjusted": self.p_adjusted,
            "test": None if c is None else c.test,
            "paired_n": None if c is None else c.n,
            "notes": list(self.notes),
        }


def _finite_or_none(value: float | None) -> float | None:
    return None if value is None or math.isnan(value) or math.isinf(value) else value


def format_value(metric: MetricResult) -> str:
    low, high = metric.ci()
    ci = "" if math.isnan(low) else f", 95% CI {low:.3f}-{high:.3f}"
    return f"{metric.value:.4f}{ci}, n={metric.n}"


def check_threshold(threshold: MetricThreshold, run: EvalRun) -> Verdict:
    """Check one metric against its absolute bounds. Missing or NaN values fail (fail closed)."""
    label = f"{threshold.task} {threshold.metric}"
    try:
        metric = run[threshold.task].metric(threshold.metric)
    except (TaskNotFound, MetricNotFound) as exc:
        return Verdict(threshold, Status.FAIL, f"{label}: missing from the results: {exc}")
    if metric.n <= 0:
        return Verdict(threshold, Status.FAIL, f"{label}: evaluated on no examples", metric)
    if math.isnan(metric.value) or math.isinf(metric.value):
        return Verdict(threshold, Status.FAIL, f"{label} = {metric.value} (n={metric.n})", metric)
    shown = f"{label} = {format_value(metric)}"
    if threshold.min is not None and metric.value < threshold.min:
        return Verdict(threshold, Status.FAIL, f"{shown}: below min {threshold.min:g}", metric)
    if threshold.max is not None and metric.value > threshold.max:
        return Verdict(threshold, Status.FAIL, f"{shown}: above max {threshold.max:g}", metric)
    return Verdict(threshold, Status.PASS, f"{shown}: within {threshold.describe()}", metric)


@dataclass(frozen=True)
class Pairing:
    baseline: tuple[float, ...]
    current: tuple[float, ...]
    paired: bool
    uncovered: int  # current examples the baseline does not hold (by id and document hash)


def paired_docs(
    current: MetricResult, current_task: TaskResult, base: MetricResult, base_task: TaskResult
) -> tuple[list[tuple[int, float, float]], int]:
    """(doc id, baseline score, current score) for every current example the baseline holds,
    matched by doc id and, where both runs have them, document hash; and how many it lacks."""
    use_hash = bool(current_task.doc_hashes) and bool(base_task.doc_hashes)

    def key(task: TaskResult, doc: int) -> tuple[int, str | None]:
        if not use_hash:
            return (doc, None)
        digest = task.doc_hashes.get(doc)
        return (doc, None if digest is None else digest[:DOC_HASH_CHARS])

    base_scores = {key(base_task, d): s for d, s in zip(base.doc_ids, base.scores, strict=True)}
    pairs, uncovered = [], 0
    for doc, score in zip(current.doc_ids, current.scores, strict=True):
        match = base_scores.get(key(current_task, doc))
        if match is None:
            uncovered += 1
        else:
            pairs.append((doc, match, score))
    return pairs, uncovered


def pair_examples(
    current: MetricResult, current_task: TaskResult, base: MetricResult, base_task: TaskResult
) -> Pairing:
    """Paired when the baseline holds every current example (a PR's sample of a baseline's full
    run pairs fine); otherwise the full score lists go to an unpaired test."""
    pairs, uncovered = paired_docs(current, current_task, base, base_task)
    if uncovered or not pairs:
        return Pairing(base.scores, current.scores, False, uncovered)
    return Pairing(tuple(p[1] for p in pairs), tuple(p[2] for p in pairs), True, 0)


def flipped(
    current: MetricResult, current_task: TaskResult, base: MetricResult, base_task: TaskResult
) -> tuple[list[int], list[int]]:
    """Doc ids of the paired 0/1 examples that went right->wrong and wrong->right."""
    if not (current.is_binary and base.is_binary):
        return [], []
    good = 1.0 if current.higher_is_better else 0.0
    pairs, _ = paired_docs(current, current_task, base, base_task)
    lost = [doc for doc, before, now in pairs if before == good and now != good]
    gained = [doc for doc, before, now in pairs if before != good and now == good]
    return lost, gained


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
    threshold: MetricThreshold
    absolute: Verdict
    metric: MetricResult  # with its direction resolved
    comparison: stats.Comparison
    notes: list[str]


def gate_all(
    thresholds: Sequence[MetricThreshold],
    run: EvalRun,
    baseline: Baseline | None,
    settings: GateConfig,
    manifest: Mapping[str, Any] | None = None,
    record_hint: str = "pytest -m eval --mlgate-record",
) -> dict[MetricThreshold, Verdict]:
    """Verdicts for every gated metric of a run: absolute bounds, then the baseline comparison,
    with one multiple-comparison correction across all metrics compared."""
    verdicts: dict[MetricThreshold, Verdict] = {}
    pending: list[_Pending] = []
    for threshold in thresholds:
        absolute = check_threshold(threshold, run)
        if absolute.metric is None or baseline is None:
            note = () if baseline is not None else ("no baseline recorded yet",)
            suffix = "; no baseline recorded yet" if baseline is None and absolute.passed else ""
            verdicts[threshold] = Verdict(
                threshold, absolute.status, absolute.reason + suffix, absolute.metric, notes=note
            )
            continue
        outcome = _compare_with_baseline(
            threshold, run, absolute, baseline, settings, manifest, record_hint
        )
        if isinstance(outcome, Verdict):
            verdicts[threshold] = outcome
        else:
            pending.append(outcome)
    adjusted = stats.adjust([p.comparison.p_value for p in pending], settings.correction)
    for item, p_adj in zip(pending, adjusted, strict=True):
        assert baseline is not None  # only comparisons with a baseline are pending
        verdicts[item.threshold] = _decide(item, p_adj, baseline, settings)
    return {t: verdicts[t] for t in thresholds}


def _compare_with_baseline(
    threshold: MetricThreshold,
    run: EvalRun,
    absolute: Verdict,
    baseline: Baseline,
    settings: GateConfig,
    manifest: Mapping[str, Any] | None,
    record_hint: str,
) -> Verdict | _Pending:
    assert absolute.metric is not None
    metric = absolute.metric
    current_task = run[threshold.task]
    label = f"{threshold.task} {threshold.metric}"
    try:
        base_task = baseline.run[threshold.task]
        base = base_task.metric(metric.key)
    except (TaskNotFound, MetricNotFound):
        note = f"not in baseline run {baseline.run_id}"
        return Verdict(
            threshold,
            absolute.status,
            f"{absolute.reason}; {note}",
            metric,
            baseline.run_id,
            notes=(note,),
        )
    direction = (
        metric.higher_is_better
        if threshold.higher_is_better is None
        else threshold.higher_is_better
    )
    if direction is None:
        reason = (
            f"{label}: lm-eval does not say whether higher is better for {metric.key!r}, so a "
            "drop cannot be told from a gain; add higher_is_better = true (or false) to "
            f"[thresholds.{threshold.task}] {threshold.metric}"
        )
        return Verdict(threshold, Status.FAIL, reason, metric, baseline.run_id)
    if not math.isfinite(base.value):
        reason = (
            f"{label}: the baseline value is {base.value} (run {baseline.run_id}), nothing to "
            f"compare with; record a new baseline ({record_hint})"
        )
        return Verdict(threshold, Status.FAIL, reason, metric, baseline.run_id)
    metric = replace(metric, higher_is_better=direction)
    base = replace(base, higher_is_better=direction)
    reasons = incomparable(manifest or {}, baseline.manifest, threshold.task)
    notes: list[str] = []
    comparison: stats.Comparison | None = None
    if metric.scores and base.scores:
        pairing = pair_examples(metric, current_task, base, base_task)
        if pairing.uncovered:
            reasons.append(
                f"documents differ ({pairing.uncovered} of {len(metric.scores)} evaluated "
                "examples are not in the baseline: another subset, seed or dataset version)"
            )
        if not pairing.paired:
            notes.append("examples could not be paired: unpaired test")
        elif not (current_task.doc_hashes and base_task.doc_hashes):
            notes.append("paired by doc id alone (a run without document hashes)")
        comparison = stats.compare(
            pairing.baseline,
            pairing.current,
            paired=pairing.paired,
            higher_is_better=direction,
            level=0.95,
        )
    else:
        comparison = _stderr_comparison(metric, base)
        notes.append("no per-example scores: unpaired test on the standard errors")
    if reasons:
        why = "; ".join(reasons)
        if settings.on_incomparable == "fail":
            reason = (
                f"{threshold.task} {threshold.metric}: not comparable with baseline run "
                f"{baseline.run_id}: {why}. Record a new baseline from the reference branch "
                f'({record_hint}) or set [gate] on_incomparable = "warn"'
            )
            return Verdict(
                threshold,
                Status.FAIL,
                reason,
                metric,
                baseline.run_id,
                comparison,
                notes=tuple(notes + reasons),
            )
        notes.extend(reasons)
    if comparison is None:
        drop = _oriented(base.value - metric.value, direction)
        allowed = _allowed(threshold, settings)
        status = Status.FAIL if drop > allowed else absolute.status
        verdict_reason = (
            f"{absolute.reason}; baseline {base.value:.4f} (run {baseline.run_id}): drop "
            f"{drop:+.4f} cannot be tested (no per-example scores or stderr)"
        )
        return Verdict(
            threshold, status, verdict_reason, metric, baseline.run_id, notes=tuple(notes)
        )
    return _Pending(threshold, absolute, metric, comparison, notes)


def _oriented(drop: float, higher_is_better: bool) -> float:
    return drop if higher_is_better else -drop


def _allowed(threshold: MetricThreshold, settings: GateConfig) -> float:
    return settings.max_drop if threshold.max_drop is None else threshold.max_drop


def _decide(item: _Pending, p_adj: float, baseline: Baseline, settings: GateConfig) -> Verdict:
    metric, c, threshold = item.metric, item.comparison, item.threshold
    if not (math.isfinite(c.delta) and math.isfinite(c.p_value)):
        reason = (
            f"{threshold.task} {threshold.metric} = {metric.value:.4f} vs baseline "
            f"{c.baseline:.4f} (run {baseline.run_id}): the {c.test} comparison is undefined "
            f"(delta {c.delta}, p {c.p_value}); failing closed"
        )
        return Verdict(threshold, Status.FAIL, reason, metric, baseline.run_id, c, p_adj)
    drop = c.oriented_drop(metric.higher_is_better is not False)
    allowed = _allowed(threshold, settings)
    corrected = "" if settings.correction == "none" else f", {settings.correction}-adjusted"
    compared = (
        f"baseline {c.baseline:.4f} (run {baseline.run_id}), delta {c.delta:+.4f} "
        f"[95% CI {c.ci[0]:+.4f}, {c.ci[1]:+.4f}], p={_p(p_adj)}{corrected} "
        f"({c.test}, n={c.n})"
    )
    head = f"{threshold.task} {threshold.metric} = {metric.value:.4f}"
    notes = list(item.notes)
    if not item.absolute.passed:
        status, tail = Status.FAIL, item.absolute.reason.split(": ")[-1]
    elif drop > allowed and p_adj < settings.alpha:
        status, tail = Status.FAIL, f"significant drop of {drop:.4f} > max_drop {allowed:g}"
    elif drop > allowed:
        mde = _mde(c, metric, settings.alpha)
        status = Status.WARN
        tail = (
            f"drop of {drop:.4f} > max_drop {allowed:g} is not significant at alpha "
            f"{settings.alpha:g}"
            + ("" if math.isnan(mde) else f"; the minimum detectable drop at n={c.n} is {mde:.4f}")
        )
    else:
        status, tail = Status.PASS, f"within max_drop {allowed:g}"
    if notes:
        tail += f" ({'; '.join(notes)})"
    return Verdict(
        threshold,
        status,
        f"{head} vs {compared}: {tail}",
        metric,
        baseline.run_id,
        c,
        p_adj,
        tuple(notes),
    )


def _mde(c: stats.Comparison, metric: MetricResult, alpha: float) -> float:
    """The drop this comparison could have detected with 80% power (0/1 metrics)."""
    if not metric.is_binary:
        return math.nan
    base_p = c.baseline if metric.higher_is_better else 1 - c.baseline
    share = None
    if c.discordant is not None and c.n:
        share = max(sum(c.discordant) / c.n, 1 / c.n)
    return stats.minimum_detectable_drop(c.n, base_p, alpha, discordance=share)


def _p(p: float) -> str:
    return f"{p:.2g}" if p < 0.001 else f"{p:.3f}"


def power_warnings(
    thresholds: Iterable[MetricThreshold],
    baseline: Baseline,
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
        allowed = _allowed(threshold, settings)
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
                "two passes with a warning: raise max_drop, or evaluate more examples."
            )
    return messages


@dataclass(frozen=True)
class Flips:
    """The examples of one task that changed answer against the baseline, on one 0/1 metric."""

    task: str
    metric: str
    lost: tuple[int, ...]  # right -> wrong
    gained: tuple[int, ...]  # wrong -> right


def task_flips(
    run: EvalRun, baseline: Baseline | None, thresholds: Sequence[MetricThreshold]
) -> list[Flips]:
    """Per task, the flips on its first gated 0/1 metric (else its first 0/1 metric)."""
    if baseline is None:
        return []
    found = []
    for name, task in run.tasks.items():
        if name not in baseline.run:
            continue
        gated = [t.metric for t in thresholds if t.task == name]
        keys = [k for k in (_resolve(task, m) for m in gated) if k] + list(task.metrics)
        for key in keys:
            metric, base = task.metrics[key], baseline.run[name].metrics.get(key)
            if base is None or not metric.is_binary or not base.is_binary:
                continue
            lost, gained = flipped(metric, task, base, baseline.run[name])
            found.append(Flips(name, key, tuple(lost), tuple(gained)))
            break
    return found


def _resolve(task: TaskResult, metric: str) -> str | None:
    try:
        return task.resolve(metric)
    except MetricNotFound:
        return None
