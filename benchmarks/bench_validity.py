"""Gate validity by simulation: false failures per run, margins, anchors, subgroups, continuous
tests, stated vs simulated power, trend alarms over consecutive recordings.
``python -m benchmarks.bench_validity [--reps N] [--only null|trend]``.

Runs in-process: the fake backend's task results (``fake_task_result``) gated by ``gate_all``,
seeded. Per-example accuracies are drawn once per example around 0.70 (a Beta(1.4, 0.6)); each
run is a fresh Bernoulli draw of them, so two runs of one model agree on most examples, as two
checkpoints do. The same code measures the release before the change: it imports the old flat
module paths when the new ones are absent (``PYTHONPATH=/work/wt-base``).
"""

from __future__ import annotations

import argparse
import copy
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, fields
from typing import Any

import numpy as np

from pytest_mlgate import stats
from pytest_mlgate.backend.fake import FakeTask, fake_task_result
from pytest_mlgate.results import EvalRun

try:  # this release
    from pytest_mlgate.config.schema import GateConfig, MetricThreshold
    from pytest_mlgate.gate.decision import gate_all
    from pytest_mlgate.gate.verdicts import Anchor, GateOutcome, Status
except ImportError:  # the flat layout before it (commit 7582e61)
    from pytest_mlgate.config import (  # type: ignore[no-redef,attr-defined]
        GateConfig,
        MetricThreshold,
    )
    from pytest_mlgate.gate import (  # type: ignore[no-redef,attr-defined]
        Anchor,
        GateOutcome,
        Status,
        gate_all,
    )

from pytest_mlgate.manifest import Manifest

N = 400
SUBGROUPS = 5


def settings(**values: Any) -> GateConfig:
    """A GateConfig with the keys this release knows (``error_rate`` is new)."""
    known = {f.name for f in fields(GateConfig)}
    return GateConfig(**{k: v for k, v in values.items() if k in known})


@dataclass(frozen=True)
class Rate:
    """An observed rate with its 95% Wilson interval."""

    name: str
    repetitions: int
    hits: int

    @property
    def rate(self) -> float:
        return self.hits / self.repetitions

    @property
    def interval(self) -> tuple[float, float]:
        return stats.wilson_interval(self.hits, self.repetitions)

    def row(self) -> str:
        low, high = self.interval
        return f"| {self.name} | {self.repetitions} | {self.rate:.1%} | [{low:.1%}, {high:.1%}] |"


class Model:
    """A checkpoint's per-example accuracies; ``draw`` is one evaluation of it."""

    def __init__(self, rng: np.random.Generator, n: int = N) -> None:
        self.rng = rng
        self.q = rng.beta(1.4, 0.6, size=n)

    def draw(self, drop: float | np.ndarray = 0.0) -> list[float]:
        q = np.clip(self.q - drop, 0.0, 1.0)
        return [float(x) for x in (self.rng.random(q.size) < q)]


def groups_of(n: int = N, k: int = SUBGROUPS) -> dict[int, str]:
    return {i: f"g{i * k // n}" for i in range(n)}


def run_of(scores: Sequence[float], variant: Sequence[float] | None = None) -> EvalRun:
    kind = FakeTask(subgroups=groups_of(len(scores)))
    tasks = {"t": fake_task_result("t", {"acc": list(scores)}, kind)}
    if variant is not None:
        tasks["t@typo"] = fake_task_result("t@typo", {"acc": list(variant)}, kind)
    return EvalRun(tasks)


def recorded(run_id: str, run: EvalRun) -> GateOutcome:
    return GateOutcome(run, (), Manifest(run_id=run_id, timestamp="2026-12-01T00:00:00+00:00"))


@dataclass(frozen=True)
class Mean:
    """An observed mean (runs to an alarm) with its 95% normal interval."""

    name: str
    repetitions: int
    total: float
    squares: float

    @property
    def mean(self) -> float:
        return self.total / self.repetitions

    @property
    def interval(self) -> tuple[float, float]:
        mean = self.mean
        spread = math.sqrt(max(self.squares / self.repetitions - mean * mean, 0.0))
        half = 1.96 * spread / math.sqrt(self.repetitions)
        return mean - half, mean + half

    def row(self) -> str:
        low, high = self.interval
        return (
            f"| {self.name} | {self.repetitions} | {self.mean:.1f} runs | [{low:.1f}, {high:.1f}] |"
        )


def failed(verdicts: dict[MetricThreshold, Any]) -> bool:
    return any(v.status is Status.FAIL for v in verdicts.values())


