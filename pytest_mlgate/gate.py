"""Pure functions: results + thresholds -> verdicts. No pytest, no I/O."""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass

from pytest_mlgate.config import MetricThreshold
from pytest_mlgate.results import EvalRun, MetricNotFound, MetricResult, TaskNotFound


class Status(str, enum.Enum):
    PASS = "pass"
    WARN = "warn"
    FAIL = "fail"


@dataclass(frozen=True)
class Verdict:
    """The outcome of one gated metric, with a one-line reason a reviewer can act on."""

    threshold: MetricThreshold
    status: Status
    reason: str
    metric: MetricResult | None = None

    @property
    def passed(self) -> bool:
        return self.status is not Status.FAIL

    @property
    def value(self) -> float | None:
        return None if self.metric is None else self.metric.value

    @property
    def n(self) -> int | None:
        return None if self.metric is None else self.metric.n


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
