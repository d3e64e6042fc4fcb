"""The vocabulary of decisions: ``Status``, ``Caveat``, ``Verdict``, ``GateOutcome`` and the fixed
runs a metric is also compared with (``Anchor``, ``Reference``). No pytest, no I/O."""

from __future__ import annotations

import enum
from dataclasses import dataclass

from pytest_mlgate import stats
from pytest_mlgate.config.schema import MetricThreshold
from pytest_mlgate.manifest import Manifest
from pytest_mlgate.results import EvalRun


class Status(str, enum.Enum):
    """A verdict's status: pass, warn (a drop the noise explains, a caveat) or fail."""

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
    #: the trend's CUSUM over the comparable history and this run: (CUSUM, its threshold h,
    #: comparable runs); it alarmed when CUSUM > h. Records written before the CUSUM hold
    #: Mann-Kendall's (S, p, runs) here: told apart by h > 1 >= p (``trend_alarm``)
    trend: tuple[float, float, int] | None = None
    #: the head-to-head comparison with the reference checkpoint and its adjusted p
    reference: tuple[stats.Comparison, float] | None = None
    #: the drop its baseline comparison detects with 80% power at the baseline's n (the exact
    #: test it runs, its margin, the adjusted level); NaN: none; None: not planned
    detectable: float | None = None

    @property
    def passed(self) -> bool:
        """Whether the verdict lets the run pass (pass or warn)."""
        return self.status is not Status.FAIL

    @property
    def p(self) -> float | None:
        """The p-value that decided: adjusted where a correction applied."""
        if self.p_adjusted is not None:
            return self.p_adjusted
        return None if self.comparison is None else self.comparison.p_value


def trend_alarm(trend: tuple[float, float, int], alpha: float) -> tuple[bool, float | None]:
    """Whether a verdict's trend alarmed, and the p-value it was decided by (None for the CUSUM,
    which has none). h is above 1 at every ARL the config accepts (h = 1.46 at ARL 20), a p-value
    never is: that tells an old record's Mann-Kendall figures from the CUSUM's."""
    statistic, threshold, _ = trend
    if threshold > 1.0:
        return statistic > threshold, None
    return threshold < alpha, threshold


@dataclass(frozen=True)
class GateOutcome:
    """One gated run: its results, its verdicts and its manifest. A recorded run is one too
    (its results keep only the example texts that flipped), and so is a baseline."""

    run: EvalRun
    verdicts: tuple[Verdict, ...]
    manifest: Manifest

    @property
    def run_id(self) -> str:
        """The run's id (its manifest's)."""
        return self.manifest.run_id

    @property
    def passed(self) -> bool:
        """Whether every verdict passed (none failed)."""
        return all(v.passed for v in self.verdicts)


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


SEVERITY = {Status.PASS: 0, Status.WARN: 1, Status.FAIL: 2}