def every_family(
    realistic: bool, error_rate: str = "run"
) -> tuple[list[MetricThreshold], GateConfig]:
    """Overall, five subgroups, one perturbed variant, the anchor: the issue's null scenario."""
    drop, gap, drift = (0.02, 0.05, 0.03) if realistic else (0.0, 0.0, 0.0)
    overall = MetricThreshold("t", "acc", max_drop=drop, subgroups=True, min_subgroup_n=30)
    items = [overall] + [overall.for_subgroup(f"g{i}") for i in range(SUBGROUPS)]
    items.append(MetricThreshold("t@typo", "acc", max_gap=gap))
    return items, settings(max_drop=drop, max_drift=drift, error_rate=error_rate)


def null_every_family(reps: int, realistic: bool, seed: int = 1, error_rate: str = "run") -> Rate:
    rng = np.random.default_rng(seed)
    items, config = every_family(realistic, error_rate)
    hits = 0
    for rep in range(reps):
        model = Model(rng)
        anchor = Anchor(recorded(f"a{rep}", run_of(model.draw())), "v1")
        base = recorded(f"b{rep}", run_of(model.draw()))
        now = run_of(model.draw(), variant=model.draw())
        hits += failed(gate_all(items, now, base, config, anchor=anchor))
    margins = "realistic margins" if realistic else "margins 0"
    return Rate(f"run-level false failures, every family on, {margins} ({error_rate})", reps, hits)


def true_drop(reps: int, drop: float, seed: int = 2) -> Rate:
    rng = np.random.default_rng(seed)
    item = MetricThreshold("t", "acc", max_drop=0.02)
    hits = 0
    for rep in range(reps):
        model = Model(rng)
        base = recorded(f"b{rep}", run_of(model.draw()))
        hits += failed(gate_all([item], run_of(model.draw(drop)), base, settings(max_drop=0.02)))
    return Rate(f"failure rate, max_drop 0.02, true drop {drop * 100:g} pp", reps, hits)


def anchor_steps(reps: int, per_step: float, steps: int = 6, seed: int = 3) -> Rate:
    """One anchor, ``steps`` consecutive runs, each against the previous one as baseline: the
    share of sequences with at least one failure (null), or failing at the last step (erosion)."""
    rng = np.random.default_rng(seed)
    item = MetricThreshold("t", "acc", max_drop=0.02)
    config = settings(max_drop=0.02, max_drift=0.0)
    hits = 0
    for rep in range(reps):
        model = Model(rng)
        anchor = Anchor(recorded(f"a{rep}", run_of(model.draw())), "v1")
        base = anchor.outcome
        any_fail = last = False
        for step in range(1, steps + 1):
            now = run_of(model.draw(per_step * step))
            last = failed(gate_all([item], now, base, config, anchor=anchor))
            any_fail = any_fail or last
            base = recorded(f"r{rep}-{step}", now)
        hits += last if per_step else any_fail
    what = (
        f"anchor power at a {per_step * steps * 100:g} pp erosion (step {steps})"
        if per_step
        else f"anchor: at least one false failure in {steps} steps"
    )
    return Rate(what, reps, hits)


def subgroup_power(reps: int, seed: int = 4) -> Rate:
    """Five subgroups of 80; one loses 15 pp, another gains 15 pp; the average is unchanged."""
    rng = np.random.default_rng(seed)
    overall = MetricThreshold("t", "acc", max_drop=0.02, subgroups=True, min_subgroup_n=30)
    items = [overall] + [overall.for_subgroup(f"g{i}") for i in range(SUBGROUPS)]
    shift = np.zeros(N)
    shift[:80], shift[80:160] = 0.15, -0.15
    hits = 0
    for rep in range(reps):
        model = Model(rng)
        base = recorded(f"b{rep}", run_of(model.draw()))
        hits += failed(gate_all(items, run_of(model.draw(shift)), base, settings(max_drop=0.02)))
    return Rate("subgroup power at +-15 pp (n = 80 per subgroup)", reps, hits)


def continuous_size(reps: int, n: int, seed: int = 5) -> Rate:
    """Continuous per-example scores, no change: the paired test's rejection rate at 5%."""
    rng = np.random.default_rng(seed)
    hits = 0
    for _ in range(reps):
        level = rng.uniform(0.2, 0.9, size=n)
        base = np.clip(level + rng.normal(0, 0.1, n), 0, 1)
        new = np.clip(level + rng.normal(0, 0.1, n), 0, 1)
        hits += stats.compare(base, new, paired=True).p_value < 0.05
    return Rate(f"continuous paired test size at 5%, n = {n}", reps, hits)


