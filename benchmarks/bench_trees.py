"""The benchmark rows on two source trees side by side: ``python -m benchmarks.bench_trees OLD``.

Made for refactors ("no row worse than 5 %"): OLD is a checkout of the commit before the change
(for example ``git worktree add /tmp/before HEAD~1``), NEW the tree this module is in (or
``--new PATH``). Every timed command runs under each tree in turn (``PYTHONPATH=tree``), the
trees alternating inside every repetition so load on the machine hits both alike; medians of
``--repeat`` (at least 5). Rows 1-3 and 7a are the subprocess rows of ``python -m benchmarks``;
rows 4 and 5 run each tree's own in-process benchmark in a fresh interpreter.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from benchmarks.__main__ import GATE, GATE_COMMAND, bench_env, big_task, dtype_on, lm_eval_command
from pytest_mlgate.cli.demo import build_checkpoints
from pytest_mlgate.tasks import materialize_tasks

NEW = Path(__file__).resolve().parents[1]
# Rows 4 and 5 in a fresh interpreter: each tree's own benchmark code, printed as JSON.
IN_PROCESS = {
    "4. report, 1,000 runs x 200 metrics": (
        "from benchmarks import bench_report; import json;"
        "print(json.dumps(bench_report.measure(1000, 200, 200, [30])[30][0]))"
    ),
    "5. paired tests, 100,000 x 200": (
        "from benchmarks import bench_history; import json;"
        "r = bench_history.bench_paired_tests(100_000, 200);"
        "print(json.dumps(max(r['binary_s'], r['continuous_s'])))"
    ),
}


def _env(tree: Path) -> dict[str, str]:
    return {**bench_env(), "PYTHONPATH": str(tree)}


def _timed(command: Sequence[str], cwd: Path, tree: Path) -> float:
    start = time.perf_counter()
    subprocess.run(command, cwd=cwd, env=_env(tree), check=True, capture_output=True)
    return time.perf_counter() - start


def _reported(code: str, tree: Path) -> float:
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=tree, env=_env(tree), check=True, capture_output=True
    )
    return float(json.loads(done.stdout.decode().strip().splitlines()[-1]))


Pair = tuple[Sequence[str], Sequence[str], Path]  # command A, command B, where both run


def _repos(work: Path, checkpoint: Path, device: str) -> dict[str, Pair]:
    config = GATE.format(checkpoint=checkpoint, device=device, dtype=dtype_on(device))
    repo, units, big = work / "repo", work / "units", work / "big"
    for folder in (repo, units, big):
        folder.mkdir()
    (repo / "thresholds.toml").write_text(config)
    (units / "thresholds.toml").write_text(config)
    (units / "test_units.py").write_text(
        "".join(f"def test_{i}():\n    assert {i} + 1 > {i}\n\n" for i in range(50))
    )
    tasks = materialize_tasks(work / "tasks")
    big_tasks = big_task(big / "tasks")
    (big / "thresholds.toml").write_text(
        config.replace(
            'tasks = ["mlgate_tr_mc", "mlgate_tr_math"]', 'tasks = ["mlgate_tr_mc_x10"]'
        ).replace(
            "[thresholds.mlgate_tr_mc]",
            '[tasks]\ninclude = ["tasks"]\n\n[thresholds.mlgate_tr_mc_x10]',
        )
    )
    uncached = [*GATE_COMMAND, "--mlgate-no-cache"]
    plain = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"]
    raw = lm_eval_command(checkpoint, device, "mlgate_tr_mc,mlgate_tr_math", tasks)
    raw_big = lm_eval_command(checkpoint, device, "mlgate_tr_mc_x10", big_tasks)
    return {
        "1. pytest -m eval (no cache) / lm_eval CLI": (uncached, raw, repo),
        "2. rerun, unchanged checkpoint / uncached run": (GATE_COMMAND, uncached, repo),
        "3. plain pytest with the plugin / without": (plain, [*plain, "-p", "no:mlgate"], units),
        "7a. 10x task: pytest -m eval / lm_eval CLI": (uncached, raw_big, big),
    }


def measure(old: Path, new: Path, device: str, repeat: int, skip: set[str]) -> None:
    trees = {"old": old, "new": new}
    with tempfile.TemporaryDirectory() as folder:
        work = Path(folder)
        checkpoint = build_checkpoints(work / "ckpt")["good"]
        pairs = {
            k: v for k, v in _repos(work, checkpoint, device).items() if k.split(".")[0] not in skip
        }
        for tree in trees.values():  # fill each tree's result cache for row 2
            _timed(GATE_COMMAND, work / "repo", tree)
        times: dict[tuple[str, str, str], list[float]] = {}
        for _ in range(repeat):
            for row, (a, b, cwd) in pairs.items():
                for name, tree in trees.items():
                    times.setdefault((row, name, "a"), []).append(_timed(a, cwd, tree))
                    times.setdefault((row, name, "b"), []).append(_timed(b, cwd, tree))
            for row, code in IN_PROCESS.items():
                for name, tree in trees.items():
                    times.setdefault((row, name, "a"), []).append(_reported(code, tree))
    med = {key: statistics.median(values) for key, values in times.items()}
    print(f"medians of {repeat} alternated repeats; old = {old}, new = {new}")
    print(f"{'row':48} {'old A/B':>9} {'new A/B':>9} {'new/old':>8}")
    for row in [*pairs, *IN_PROCESS]:
        if row in IN_PROCESS:
            o, n = med[(row, "old", "a")], med[(row, "new", "a")]
            print(f"{row:48} {o:8.3f}s {n:8.3f}s {n / o:8.3f}")
            continue
        o = med[(row, "old", "a")] / med[(row, "old", "b")]
        n = med[(row, "new", "a")] / med[(row, "new", "b")]
        print(f"{row:48} {o:9.3f} {n:9.3f} {n / o:8.3f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("old", type=Path, help="checkout of the commit before the change")
    parser.add_argument("--new", type=Path, default=NEW, help="the changed tree (default: this)")
    parser.add_argument("--repeat", type=int, default=5, help="alternated repeats (default 5)")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--skip", nargs="*", default=[], help="row numbers to leave out, e.g. 7a")
    args = parser.parse_args()
    os.environ.setdefault("TQDM_DISABLE", "1")
    measure(args.old.resolve(), args.new.resolve(), args.device, args.repeat, set(args.skip))


if __name__ == "__main__":
    main()
