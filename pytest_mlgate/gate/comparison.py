"""The one comparison rule: a metric against another run (baseline, anchor, reference, or a
variant's clean task), its margin, its paired test, and the decision. No pytest, no I/O.

Every comparison is one ``Against``: its ``Kind`` (the family it is corrected in, the word its
reasons use, what happens when the other run cannot be used), the other run, and the margin.
``pair`` looks the metric up in the other run and builds the test; ``decide`` turns the test and
its corrected p-value into a status and a reason, the same way for every kind.
"""

from __future__ import annotations

import math
import zlib
from dataclasses import dataclass, field, replace

from pytest_mlgate import stats
from pytest_mlgate.config.schema import GateConfig, MetricThreshold
from pytest_mlgate.errors import MetricNotFound, TaskNotFound
from pytest_mlgate.gate.bounds import Bounds, item_label, metric_direction
from pytest_mlgate.gate.looks import SequentialStop
from pytest_mlgate.gate.pairing import pair_examples, prompt_mismatches
from pytest_mlgate.gate.verdicts import Caveat, Status
from pytest_mlgate.manifest import Manifest, incomparable
from pytest_mlgate.results import EvalRun, MetricResult, TaskResult

# The comparison families (DESIGN §10): with ``[gate] correction`` each is corrected on its own.
OVERALL, SUBGROUPS, GAPS = "overall metrics vs the baseline", "subgroups vs the baseline", "gaps"
ANCHORED, REFERENCED = "vs the anchor", "vs the reference"


@dataclass(frozen=True)
class Kind:
    """What a comparison is against, and what that changes: its family, the word its reasons
    use for a loss, whether the requests must have been rendered alike, and what happens when
    the other run cannot be used (``"fail"``; ``"skip"``, passing with a caveat; or
    ``"baseline"``, the baseline's own messages)."""

    name: str  #: baseline / anchor / reference / gap
    family: str
    change: str  #: "drop", "drift", "gap"
    unusable: str
    check_prompts: bool = True  #: a reference may tokenize differently; a variant is rendered so
    check_documents: bool = True  #: a variant is evaluated on its clean task's documents
    subgroup_family: str | None = None  #: the family of a subgroup's item, where it differs


BASELINE = Kind("baseline", OVERALL, "drop", "baseline", subgroup_family=SUBGROUPS)
ANCHOR = Kind("anchor", ANCHORED, "drift", "skip")
REFERENCE = Kind("reference", REFERENCED, "drop", "fail", check_prompts=False)
GAP = Kind("gap", GAPS, "gap", "fail", check_prompts=False, check_documents=False)


@dataclass(frozen=True)
class Against:
    """One comparison: its kind, the other run and how reasons name it."""

    kind: Kind
    run: EvalRun  #: the other run, as the item sees it (a subgroup's documents only)
    task: str  #: the other run's task holding the metric (a variant's clean task)
    name: str  #: "baseline", "anchor v1.0", "reference ckpt/a", "clean mmlu"
    run_id: str | None = None  #: recorded runs name their id in the reason
    manifest: Manifest | None = None  #: checked against this run's where it is recorded

    def family(self, threshold: MetricThreshold) -> str:
        if threshold.subgroup is not None and self.kind.subgroup_family is not None:
            return self.kind.subgroup_family
        return self.kind.family

    def shown(self, value: float) -> str:
        """How the reason names the other run and its value."""
        run = "" if self.run_id is None or self.kind is not BASELINE else f" (run {self.run_id})"
        return f"{self.name} {value:.4f}{run}"


def allowed_drop(threshold: MetricThreshold, settings: GateConfig) -> float:
    """The margin a metric may drop by against the baseline: its own ``max_drop``, else
    ``[gate] max_drop``."""
    return settings.max_drop if threshold.max_drop is None else threshold.max_drop


def drift_margin(threshold: MetricThreshold, settings: GateConfig) -> float | None:
    """The allowed drop against the anchor: the metric's ``max_drift``, else ``[gate]``'s."""
    return settings.max_drift if threshold.max_drift is None else threshold.max_drift


ratio_margin = stats.ratio_allowance


