"""The plugin's performance, measured side by side in one run: ``python -m benchmarks``.

1. `pytest -m eval` (result cache off) against the raw `lm_eval` CLI: same tiny model, tasks, batch;
2. a rerun with an unchanged checkpoint (result cache hit) against an uncached run;
3. plain `pytest` on a unit-test-only repo with the plugin installed against `-p no:mlgate`;
   then a suite with ``perturb = ["ascii"]`` against the same suite without it (the variants'
   cost);
4. the HTML report of a 1,000-run x 200-metric history;
5. the paired tests on 100,000 examples x 200 metrics;
6. the MLflow store (embedded sqlite): the baseline lookup among 10,000 runs, recording one run,
   and ``import mlflow`` on its own;
7. on a task 10x the demo's size: `pytest -m eval` against the `lm_eval` CLI, and two shards at
   once (one thread each) plus `mlgate merge` against one unsharded run (two threads);
8. the log-likelihood loop: shared-context scoring against lm-eval's (``bench_scoring``, rows
   1-3; its row 4, the gate against the CLI, with ``python -m benchmarks.bench_scoring``);
9. the sequential gate simulated in-process (``bench_sequential``), and end to end with lm-eval
   on the 10x task (``bench_sequential_e2e``).

Timed commands alternate (A, B, A, B, ...) so load on the machine hits both alike; medians.
Absolute times on shared machines are noise: the ratios are the result.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from benchmarks import bench_history, bench_mlflow, bench_report
from pytest_mlgate.cli.demo import build_checkpoints, offline_env
from pytest_mlgate.tasks import materialize_tasks

GATE = """
[model]
checkpoint = "{checkpoint}"
dtype = "{dtype}"
batch_size = 32
device = "{device}"

[suites.fast]
tasks = ["mlgate_tr_mc", "mlgate_tr_math"]

[gate]
cache = "cache"

[thresholds.mlgate_tr_mc]
acc = 0.1
"""


def bench_env() -> dict[str, str]:
    """The commands' environment: offline, and with bytecode cached as for an installed
    package (PYTHONDONTWRITEBYTECODE would make every run compile the plugin again, a cost the
    start-up row would count and no installed plugin pays)."""
    env = offline_env()
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    return env


def timed(command: Sequence[str], cwd: Path) -> float:
    start = time.perf_counter()
    subprocess.run(command, cwd=cwd, env=bench_env(), check=True, capture_output=True)
    return time.perf_counter() - start


def side_by_side(a: Sequence[str], b: Sequence[str], cwd: Path, repeat: int) -> tuple[float, float]:
    first, second = [], []
    for _ in range(repeat):
        first.append(timed(a, cwd))
        second.append(timed(b, cwd))
    return statistics.median(first), statistics.median(second)


Row = tuple[str, float, float, str]
GATE_COMMAND = [sys.executable, "-m", "pytest", "-m", "eval", "-q", "-p", "no:cacheprovider"]


def dtype_on(device: str) -> str:
    """Both sides run in the gate's default: bf16 on a GPU, float32 on the CPU."""
    return "float32" if device == "cpu" else "bfloat16"


def lm_eval_command(checkpoint: Path, device: str, tasks: str, include: Path) -> list[str]:
    """The raw lm_eval CLI on the same model, tasks and batch size as the gate."""
    return [
        str(Path(sys.executable).with_name("lm_eval")),
        "--model", "hf",
        "--model_args", f"pretrained={checkpoint},dtype={dtype_on(device)}",
        "--tasks", tasks,
        "--include_path", str(include),
        "--batch_size", "32",
        "--device", "cuda" if device == "auto" else device,
    ]  # fmt: skip


