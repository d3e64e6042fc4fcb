"""The latency gate: ``[latency] p50_ms / p99_ms = { max, max_increase }`` on the samples of
``[suites.NAME] latency``.

``max`` bounds this run's quantile. ``max_increase`` compares it with the baseline's samples,
on the same hardware only (the GPU models, else the CPU model, in the manifest): the ratio of the
two quantiles with a bootstrap CI, failing when the increase is beyond the margin **and** the
bootstrap says it is significant at ``alpha`` (Holm across the latency items); beyond the margin
but not significant passes with a warning. On other hardware the item says so and compares
nothing: a faster GPU is no regression test.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace

from pytest_mlgate import stats
from pytest_mlgate.config.schema import GateConfig, LatencyBound
from pytest_mlgate.gate.verdicts import SEVERITY, Status
from pytest_mlgate.results import Latency


@dataclass(frozen=True)
class LatencyVerdict:
    bound: LatencyBound
    status: Status
    reason: str
    value: float  #: this run's quantile, ms
    ratio: float | None = None  #: against the baseline's quantile
    ratio_ci: tuple[float, float] | None = None
    p: float | None = None  #: adjusted

    @property
    def passed(self) -> bool:
        return self.status is not Status.FAIL


def judge_latency(
    bounds: Sequence[LatencyBound],
    latency: Latency,
    baseline: Latency | None,
    settings: GateConfig,
    baseline_run: str | None = None,
) -> dict[str, LatencyVerdict]:
    """A verdict per bound (p50_ms, p99_ms), the comparisons corrected together."""
    checked = {bound.name: _within_max(bound, latency) for bound in bounds}
    why = _not_compared(latency, baseline)
    compared = [b for b in bounds if b.max_increase is not None and why is None]
    tests = {
        b.name: stats.quantile_ratio(
            baseline.samples_ms if baseline else (), latency.samples_ms, b.quantile
        )
        for b in compared
    }
    adjusted = stats.adjust([tests[b.name][2] for b in compared], settings.correction)
    verdicts = {}
    for bound in bounds:
        verdict = checked[bound.name]
        if bound.name in tests and baseline is not None:
            p = adjusted[compared.index(bound)]
            verdict = _against(verdict, baseline, tests[bound.name], p, settings, baseline_run)
        elif bound.max_increase is not None:
            verdict = replace(verdict, reason=f"{verdict.reason}; max_increase not checked: {why}")
        verdicts[bound.name] = verdict
    return verdicts


def _within_max(bound: LatencyBound, latency: Latency) -> LatencyVerdict:
    value = latency.quantile(bound.quantile)
    text = f"{bound.name[:3]} = {value:.1f} ms over {len(latency.samples_ms)} requests"
    if bound.max is None:
        return LatencyVerdict(bound, Status.PASS, text, value)
    if value > bound.max:
        return LatencyVerdict(bound, Status.FAIL, f"{text}: above max {bound.max:g} ms", value)
    return LatencyVerdict(bound, Status.PASS, f"{text}: within max {bound.max:g} ms", value)


def _against(
    verdict: LatencyVerdict,
    baseline: Latency,
    test: tuple[float, tuple[float, float], float],
    p: float,
    settings: GateConfig,
    baseline_run: str | None,
) -> LatencyVerdict:
    """The bound's verdict with the increase against the baseline decided and named."""
    bound, (ratio, ci, _) = verdict.bound, test
    margin = bound.max_increase
    assert margin is not None
    increase = ratio - 1
    run = "" if baseline_run is None else f" (run {baseline_run})"
    text = (
        f"{verdict.reason}; vs baseline {baseline.quantile(bound.quantile):.1f} ms{run}: "
        f"{increase * 100:+.1f} % [95% CI {(ci[0] - 1) * 100:+.1f}, {(ci[1] - 1) * 100:+.1f}], "
        f"p={stats.format_p(p)} (bootstrap)"
    )
    if not math.isfinite(ratio):
        status, text = Status.FAIL, f"{text}: the comparison is undefined; failing closed"
    elif increase > margin and p < settings.alpha:
        status, text = Status.FAIL, f"{text}: significant increase > max_increase {margin:g}"
    elif increase > margin:
        status = Status.WARN
        text = f"{text}: increase > max_increase {margin:g} is not significant"
    else:
        status, text = Status.PASS, f"{text}: within max_increase {margin:g}"
    worst = max(verdict.status, status, key=SEVERITY.__getitem__)
    return replace(verdict, status=worst, reason=text, ratio=ratio, ratio_ci=ci, p=p)


def _not_compared(latency: Latency, baseline: Latency | None) -> str | None:
    """Why this run's latency is not compared with the baseline's (None: it is)."""
    if baseline is None or not baseline.samples_ms:
        return "the baseline measured no latency"
    if baseline.hardware != latency.hardware:
        return f"the baseline ran on {baseline.hardware!r}, this run on {latency.hardware!r}"
    if baseline.max_new_tokens != latency.max_new_tokens:
        return (
            f"the baseline generated up to {baseline.max_new_tokens} tokens, this run "
            f"{latency.max_new_tokens}"
        )
    return None