@dataclass(frozen=True)
class Margin:
    """The largest allowed loss of one comparison and how reasons name it."""

    allowed: float
    rule: str  #: "max_drop 0.02", "min_ratio 0.95 (a drop of 0.0400)", "max_gap 0.05"
    ratio: float | None = None  #: set when the margin is ``min_ratio``'s


def comparison_margin(
    kind: Kind,
    threshold: MetricThreshold,
    settings: GateConfig,
    compared_value: float,
    higher_is_better: bool,
    *,
    with_reference: bool = False,
) -> Margin | None:
    """The margin a kind of comparison allows (None: this comparison is not made). The baseline
    and the reference take ``min_ratio`` where it applies (the baseline only in a run without a
    reference), else ``max_drop``; the anchor ``max_drift``; a variant ``max_gap``. The report's
    alert uses this same value."""
    if kind is GAP:
        return (
            None
            if threshold.max_gap is None
            else Margin(threshold.max_gap, f"max_gap {threshold.max_gap:g}")
        )
    if kind is ANCHOR:
        drift = drift_margin(threshold, settings)
        return None if drift is None else Margin(drift, f"max_drift {drift:g}")
    use_ratio = kind is REFERENCE or not with_reference
    if use_ratio and threshold.min_ratio is not None and math.isfinite(compared_value):
        allowed = ratio_margin(threshold.min_ratio, compared_value, higher_is_better)
        rule = f"min_ratio {threshold.min_ratio:g} (a drop of {allowed:.4f})"
        return Margin(allowed, rule, threshold.min_ratio)
    drop = allowed_drop(threshold, settings)
    return Margin(drop, f"max_drop {drop:g}")


@dataclass(frozen=True)
class Pending:
    """A comparison made, waiting for the multiple-comparison correction to be decided."""

    bounds: Bounds
    against: Against
    metric: MetricResult  #: with its direction resolved
    comparison: stats.Comparison
    margin: Margin
    notes: tuple[str, ...] = ()
    caveats: tuple[tuple[Caveat, str], ...] = ()
    incomparable: tuple[
        str, ...
    ] = ()  #: why the runs differ, compared anyway (on_incomparable warn)
    #: a sequential run's decision of this (baseline) comparison, made look by look: it
    #: replaces the fixed-n test's, which on a stopped run's documents would be naive peeking
    sequential: SequentialStop | None = None

    @property
    def family(self) -> str:
        return self.against.family(self.bounds.verdict.threshold)


@dataclass(frozen=True)
class Unusable:
    """Why the other run could not be compared with, and at which step."""

    step: str  #: missing, direction, value, incomparable, untestable
    why: str
    base: MetricResult | None = None
    comparison: stats.Comparison | None = None
    notes: tuple[str, ...] = ()
    reasons: tuple[str, ...] = ()
    margin: Margin | None = None


@dataclass(frozen=True)
class Decision:
    """A comparison decided: its status, its text (``vs …: …``; the baseline's opens with the
    item and its value, as the verdict's reason) and the warnings it raises."""

    status: Status
    text: str
    caveats: tuple[tuple[Caveat, str], ...] = ()
    pending: Pending | None = field(default=None, compare=False)
    p_adjusted: float | None = None


def stderr_comparison(
    current: MetricResult, base: MetricResult, allowed: float = 0.0
) -> stats.Comparison | None:
    """Last resort without per-example scores (e.g. a group's aggregate): a z-test on stderrs
    of "the loss is larger than ``allowed``"."""
    if current.stderr is None or base.stderr is None:
        return None
    se = math.hypot(current.stderr, base.stderr)
    delta = current.value - base.value
    if se == 0:
        return None
    z = (delta + allowed if current.higher_is_better else delta - allowed) / se
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


@dataclass(frozen=True)
class TestPlan:
    """What the test of one comparison is run with: the margin it tests against, how many
    Monte Carlo resamples the run's correction needs, and the seed (from the comparison's name,
    so two comparisons never share resamples and a rerun reproduces its p-value)."""

    margin: Margin | None = None
    resamples: int = stats.MIN_RESAMPLES
    seed: int = 0


def comparison_seed(against: Against, threshold: MetricThreshold) -> int:
    """A seed derived from what is compared: the kind, the item and the other run."""
    name = f"{against.kind.name}|{threshold.item_name}|{against.name}|{against.run_id}"
    return zlib.crc32(name.encode("utf-8"))


