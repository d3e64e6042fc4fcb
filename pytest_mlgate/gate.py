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
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace

from pytest_mlgate import stats
from pytest_mlgate.config import VARIANT_MARK, GateConfig, MetricThreshold, clean_task
from pytest_mlgate.errors import MetricNotFound, TaskNotFound
from pytest_mlgate.manifest import Manifest, incomparable
from pytest_mlgate.results import DOC_HASH_CHARS, EvalRun, MetricResult, TaskResult


class Status(str, enum.Enum):
    PASS = "pass"
    WARN = "warn"
    FAIL = "fail"


class Caveat(str, enum.Enum):
    """Why a verdict that did not fail deserves a warning (each has its warning class)."""

    NOISE = "noise"  #: a drop beyond the margin that the paired test calls noise
    INCOMPARABLE = "incomparable"  #: compared although the baseline was made differently
    CHANCE = "chance"  #: a score no better than guessing (or 0 on every example)


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


@dataclass(frozen=True)
class Pairing:
    baseline: tuple[float, ...]
    current: tuple[float, ...]
    paired: bool
    uncovered: int  # current examples the baseline does not hold (by id and document hash)
    docs: tuple[int, ...] = ()  # the doc ids paired, in order


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
    return Pairing(
        tuple(p[1] for p in pairs), tuple(p[2] for p in pairs), True, 0, tuple(p[0] for p in pairs)
    )


def prompt_mismatches(
    current: TaskResult, base: TaskResult, docs: Iterable[int]
) -> tuple[int, int]:
    """Of the documents both runs rendered (and fingerprinted), how many were rendered
    differently, and how many were compared."""
    shared = [d for d in docs if d in current.prompt_hashes and d in base.prompt_hashes]
    differ = sum(
        current.prompt_hashes[d][:DOC_HASH_CHARS] != base.prompt_hashes[d][:DOC_HASH_CHARS]
        for d in shared
    )
    return differ, len(shared)


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
    """A comparison waiting for the family's multiple-comparison correction."""

    bounds: _Bounds
    metric: MetricResult  # with its direction resolved
    comparison: stats.Comparison
    notes: list[str]
    caveats: tuple[tuple[Caveat, str], ...] = ()


# The comparison families, each corrected on its own (DESIGN §10): a run's false-alarm rate is
# then at most alpha per family in use.
OVERALL, SUBGROUPS, GAPS = "overall metrics vs the baseline", "subgroups vs the baseline", "gaps"


@dataclass(frozen=True)
class _Gap:
    """A variant's drop against its clean task in the same run, decided."""

    status: Status
    text: str
    caveats: tuple[tuple[Caveat, str], ...] = ()


def gate_all(
    thresholds: Sequence[MetricThreshold],
    run: EvalRun,
    baseline: GateOutcome | None,
    settings: GateConfig,
    manifest: Manifest | None = None,
    record_hint: str = "pytest -m eval --mlgate-record",
) -> dict[MetricThreshold, Verdict]:
    """Verdicts for every gated metric of a run: absolute bounds, then the comparisons (with
    the baseline; a variant also with its clean task), each family corrected on its own."""
    verdicts: dict[MetricThreshold, Verdict] = {}
    families: dict[str, list[_Pending]] = {OVERALL: [], SUBGROUPS: [], GAPS: []}
    gaps: dict[MetricThreshold, _Gap] = {}
    for threshold in thresholds:
        current = subgroup_view(run, threshold)
        bounds = _check_bounds(threshold, current, settings)
        if threshold.max_gap is not None and bounds.metric is not None:
            gap = _compare_with_clean(bounds, run)
            if isinstance(gap, _Gap):
                gaps[threshold] = gap
            else:
                families[GAPS].append(gap)
        if bounds.metric is None or baseline is None:
            verdicts[threshold] = _without_baseline(bounds, baseline)
            continue
        base = replace(baseline, run=_baseline_view(baseline.run, threshold))
        outcome = _compare_with_baseline(bounds, current, base, settings, manifest, record_hint)
        if isinstance(outcome, Verdict):
            verdicts[threshold] = outcome
        else:
            families[SUBGROUPS if threshold.subgroup else OVERALL].append(outcome)
    for family, pending in families.items():
        adjusted = stats.adjust([p.comparison.p_value for p in pending], settings.correction)
        for item, p_adj in zip(pending, adjusted, strict=True):
            threshold = item.bounds.verdict.threshold
            if family == GAPS:
                gaps[threshold] = _decide_gap(item, p_adj, settings)
            else:
                assert baseline is not None  # only comparisons with a baseline are pending
                verdicts[threshold] = _decide(item, p_adj, baseline.run_id, settings)
    return {t: _with_gap(verdicts[t], gaps.get(t)) for t in thresholds}


def _compare_with_clean(bounds: _Bounds, run: EvalRun) -> _Pending | _Gap:
    """A variant (``TASK@KIND``) against its clean task on the same documents, paired."""
    assert bounds.metric is not None
    variant, threshold = bounds.metric, bounds.verdict.threshold
    clean = clean_task(threshold.task)
    try:
        clean_result = run[clean]
        base = clean_result.metric(variant.key)
    except (TaskNotFound, MetricNotFound) as exc:
        return _Gap(Status.FAIL, f"no clean {clean!r} to measure the gap against: {exc}")
    direction = metric_direction(threshold, variant)
    if direction is None:
        return _Gap(
            Status.FAIL, f"lm-eval does not say whether higher is better for {variant.key!r}"
        )
    variant, base = (
        replace(variant, higher_is_better=direction),
        replace(base, higher_is_better=direction),
    )
    comparison, notes, _ = _comparison(variant, run[threshold.task], base, clean_result)
    if comparison is None:
        return _Gap(
            Status.FAIL, f"the gap against {clean!r} cannot be tested (no per-example scores)"
        )
    return _Pending(bounds, variant, comparison, notes)