def stated_power(reps: int, seed: int = 6) -> Rate:
    """The minimum detectable drop the gate states for n = 400, drawn as the true drop."""
    rng = np.random.default_rng(seed)
    model = Model(rng)
    pairs = [(model.draw(), model.draw()) for _ in range(50)]
    share = float(np.mean([np.mean(np.array(a) != np.array(b)) for a, b in pairs]))
    mde = stats.minimum_detectable_drop(N, float(model.q.mean()), 0.05, discordance=share)
    item = MetricThreshold("t", "acc", max_drop=0.0)
    hits = 0
    for rep in range(reps):
        base = recorded(f"b{rep}", run_of(model.draw()))
        hits += failed(gate_all([item], run_of(model.draw(mde)), base, settings(max_drop=0.0)))
    what = f"power at the stated minimum detectable drop {mde * 100:.1f} pp (80% stated)"
    return Rate(what, reps, hits)


TREND_N, TREND_SHARE, TREND_HISTORY = 479, 0.05, 30


class Wandering:
    """The issue's trend scenario: n = 479 examples, each run changing the answer on about 5 %
    of them, as many gained as lost in expectation (``erosion``: that many more lost than
    gained per run). A random walk of the answers: each change independent of the last, the
    hardest in-control case for a CUSUM on changes (re-drawing one fixed quality, as ``Model``
    does, gives negatively correlated changes and fewer alarms)."""

    def __init__(self, rng: np.random.Generator, level: float = 0.70) -> None:
        self.rng = rng
        self.right = rng.random(TREND_N) < level

    def step(self, erosion: float = 0.0) -> list[float]:
        right = int(self.right.sum())
        lost = (TREND_SHARE + erosion) * TREND_N / 2 / max(right, 1)
        gained = (TREND_SHARE - erosion) * TREND_N / 2 / max(TREND_N - right, 1)
        draw = self.rng.random(TREND_N)
        self.right = np.where(self.right, draw >= lost, draw < gained)
        return [float(x) for x in self.right]


def _trend_alarms(values: Sequence[float], runs: Sequence[EvalRun], method: str) -> bool:
    """Whether the trend alarms at the last run, given the window of runs (oldest first)."""
    if method == "mann-kendall":  # the rule before: Mann-Kendall per run at alpha 0.05
        return len(values) >= 4 and stats.mann_kendall_down(values)[1] < 0.05
    item = MetricThreshold("t", "acc")
    history = [recorded(f"h{i}", run) for i, run in enumerate(runs[:-1])]
    config = settings(on_trend="fail")
    return failed(gate_all([item], runs[-1], None, config, history=history))


def trend_false_alarms(
    reps: int, method: str, recordings: int = 20, seed: int = 7, redrawn: bool = False
) -> Rate:
    """No erosion: 30 recorded runs, then ``recordings`` more, each gated against the last 30
    (the window slides as each is recorded): the share of sequences with any alarm. The runs
    wander (``Wandering``), or with ``redrawn`` are fresh draws of one fixed quality
    (``Model``, n = 400: the issue's first measurement)."""
    rng = np.random.default_rng(seed)
    hits = 0
    for _ in range(reps):
        step = Model(rng).draw if redrawn else Wandering(rng).step
        runs = [run_of(step()) for _ in range(TREND_HISTORY)]
        values = [r["t"].metric("acc").value for r in runs]
        for _ in range(recordings):
            runs.append(run_of(step()))
            values.append(runs[-1]["t"].metric("acc").value)
            window = TREND_HISTORY + 1
            if _trend_alarms(values[-window:], runs[-window:], method):
                hits += 1
                break
    scenario = "fixed quality redrawn, n = 400" if redrawn else f"wandering, n = {TREND_N}"
    return Rate(
        f"trend: any false alarm over {recordings} recordings, window sliding, {scenario} "
        f"({method})",
        reps,
        hits,
    )


def trend_prs(reps: int, method: str, prs: int = 20, seed: int = 10) -> Rate:
    """No erosion: 30 recorded runs, then ``prs`` pull requests, each one run on from the last
    recorded one and gated against the same 30 (a PR's run is not recorded): any alarm."""
    rng = np.random.default_rng(seed)
    hits = 0
    for _ in range(reps):
        walk = Wandering(rng)
        runs = [run_of(walk.step()) for _ in range(TREND_HISTORY)]
        values = [r["t"].metric("acc").value for r in runs]
        for _ in range(prs):
            pr = run_of(copy.copy(walk).step())
            if _trend_alarms([*values, pr["t"].metric("acc").value], [*runs, pr], method):
                hits += 1
                break
    name = f"trend: any false alarm over {prs} PRs against one 30-run history ({method})"
    return Rate(name, reps, hits)