def paired_comparison(
    metric: MetricResult,
    task: TaskResult,
    base: MetricResult,
    base_task: TaskResult,
    prompts: bool = True,
    plan: TestPlan | None = None,
) -> tuple[stats.Comparison | None, list[str], list[str]]:
    """The test for one metric against the other run, its notes, and reasons the two runs are
    not comparable (documents the other run does not hold; with ``prompts``, requests rendered
    differently)."""
    notes: list[str] = []
    reasons: list[str] = []
    if not (metric.scores and base.scores):
        notes.append("no per-example scores: unpaired test on the standard errors")
        allowed = 0.0 if plan is None or plan.margin is None else plan.margin.allowed
        return stderr_comparison(metric, base, allowed), notes, reasons
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
    plan = plan or TestPlan()
    margin = plan.margin
    comparison = stats.compare(
        pairing.baseline,
        pairing.current,
        paired=pairing.paired,
        higher_is_better=metric.higher_is_better is not False,
        level=0.95,
        margin=0.0 if margin is None or margin.ratio is not None else margin.allowed,
        ratio=None if margin is None else margin.ratio,
        resamples=plan.resamples,
        seed=plan.seed,
    )
    return comparison, notes, reasons


def applies(kind: Kind, threshold: MetricThreshold, settings: GateConfig) -> bool:
    """Whether a metric is compared this way at all: a variant's gap needs ``max_gap``, the
    anchor a ``max_drift``; the baseline and the reference always are."""
    if kind is GAP:
        return threshold.max_gap is not None
    if kind is ANCHOR:
        return drift_margin(threshold, settings) is not None
    return True


def pair(
    bounds: Bounds,
    current: TaskResult,
    against: Against,
    settings: GateConfig,
    manifest: Manifest | None,
    *,
    with_reference: bool = False,
    resamples: int = stats.MIN_RESAMPLES,
) -> Pending | Unusable | None:
    """One metric against ``against``: the pending comparison, why it cannot be made, or None
    when this kind of comparison is not made for the metric. Runs that differ in what moves
    scores are compared anyway only on the baseline with ``on_incomparable = "warn"``."""
    assert bounds.metric is not None
    threshold, metric = bounds.verdict.threshold, bounds.metric
    if not applies(against.kind, threshold, settings):
        return None
    try:
        base_task = against.run[against.task]
        base = base_task.metric(metric.key)
    except (TaskNotFound, MetricNotFound) as exc:
        return Unusable("missing", str(exc))
    direction = metric_direction(threshold, metric)
    if direction is None:
        return Unusable(
            "direction", f"lm-eval does not say whether higher is better for {metric.key!r}", base
        )
    found = comparison_margin(
        against.kind, threshold, settings, base.value, direction, with_reference=with_reference
    )
    assert found is not None  # applies() said it is made
    if not math.isfinite(base.value):
        return Unusable("value", f"its value is {base.value}", base, margin=found)
    metric = replace(metric, higher_is_better=direction)
    base = replace(base, higher_is_better=direction)
    plan = TestPlan(found, resamples, comparison_seed(against, threshold))
    comparison, notes, reasons = paired_comparison(
        metric, current, base, base_task, prompts=against.kind.check_prompts, plan=plan
    )
    if not against.kind.check_documents:
        reasons = []
    if manifest is not None and against.manifest is not None:
        whose = "the baseline" if against.kind is BASELINE else f"the {against.kind.name}"
        reasons = incomparable(manifest, against.manifest, threshold.task, whose) + reasons
    tolerated = against.kind is BASELINE and settings.on_incomparable == "warn"
    if reasons and not tolerated:
        why = "; ".join(reasons)
        return Unusable("incomparable", why, base, comparison, tuple(notes), tuple(reasons), found)
    notes_all = (*notes, *reasons)
    if comparison is None:
        why = "no per-example scores or stderr"
        return Unusable("untestable", why, base, None, notes_all, tuple(reasons), found)
    return Pending(
        bounds, against, metric, comparison, found, notes_all, incomparable=tuple(reasons)
    )


