"""Benchmark of the HTML report on a synthetic history (no model needed).

    python -m benchmarks.bench_report [--runs 1000] [--metrics 200] [--examples 200]

Builds a folder store of RUNS recorded runs, each with METRICS gated 0/1 metrics (20 tasks) of
EXAMPLES examples, then times what `mlgate report` does: read the index, load the runs shown,
build the matrix with pandas and render the HTML. Prints the median of 3 and the file size.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

from pytest_mlgate.config.schema import GateConfig, MetricThreshold
from pytest_mlgate.gate.verdicts import GateOutcome, Status, Verdict
from pytest_mlgate.manifest import GitState, Manifest, SuiteInfo
from pytest_mlgate.report.html import render_html
from pytest_mlgate.report.matrix import report_from_store
from pytest_mlgate.results import EvalRun, MetricResult, TaskResult
from pytest_mlgate.store.folder import FolderStore

TASKS = 20


def synthetic_run(index: int, metrics: int, examples: int, rng: np.random.Generator) -> GateOutcome:
    per_task = max(1, metrics // TASKS)
    ids = tuple(range(examples))
    hashes = {i: f"{i:016x}" for i in ids}
    groups = {i: f"group{i % 4}" for i in ids}
    tasks = {}
    verdicts = []
    for t in range(TASKS):
        name = f"task{t:02d}"
        results = {}
        for m in range(per_task):
            key = f"metric{m},none"
            scores = tuple(float(s) for s in (rng.random(examples) < 0.7 - 0.0001 * index))
            results[key] = MetricResult(
                name, key, sum(scores) / examples, None, examples, True, ids, scores
            )
            threshold = MetricThreshold(name, key, max_drop=0.02)
            verdicts.append(Verdict(threshold, Status.PASS, "", results[key].value, examples))
        tasks[name] = TaskResult(name, results, examples, doc_hashes=hashes, subgroups=groups)
    day = f"2026-{1 + index // 600:02d}-{1 + index % 28:02d}"
    stamp = f"{day}T{index % 24:02d}:{index % 60:02d}:00+00:00"
    run_id = f"run{index:05d}"
    manifest = Manifest(run_id, stamp, git=GitState(branch="main"), suite=SuiteInfo(name="full"))
    return GateOutcome(EvalRun(tasks), tuple(verdicts), manifest)


def measure(
    runs: int, metrics: int, examples: int, columns: list[int]
) -> dict[int, tuple[float, int]]:
    """Median seconds (of 3) and HTML bytes of the report, for each number of run columns."""
    rng = np.random.default_rng(0)
    results = {}
    with tempfile.TemporaryDirectory() as folder:
        store = FolderStore(Path(folder))
        for index in range(runs):
            store.append(synthetic_run(index, metrics, examples, rng))
        for shown in columns:
            times, size = [], 0
            for _ in range(3):
                start = time.perf_counter()
                data = report_from_store(
                    store, GateConfig(), baseline_id=store.entries()[-2].run_id, history=shown
                )
                html = render_html(data)
                times.append(time.perf_counter() - start)
                size = len(html.encode("utf-8"))
            results[shown] = (statistics.median(times), size)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=1000)
    parser.add_argument("--metrics", type=int, default=200)
    parser.add_argument("--examples", type=int, default=200)
    parser.add_argument(
        "--columns",
        type=int,
        nargs="+",
        default=[30, 100],
        help="recorded runs shown as matrix columns ([report] history)",
    )
    args = parser.parse_args()
    for shown, (seconds, size) in measure(
        args.runs, args.metrics, args.examples, args.columns
    ).items():
        print(
            f"report of {args.runs} runs x {args.metrics} metrics, {shown} run columns: "
            f"{seconds:.2f}s (median of 3), {size / 1e6:.2f} MB"
        )


if __name__ == "__main__":
    main()