def trend_delay(
    reps: int, method: str, erosion: float = 0.01, most: int = 40, seed: int = 8
) -> Mean:
    """30 flat recorded runs, then a 1 pp per run erosion: the runs from the first eroded run to
    the first alarm, inclusive (``most`` when none by then: counted as ``most``)."""
    rng = np.random.default_rng(seed)
    total = squares = 0.0
    for _ in range(reps):
        walk = Wandering(rng)
        runs = [run_of(walk.step()) for _ in range(TREND_HISTORY)]
        values = [r["t"].metric("acc").value for r in runs]
        delay = most
        for step in range(1, most + 1):
            runs.append(run_of(walk.step(erosion)))
            values.append(runs[-1]["t"].metric("acc").value)
            window = TREND_HISTORY + 1
            if _trend_alarms(values[-window:], runs[-window:], method):
                delay = step
                break
        total, squares = total + delay, squares + delay * delay
    name = f"trend: runs to detect a {erosion * 100:g} pp/run erosion, n = {TREND_N} ({method})"
    return Mean(name, reps, total, squares)


def trend_arl(reps: int, arl: float = 500.0, seed: int = 9) -> Mean:
    """The CUSUM's in-control run length simulated (no window, run until it alarms, capped at
    20 x ARL), from the same McNemar z the gate computes, vs the stated ARL."""
    rng = np.random.default_rng(seed)
    h = stats.cusum_threshold(arl)
    right = rng.binomial(TREND_N, 0.70, size=reps)
    s = np.zeros(reps)
    length = np.zeros(reps)
    alive = np.ones(reps, dtype=bool)
    for t in range(1, int(20 * arl) + 1):
        lost = rng.binomial(right, np.minimum(TREND_SHARE * TREND_N / 2 / np.maximum(right, 1), 1))
        gained = rng.binomial(
            TREND_N - right,
            np.minimum(TREND_SHARE * TREND_N / 2 / np.maximum(TREND_N - right, 1), 1),
        )
        right = right - lost + gained
        changed = lost + gained
        z = np.where(changed > 0, (lost - gained) / np.sqrt(np.maximum(changed, 1)), 0.0)
        s = np.maximum(0.0, s + z - stats.CUSUM_K)
        ends = alive & (s > h)
        length[ends] = t
        alive &= ~ends
        if not alive.any():
            break
    length[alive] = 20 * arl
    name = f"trend: in-control run length to a false alarm (stated ARL {arl:g}, h = {h:.2f})"
    return Mean(name, reps, float(length.sum()), float((length * length).sum()))


def trend_scenarios(reps: int, method: str) -> list[Callable[[], Rate | Mean]]:
    light = max(reps // 4, 20)  # each repetition gates 20-40 runs over a 30-run history
    rows: list[Callable[[], Rate | Mean]] = [
        lambda: trend_false_alarms(light, method),
        lambda: trend_false_alarms(light, method, redrawn=True),
        lambda: trend_prs(light, method),
        lambda: trend_delay(light, method),
    ]
    if method != "mann-kendall" and hasattr(stats, "cusum_threshold"):  # the CUSUM's own row
        rows.append(lambda: trend_arl(reps))
    return rows


def null_scenarios(reps: int) -> list[Callable[[], Rate]]:
    """The run-level false failures with every family on, and the failure rate at true drops
    of 0, 1 pp and the margin (``--only null``)."""
    return [
        lambda: null_every_family(reps, realistic=False),
        lambda: null_every_family(reps, realistic=True),
        lambda: true_drop(reps, 0.0),
        lambda: true_drop(reps, 0.01),
        lambda: true_drop(reps, 0.02),
    ]


def scenarios(reps: int) -> list[Callable[[], Rate]]:
    return [
        *null_scenarios(reps),
        lambda: anchor_steps(reps // 2, 0.0),
        lambda: anchor_steps(reps // 4, 0.0, steps=20),
        lambda: anchor_steps(reps // 2, 0.01),
        lambda: subgroup_power(reps),
        *[lambda n=n: continuous_size(reps * 2, n) for n in (1, 3, 5, 10, 30)],
        lambda: stated_power(reps),
    ]


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--reps", type=int, default=1000)
    parser.add_argument("--only", choices=("all", "null", "trend"), default="all")
    parser.add_argument(
        "--trend",
        choices=("gate", "mann-kendall"),
        default="gate",
        help="the trend rows through this release's gate, or the rule before (Mann-Kendall)",
    )
    args = parser.parse_args(argv)
    print("| row | repetitions | rate | 95% interval |")
    print("| --- | --- | --- | --- |")
    rows: list[Callable[[], Rate | Mean]] = []
    if args.only == "null":
        rows += null_scenarios(args.reps)
    if args.only == "all":
        rows += scenarios(args.reps)
    if args.only in ("all", "trend"):
        rows += trend_scenarios(args.reps, args.trend)
    for scenario in rows:
        started = time.perf_counter()
        rate = scenario()
        print(rate.row(), f"<!-- {time.perf_counter() - started:.0f} s -->", flush=True)


if __name__ == "__main__":
    main()
