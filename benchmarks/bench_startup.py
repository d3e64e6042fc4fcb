"""Start-up cost: plain `pytest` on a unit-test-only repo with the plugin against `-p no:mlgate`.

    python -m benchmarks.bench_startup --repeat 7 --tree before=/path/to/old --tree after=.

Benchmark row 3, side by side for several source trees (each put first on PYTHONPATH): every
repeat runs each tree with and without the plugin, alternated, and the table gives the medians,
their ratio, and the median of each repeat's own ratio (its two runs are neighbours in time).
The repo holds 50 trivial tests and a thresholds.toml (which a plain run still
validates). Bytecode is cached, as it is for an installed package (see ``timed``).
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

GATE = """
[model]
checkpoint = "ckpt"
dtype = "float32"
batch_size = 32

[suites.fast]
tasks = ["mlgate_tr_mc", "mlgate_tr_math"]

[gate]
max_drop = 0.05

[thresholds.mlgate_tr_mc]
acc = { min = 0.5, max_drop = 0.05 }

[thresholds.mlgate_tr_math]
exact_match = { min = 0.1 }
"""
PLAIN = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"]


def _child_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def timed(command: list[str], cwd: Path, tree: Path) -> tuple[float, float]:
    """Wall-clock and CPU seconds of one run (CPU time is steadier on a shared machine)."""
    env = {**os.environ, "PYTHONPATH": str(tree)}
    # As installed: bytecode cached (pip compiles it at install; the warm-up run writes it for
    # a source tree). With PYTHONDONTWRITEBYTECODE every run would compile the plugin's
    # modules again, a cost no installed plugin pays.
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    start, cpu = time.perf_counter(), _child_cpu()
    done = subprocess.run(command, cwd=cwd, env=env, capture_output=True, check=False)
    took = time.perf_counter() - start, _child_cpu() - cpu
    if done.returncode != 0:
        sys.exit(f"{' '.join(command)} failed in {tree}:\n{done.stdout.decode()[-2000:]}")
    return took


Samples = tuple[list[tuple[float, float]], list[tuple[float, float]]]


def measure(trees: dict[str, Path], repeat: int) -> dict[str, Samples]:
    with tempfile.TemporaryDirectory() as folder:
        units = Path(folder)
        (units / "test_units.py").write_text(
            "".join(f"def test_{i}():\n    assert {i} + 1 > {i}\n\n" for i in range(50))
        )
        (units / "thresholds.toml").write_text(GATE)
        samples: dict[str, Samples] = {n: ([], []) for n in trees}
        for tree in trees.values():  # warm the file cache and the bytecode
            timed(PLAIN, units, tree)
        for _ in range(repeat):
            for name, tree in trees.items():
                samples[name][0].append(timed(PLAIN, units, tree))
                samples[name][1].append(timed([*PLAIN, "-p", "no:mlgate"], units, tree))
    return samples


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=7, help="alternated runs of each command")
    parser.add_argument(
        "--tree", action="append", default=[], help="NAME=PATH of a source tree (repeatable)"
    )
    args = parser.parse_args()
    trees = dict(t.split("=", 1) for t in args.tree) if args.tree else {"here": "."}
    results = measure({n: Path(p).resolve() for n, p in trees.items()}, args.repeat)
    print(
        f"{'tree':14} {'clock':5} {'with (s)':>9} {'without (s)':>12} {'ratio':>7} "
        f"{'paired':>7}  target <= 1.05"
    )
    for name, (with_plugin, without) in results.items():
        for i, clock in enumerate(("wall", "cpu")):
            a = statistics.median(s[i] for s in with_plugin)
            b = statistics.median(s[i] for s in without)
            # each repeat's two runs are neighbours in time: their ratio cancels the machine's
            # drift over the whole measurement, which the ratio of medians does not
            pairs = zip(with_plugin, without, strict=True)
            paired = statistics.median(x[i] / y[i] for x, y in pairs)
            print(f"{name:14} {clock:5} {a:9.3f} {b:12.3f} {a / b:7.3f} {paired:7.3f}")


if __name__ == "__main__":
    main()
