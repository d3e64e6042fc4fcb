"""Benchmarks of the history store and the paired tests (no model needed).

    python -m benchmarks.bench_history [--runs 10000] [--examples 100000] [--metrics 200]

Prints medians of repeated runs. Absolute times on shared machines are noise; compare ratios.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from pytest_mlgate import stats
from pytest_mlgate.gate.verdicts import GateOutcome
from pytest_mlgate.manifest import GitState, Manifest
from pytest_mlgate.results import EvalRun, MetricResult, TaskResult
from pytest_mlgate.store import new_run_id
from pytest_mlgate.store.folder import FolderStore


def median_seconds(action: Callable[[], object], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        action()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def small_record(day: int, index: int, rng: np.random.Generator) -> GateOutcome:
    scores = tuple(float(s) for s in (rng.random(200) < 0.7))
    ids = tuple(range(200))
    metric = MetricResult("t", "acc,none", sum(scores) / 200, None, 200, True, ids, scores)
    run = EvalRun({"t": TaskResult("t", {"acc,none": metric}, 200)})
    branch = "main" if index % 4 == 0 else f"pr-{index % 97}"
    stamp = f"2026-{1 + day // 28:02d}-{1 + day % 28:02d}T{index % 24:02d}:00:00+00:00"
    return GateOutcome(run, (), Manifest(new_run_id(), stamp, git=GitState(branch=branch)))


def bench_baseline_lookup(runs: int) -> dict[str, float]:
    rng = np.random.default_rng(0)
    with tempfile.TemporaryDirectory() as folder:
        store = FolderStore(Path(folder))
        start = time.perf_counter()
        for i in range(runs):
            store.append(small_record(i * 300 // runs, i, rng))
        fill = time.perf_counter() - start
        lookup = median_seconds(lambda: store.latest("main"), 5)
        listing = median_seconds(store.entries, 5)
    return {"fill_s": fill, "latest_main_s": lookup, "entries_s": listing}


def bench_paired_tests(examples: int, metrics: int) -> dict[str, float]:
    rng = np.random.default_rng(1)
    base = (rng.random((metrics, examples)) < 0.7).astype(np.float64)
    flips = rng.random((metrics, examples)) < 0.03
    new = np.where(flips, 1.0 - base, base)

    def binary() -> None:
        p_values = [stats.compare(base[m], new[m], paired=True).p_value for m in range(metrics)]
        stats.holm(p_values)

    cont_base = rng.random((metrics, examples))
    cont_new = np.clip(cont_base + rng.normal(0, 0.05, (metrics, examples)), 0, 1)

    def continuous() -> None:
        for m in range(metrics):
            stats.compare(cont_base[m], cont_new[m], paired=True)

    return {
        "binary_s": median_seconds(binary, 3),
        "continuous_s": median_seconds(continuous, 3),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=10_000)
    parser.add_argument("--examples", type=int, default=100_000)
    parser.add_argument("--metrics", type=int, default=200)
    args = parser.parse_args()
    lookup = bench_baseline_lookup(args.runs)
    print(
        f"history of {args.runs} runs: written in {lookup['fill_s']:.1f}s; "
        f"latest run on main {lookup['latest_main_s'] * 1000:.0f} ms (median of 5); "
        f"list all {lookup['entries_s'] * 1000:.0f} ms"
    )
    paired = bench_paired_tests(args.examples, args.metrics)
    print(
        f"paired tests, {args.examples} examples x {args.metrics} metrics: "
        f"0/1 (McNemar + Holm) {paired['binary_s']:.2f}s, "
        f"continuous (paired normal) {paired['continuous_s']:.2f}s (median of 3)"
    )


if __name__ == "__main__":
    main()