def _decide_gap(item: _Pending, p_adj: float, settings: GateConfig) -> _Gap:
    c, threshold = item.comparison, item.bounds.verdict.threshold
    assert threshold.max_gap is not None
    drop = c.oriented_drop(item.metric.higher_is_better is not False)
    corrected = "" if settings.correction == "none" else f", {settings.correction}-adjusted"
    text = (
        f"gap vs {clean_task(threshold.task)} {c.delta:+.4f} [95% CI {c.ci[0]:+.4f}, "
        f"{c.ci[1]:+.4f}], p={stats.format_p(p_adj)}{corrected} ({c.test}, n={c.n})"
    )
    if not (math.isfinite(c.delta) and math.isfinite(c.p_value)):
        return _Gap(Status.FAIL, f"{text}: the comparison is undefined; failing closed")
    if drop > threshold.max_gap and p_adj < settings.alpha:
        return _Gap(
            Status.FAIL, f"{text}: significant gap of {drop:.4f} > max_gap {threshold.max_gap:g}"
        )
    if drop > threshold.max_gap:
        text = (
            f"{text}: gap of {drop:.4f} > max_gap {threshold.max_gap:g} is not significant at "
            f"alpha {settings.alpha:g}"
        )
        return _Gap(Status.WARN, text, ((Caveat.NOISE, f"{_label(threshold)}: {text}"),))
    return _Gap(Status.PASS, f"{text}: within max_gap {threshold.max_gap:g}")


SEVERITY = {Status.PASS: 0, Status.WARN: 1, Status.FAIL: 2}


def _with_gap(verdict: Verdict, gap: _Gap | None) -> Verdict:
    """A variant's verdict with its gap against the clean task folded in: the worse status."""
    if gap is None:
        return verdict
    status = max(verdict.status, gap.status, key=SEVERITY.__getitem__)
    return replace(
        verdict,
        status=status,
        reason=f"{verdict.reason}; {gap.text}",
        caveats=verdict.caveats + gap.caveats,
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
    metric: MetricResult, task: TaskResult, base: MetricResult, base_task: TaskResult
) -> tuple[stats.Comparison | None, list[str], list[str]]:
    """The test for one metric against its baseline, its notes, and reasons the two runs are
    not comparable (documents the baseline does not hold)."""
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
    differ, shared = prompt_mismatches(task, base_task, pairing.docs)
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


def _decide(item: _Pending, p_adj: float, baseline_run: str, settings: GateConfig) -> Verdict:
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
    drop = c.oriented_drop(metric.higher_is_better is not False)
    allowed = allowed_drop(threshold, settings)
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
        status, tail = Status.FAIL, f"significant drop of {drop:.4f} > max_drop {allowed:g}"
    elif drop > allowed:
        mde = _mde(c, metric, settings.alpha)
        status, noise = Status.WARN, True
        tail = (
            f"drop of {drop:.4f} > max_drop {allowed:g} is not significant at alpha "
            f"{settings.alpha:g}"
            + ("" if math.isnan(mde) else f"; the minimum detectable drop at n={c.n} is {mde:.4f}")
        )
    else:
        status, tail = Status.PASS, f"within max_drop {allowed:g}"
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
                "two passes with a warning: raise max_drop, or evaluate more examples."
            )
    return messages


def discordance(previous: EvalRun, baseline: EvalRun) -> dict[tuple[str, str], float]:
    """Share of examples whose 0/1 score flipped between two neighbouring recorded runs: how
    much two checkpoints one merge apart really disagree, which sets the paired test's power."""
    shares = {}
    for name, task in baseline.tasks.items():
        if name not in previous:
            continue
        for key, metric in task.metrics.items():
            before = previous[name].metrics.get(key)
            if before is None or not metric.is_binary or not before.is_binary:
                continue
            pairing = pair_examples(metric, task, before, previous[name])
            if pairing.paired and pairing.current:
                changed = sum(
                    a != b for a, b in zip(pairing.baseline, pairing.current, strict=True)
                )
                shares[(name, key)] = max(changed, 1) / len(pairing.current)
    return shares


@dataclass(frozen=True)
class Flips:
    """The examples of one task that changed answer against the baseline, on one 0/1 metric."""

    task: str
    metric: str
    lost: tuple[int, ...]  # right -> wrong
    gained: tuple[int, ...]  # wrong -> right


def task_flips(
    run: EvalRun, baseline: EvalRun | None, thresholds: Sequence[MetricThreshold]
) -> list[Flips]:
    """Per task, the flips on its first gated 0/1 metric (else its first 0/1 metric)."""
    if baseline is None:
        return []
    found = []
    for name, task in run.tasks.items():
        if name not in baseline:
            continue
        gated = [t.metric for t in thresholds if t.task == name]
        keys = [k for k in (_resolve(task, m) for m in gated) if k] + list(task.metrics)
        for key in keys:
            metric, base = task.metrics[key], baseline[name].metrics.get(key)
            if base is None or not metric.is_binary or not base.is_binary:
                continue
            lost, gained = flipped(metric, task, base, baseline[name])
            found.append(Flips(name, key, tuple(lost), tuple(gained)))
            break
    return found


def _resolve(task: TaskResult, metric: str) -> str | None:
    try:
        return task.resolve(metric)
    except MetricNotFound:
        return None
