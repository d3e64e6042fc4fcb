"""The trend gate: a one-sided CUSUM on a metric's run-to-run changes over the baseline branch's
comparable runs and this one, with a stated average run length (ARL) between false alarms.

Why a CUSUM on changes, not a test per run: a test at alpha re-read over a sliding window alarms
on noise about once per 1/alpha runs per window (Mann-Kendall at 5 %: at least one false alarm in
about 40 % of 20 consecutive recordings). The CUSUM's false alarms are governed by (k, h) alone:
``stats.cusum_arl`` gives the in-control ARL for independent standard-normal changes, the hardest
case (a checkpoint whose answers wander as a random walk; a model re-evaluated around a fixed
quality gives negatively correlated changes, and fewer alarms).

Each change is standardized by what the history records, nothing else:
- both runs hold per-example scores on the same documents (paired by doc id and document hash):
  the paired score statistic sum(d) / sqrt(sum(d²)) of the per-example differences d; for 0/1
  scores that is McNemar's (lost − gained) / sqrt(lost + gained), standard normal under no change
  whatever the share of examples that changed;
- otherwise both runs' standard errors: the difference over sqrt(se₁² + se₂²) (unpaired, so
  conservative: two checkpoints' scores are positively correlated);
- neither: the change cannot be standardized, and the series restarts after it, as it does after
  an incomparable change.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass

from pytest_mlgate.config.schema import GateConfig, MetricThreshold
from pytest_mlgate.gate.bounds import metric_of
from pytest_mlgate.gate.pairing import pair_examples
from pytest_mlgate.results import EvalRun, MetricResult, TaskResult


@dataclass(frozen=True)
class TrendSeries:
    """One metric's standardized changes over its comparable runs (oldest first)."""

    threshold: MetricThreshold
    changes: tuple[float, ...]  #: z per consecutive pair of runs with a value; positive: worse
    runs: int  #: the runs the changes join (len(changes) + 1)


def _found(run: EvalRun, threshold: MetricThreshold) -> tuple[MetricResult, TaskResult] | None:
    metric = metric_of(run, threshold)
    if metric is None or not math.isfinite(metric.value):
        return None
    return metric, run[threshold.task]


def standardized_change(
    before: tuple[MetricResult, TaskResult], after: tuple[MetricResult, TaskResult], higher: bool
) -> float | None:
    """How much worse ``after`` is than ``before``, in standard errors of the change (module
    docstring); None where neither scores nor standard errors make that possible."""
    (base, base_task), (metric, task) = before, after
    sign = 1.0 if higher else -1.0  # positive: a drop of a higher-is-better metric
    if metric.scores and base.scores:
        pairing = pair_examples(metric, task, base, base_task)
        if pairing.paired:
            d = [sign * (b - c) for b, c in zip(pairing.baseline, pairing.current, strict=True)]
            spread = math.sqrt(math.fsum(x * x for x in d))
            return 0.0 if spread == 0.0 else math.fsum(d) / spread
    if metric.stderr is not None and base.stderr is not None:
        spread = math.hypot(metric.stderr, base.stderr)
        if spread > 0.0 and math.isfinite(spread):
            return sign * (base.value - metric.value) / spread
    return None


def trend_series(threshold: MetricThreshold, runs: Sequence[EvalRun], higher: bool) -> TrendSeries:
    """The changes between consecutive runs that hold the metric (a run without it is passed
    over); a change that cannot be standardized restarts the series after it."""
    found = [f for f in (_found(run, threshold) for run in runs) if f is not None]
    changes: list[float] = []
    for before, after in itertools.pairwise(found):
        z = standardized_change(before, after, higher)
        changes = [] if z is None else [*changes, z]
    return TrendSeries(threshold, tuple(changes), len(changes) + 1)


def stated_arl(settings: GateConfig, metrics: int) -> float:
    """Each metric's in-control ARL: ``trend_arl`` for the run as a whole with ``error_rate =
    "run"`` (each of m metrics at m × trend_arl, so false alarms of any metric come at most once
    per trend_arl runs on average: alarm frequencies add), per metric with ``"family"``."""
    share = max(metrics, 1) if settings.error_rate == "run" else 1
    return float(settings.trend_arl * share)