def gate_rows(work: Path, checkpoint: Path, device: str, repeat: int) -> tuple[list[Row], str]:
    """Rows 1 and 2: the gate against the lm_eval CLI, and a cached rerun against a fresh one."""
    repo = work / "repo"
    repo.mkdir()
    gate_config = GATE.format(checkpoint=checkpoint, device=device, dtype=dtype_on(device))
    (repo / "thresholds.toml").write_text(gate_config)
    tasks = materialize_tasks(work / "tasks")
    lm_eval = lm_eval_command(checkpoint, device, "mlgate_tr_mc,mlgate_tr_math", tasks)
    gate = GATE_COMMAND
    uncached, raw = side_by_side([*gate, "--mlgate-no-cache"], lm_eval, repo, repeat)
    timed(gate, repo)  # fill the cache
    cached, fresh = side_by_side(gate, [*gate, "--mlgate-no-cache"], repo, repeat)
    return [
        ("1. pytest -m eval (no cache) / lm_eval CLI", uncached, raw, "<= 0.5"),
        ("2. rerun, unchanged checkpoint / uncached run", cached, fresh, "<= 0.1"),
    ], gate_config


def plain_row(work: Path, gate_config: str, repeat: int) -> Row:
    """Row 3: a unit-test-only pytest run with the plugin installed against without it."""
    units = work / "units"
    units.mkdir()
    (units / "test_units.py").write_text(
        "".join(f"def test_{i}():\n    assert {i} + 1 > {i}\n\n" for i in range(50))
    )
    (units / "thresholds.toml").write_text(gate_config)
    plain = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"]
    with_plugin, without = side_by_side(plain, [*plain, "-p", "no:mlgate"], units, repeat * 3)
    return ("3. plain pytest with the plugin / without", with_plugin, without, "<= 1.05")


def perturb_row(work: Path, gate_config: str, repeat: int) -> Row:
    """Row 3b: the cost of the ASCII-folded variants (both sides uncached)."""
    folder = work / "perturbed"
    folder.mkdir()
    suite = 'tasks = ["mlgate_tr_mc", "mlgate_tr_math"]'
    (folder / "thresholds.toml").write_text(
        gate_config.replace(suite, f'{suite}\nperturb = ["ascii"]')
    )
    (folder / "plain.toml").write_text(gate_config)
    uncached = [*GATE_COMMAND, "--mlgate-no-cache"]
    variants, clean = side_by_side(
        uncached, [*uncached, "--mlgate-config=plain.toml"], folder, repeat
    )
    return ("3b. suite with perturb = [ascii] / without", variants, clean, "-")


BIG_TASK = """task: mlgate_tr_mc_x10
dataset_path: json
dataset_kwargs:
  data_files:
    test: "{data}"
test_split: test
output_type: multiple_choice
doc_to_text: "Soru: {{{{question}}}}\\nCevap:"
doc_to_choice: "{{{{choices}}}}"
doc_to_target: answer
metric_list:
  - metric: acc
    aggregation: mean
    higher_is_better: true
metadata:
  version: 1.0
  subgroup_field: category
"""


def big_task(folder: Path) -> Path:
    """The shipped multiple-choice task, ten times: each copy's documents carry their copy's
    number in a field of their own, so they are distinct documents with the prompts of the
    original (a model answers the ten copies as it answers the task)."""
    import json

    from pytest_mlgate.tasks import iter_docs

    folder.mkdir(parents=True)
    data = folder / "x10.jsonl"
    with data.open("w", encoding="utf-8") as out:
        for copy in range(10):
            for doc in iter_docs("mlgate_tr_mc"):
                doc = {**doc, "copy": copy + 1}
                out.write(json.dumps(doc, ensure_ascii=False) + "\n")
    (folder / "x10.yaml").write_text(BIG_TASK.format(data=data))
    return folder


