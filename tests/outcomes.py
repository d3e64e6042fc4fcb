"""Building recorded runs for tests: a GateOutcome with the manifest fields a test cares about."""

from __future__ import annotations

from collections.abc import Sequence

from pytest_mlgate import stats
from pytest_mlgate.checkpoint import CheckpointInfo
from pytest_mlgate.config.schema import MetricThreshold
from pytest_mlgate.gate.verdicts import GateOutcome, Status, Verdict
from pytest_mlgate.manifest import GitState, Manifest, SuiteInfo
from pytest_mlgate.results import EvalRun


def outcome(
    run_id: str,
    run: EvalRun,
    *,
    timestamp: str = "2026-11-24T06:00:00+00:00",
    branch: str | None = "main",
    commit: str | None = None,
    suite: str = "",
    checkpoint: str = "",
    fingerprint: str = "",
    verdicts: Sequence[Verdict] = (),
) -> GateOutcome:
    manifest = Manifest(
        run_id=run_id,
        timestamp=timestamp,
        git=GitState(commit=commit, branch=branch),
        checkpoint=CheckpointInfo(checkpoint, "local" if checkpoint else "", fingerprint),
        suite=SuiteInfo(name=suite),
    )
    return GateOutcome(run, tuple(verdicts), manifest)


def compared(
    task: str,
    metric: str,
    status: str,
    *,
    value: float = 0.5,
    baseline: float = 0.6,
    delta: float | None = None,
    ci: tuple[float, float] = (-0.2, 0.0),
    p_value: float = 0.01,
    p_adjusted: float | None = None,
    reason: str = "r",
) -> Verdict:
    """A verdict with a comparison against a baseline, as the gate writes one."""
    comparison = (
        None
        if delta is None
        else stats.Comparison("mcnemar-exact", True, 100, baseline, value, delta, ci, p_value)
    )
    return Verdict(
        MetricThreshold(task, metric),
        Status(status),
        reason,
        value=value,
        n=100,
        baseline_run=None if delta is None else "r0",
        comparison=comparison,
        p_adjusted=p_adjusted,
    )