def decide(item: Pending, p_adj: float, settings: GateConfig) -> Decision:
    """The rule, the same for every kind: an undefined comparison fails closed; a loss that the
    one-sided test of "loss <= margin" rejects at ``alpha`` (after the correction) fails, so a
    true loss at the margin fails at most alpha of the time; an observed loss beyond the margin
    that the test does not reject warns, with the minimum detectable drop; anything else passes.
    On the baseline a broken bound fails and the chance guard's warning stays."""
    c, against, metric = item.comparison, item.against, item.metric
    threshold = item.bounds.verdict.threshold
    change = against.kind.change
    if not (math.isfinite(c.delta) and math.isfinite(c.p_value)):
        lead = f"{item_label(threshold)} = {metric.value:.4f} " if against.kind is BASELINE else ""
        text = (
            f"{lead}vs {against.shown(c.baseline)}: the {c.test} comparison is undefined (delta "
            f"{c.delta}, p {c.p_value}); failing closed"
        )
        return Decision(Status.FAIL, text, item.caveats, item, p_adj)
    drop = c.oriented_drop(metric.higher_is_better is not False)
    rule = item.margin.rule
    corrected = "" if settings.correction == "none" else f", {settings.correction}-adjusted"
    shown = (
        f"vs {against.shown(c.baseline)}, delta {c.delta:+.4f} [95% CI {c.ci[0]:+.4f}, "
        f"{c.ci[1]:+.4f}], p={stats.format_p(p_adj)}{corrected} ({c.test}, n={c.n})"
    )
    noise = False
    primary = against.kind is BASELINE
    lead = f"{item_label(threshold)} = {metric.value:.4f} " if primary else ""
    allowed = item.margin.allowed
    tested = (
        f"{change} {drop * 100:.1f} pp > margin {allowed * 100:.3g} pp, p = {stats.format_p(p_adj)}"
    )
    seq = item.sequential
    if primary and item.bounds.broken is not None:
        status, tail = Status.FAIL, item.bounds.broken
    elif seq is not None:
        status, tail, noise = _sequential_status(seq, drop, allowed, f"{change} of {drop:.4f}")
        tail = f"{tail} > {rule}" if status is not Status.PASS else f"within {rule}"
    elif drop > allowed and p_adj < settings.alpha:
        status, tail = Status.FAIL, f"significant {change} of {drop:.4f} > {rule}: {tested}"
    elif drop > allowed:
        mde = minimum_detectable(c, metric, settings.alpha)
        status, noise = Status.WARN, True
        tail = (
            f"{change} of {drop:.4f} > {rule} is not significant at alpha {settings.alpha:g} "
            f"({tested})"
        ) + ("" if math.isnan(mde) else f"; the minimum detectable drop at n={c.n} is {mde:.4f}")
    else:
        status, tail = Status.PASS, f"within {rule}"
    if seq is not None:
        tail += f"; {seq.text()}"
    if item.notes:
        tail += f" ({'; '.join(item.notes)})"
    text = f"{lead}{shown}: {tail}"
    said = text if primary else f"{item_label(threshold)}: {text}"
    caveats = item.caveats + (((Caveat.NOISE, said),) if noise else ())
    if primary and item.bounds.warning is not None and status is not Status.FAIL:
        status, text = Status.WARN, f"{text}; {item.bounds.warning}"
    return Decision(status, text, caveats, item, p_adj)


def _sequential_status(
    seq: SequentialStop, drop: float, allowed: float, what: str
) -> tuple[Status, str, bool]:
    """(status, reason head, noise) of a comparison decided look by look: a fail is a drop
    significantly beyond the margin in the sequential design; a pass with an observed drop
    beyond the margin warns, like the fixed-n test's not-significant drop."""
    if seq.decision == "fail":
        return Status.FAIL, f"significant {what}", False
    if drop > allowed:
        return Status.WARN, f"not significant in the sequential design: {what}", True
    return Status.PASS, "", False


def minimum_detectable(c: stats.Comparison, metric: MetricResult, alpha: float) -> float:
    """The drop this comparison could have detected with 80% power (0/1 metrics)."""
    if not metric.is_binary:
        return math.nan
    base_p = c.baseline if metric.higher_is_better else 1 - c.baseline
    share = None
    if c.discordant is not None and c.n:
        share = max(sum(c.discordant) / c.n, 1 / c.n)
    return stats.minimum_detectable_drop(c.n, base_p, alpha, discordance=share)