def scale_rows(work: Path, checkpoint: Path, device: str, repeat: int) -> list[Row]:
    """Row 7: the gate on a 10x task against the lm_eval CLI; two shards at once + the merge
    against one unsharded run."""
    repo = work / "big"
    repo.mkdir()
    tasks = big_task(repo / "tasks")
    (repo / "thresholds.toml").write_text(
        GATE.format(checkpoint=checkpoint, device=device, dtype=dtype_on(device))
        .replace('tasks = ["mlgate_tr_mc", "mlgate_tr_math"]', 'tasks = ["mlgate_tr_mc_x10"]')
        .replace(
            "[thresholds.mlgate_tr_mc]",
            '[tasks]\ninclude = ["tasks"]\n\n[thresholds.mlgate_tr_mc_x10]',
        )
    )
    lm_eval = lm_eval_command(checkpoint, device, "mlgate_tr_mc_x10", tasks)
    uncached = [*GATE_COMMAND, "--mlgate-no-cache"]
    gate, raw = side_by_side(uncached, lm_eval, repo, repeat)
    sharded, whole = [], []
    merge = [sys.executable, "-m", "pytest_mlgate.cli.main", "merge", "--report", ""]
    for _ in range(repeat):
        start = time.perf_counter()
        one_thread = {**offline_env(), "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
        shards = [
            subprocess.Popen(
                [*uncached, f"--mlgate-shard={k}/2"], cwd=repo, env=one_thread,
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            )
            for k in (1, 2)
        ]  # fmt: skip
        assert all(p.wait() == 0 for p in shards)
        parts = [str(repo / f"mlgate-shard-{k}-of-2.json") for k in (1, 2)]
        subprocess.run([*merge, *parts], cwd=repo, env=offline_env(), capture_output=True)
        sharded.append(time.perf_counter() - start)
        whole.append(timed(uncached, repo))
    return [
        ("7a. 10x task: pytest -m eval / lm_eval CLI", gate, raw, "<= 0.5"),
        (
            "7b. 10x task: 2 shards at once + merge / unsharded",
            statistics.median(sharded),
            statistics.median(whole),
            "<= 0.6",
        ),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=3, help="runs of each timed command")
    parser.add_argument("--checkpoint", help="a checkpoint to reuse (default: build the demo one)")
    parser.add_argument(
        "--device", default="cpu", help='"cpu" (default), "cuda", or "auto" on a GPU runner'
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        work = Path(folder)
        checkpoint = (
            Path(args.checkpoint) if args.checkpoint else build_checkpoints(work / "ckpt")["good"]
        )
        rows, gate_config = gate_rows(work, checkpoint, args.device, args.repeat)
        rows.append(plain_row(work, gate_config, args.repeat))
        rows.append(perturb_row(work, gate_config, args.repeat))
        rows += scale_rows(work, checkpoint, args.device, args.repeat)
    report = bench_report.measure(1000, 200, 200, [30])[30]
    paired = bench_history.bench_paired_tests(100_000, 200)
    mlflow = bench_mlflow.bench_mlflow(10_000)
    print(f"{'comparison':50} {'A (s)':>8} {'B (s)':>8} {'A/B':>7}  target")
    for name, a, b, target in rows:
        print(f"{name:50} {a:8.2f} {b:8.2f} {a / b:7.3f}  {target}")
    print(
        f"{'4. report, 1,000 runs x 200 metrics (30 columns)':50} {report[0]:8.2f} "
        f"{'':8} {'':7}  <= 2 s ({report[1] / 1e6:.1f} MB)"
    )
    worst = max(paired["binary_s"], paired["continuous_s"])
    print(
        f"{'5. paired tests, 100,000 examples x 200 metrics':50} {worst:8.2f} {'':8} {'':7}  <= 1 s"
    )
    for name, key, target in (
        ("6a. MLflow baseline query, 10,000 runs", "query_s", "<= 1 s"),
        ("6b. MLflow lookup + record download", "latest_s", "-"),
        ("6c. MLflow: recording one run", "record_s", "<= 2 s"),
        ("6d. import mlflow (once per session)", "import_s", "-"),
    ):
        print(f"{name:50} {mlflow[key]:8.2f} {'':8} {'':7}  {target}")
    # these build on this module's helpers: imported here, once it is loaded
    from benchmarks import bench_scoring, bench_sequential, bench_sequential_e2e

    print("\n8. the log-likelihood loop, shared-context / lm-eval's (bench_scoring --skip-gate):")
    bench_scoring.main(["--skip-gate", "--repeat", str(args.repeat)])
    print("\n9a. the sequential gate, simulated (bench_sequential):")
    bench_sequential.main([])
    print("\n9b. the sequential gate end to end on the 10x task (bench_sequential_e2e):")
    bench_sequential_e2e.main(["--repeat", str(args.repeat)])


if __name__ == "__main__":
    main()
