"""The sequential gate end to end with lm-eval: ``python -m benchmarks.bench_sequential_e2e``.

On the task ten times the demo's (benchmark row 7a: 4,790 questions), against the good demo
checkpoint's recorded (whole) baseline, each candidate is gated with ``sequential = true`` and
with ``--mlgate-no-sequential``, alternated, result cache off:

- the regressed demo checkpoint (a bad fine-tune);
- a "nudged" checkpoint: the good one with seeded noise on its weights, so that a few percent of
  its answers change (its fixed-n delta is printed);
- a "near" checkpoint: more noise (``--near-noise``), for a drop close to the margin, which the
  sequential run can only decide late (so the per-look overhead shows).

Printed: whole-process wall time sequential / fixed; the time spent evaluating, model loaded
to verdict (the manifest's ``evaluation_seconds``: every look's backend time from the loaded
model on, summed; the gate's own decision after it is milliseconds); the documents each run
evaluated and where it stopped; each candidate's change against the good checkpoint at fixed
n (the share of documents answered differently, and the net delta); and the per-look overhead:
where a sequential run went through every look, (its evaluation time - the fixed run's) /
(looks - 1); where it stopped after a share f of the documents, one lm-eval call's set-up S
from seq = S + f D and fixed = S + D. Absolute times on shared machines are noise: the ratios
are the result.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from benchmarks.__main__ import GATE_COMMAND, big_task
from pytest_mlgate.cli.demo import build_checkpoints, offline_env

CONFIG = """
[model]
checkpoint = "{checkpoint}"
dtype = "float32"
batch_size = 32
device = "cpu"

[tasks]
include = ["tasks"]

[suites.fast]
tasks = ["mlgate_tr_mc_x10"]
sequential = true

[gate]
cache = "cache"

[thresholds.mlgate_tr_mc_x10]
acc = {{ min = 0.1, max_drop = 0.02 }}
"""


def nudged(good: Path, target: Path, scale: float, seed: int = 7) -> Path:
    """``good`` with N(0, (scale * the tensor's std)^2) noise added to every weight matrix."""
    import torch
    from safetensors.torch import load_file, save_file

    shutil.copytree(good, target)
    generator = torch.Generator().manual_seed(seed)
    weights = load_file(str(good / "model.safetensors"))
    for name, tensor in weights.items():
        if tensor.ndim == 2 and tensor.is_floating_point():
            noise = torch.randn(tensor.shape, generator=generator, dtype=tensor.dtype)
            weights[name] = tensor + noise * tensor.std() * scale
    save_file(weights, str(target / "model.safetensors"), metadata={"format": "pt"})
    return target


def gate(repo: Path, checkpoint: Path, *args: str) -> tuple[float, dict[str, Any], str]:
    """(wall seconds, the JSON report, stdout) of one gate run on ``checkpoint``."""
    command = [*GATE_COMMAND, f"--mlgate-checkpoint={checkpoint}", "--mlgate-json=r.json", *args]
    start = time.perf_counter()
    done = subprocess.run(command, cwd=repo, env={**offline_env(), "MLGATE_BRANCH": "main"},
                          capture_output=True, text=True, check=False)  # fmt: skip
    took = time.perf_counter() - start
    if done.returncode not in (0, 1):
        raise SystemExit(f"gate failed ({done.returncode}):\n{done.stdout[-3000:]}")
    return took, json.loads((repo / "r.json").read_text()), done.stdout


def scores(report: dict[str, Any]) -> dict[int, float]:
    """Each document's score (acc) in a run's JSON report."""
    metric = report["results"]["tasks"]["mlgate_tr_mc_x10"]["metrics"]["acc,none"]
    return dict(zip(metric["doc_ids"], metric["scores"], strict=True))


def changed(base: dict[int, float], new: dict[int, float]) -> float:
    """The share of the documents both runs hold that ``new`` answers differently."""
    shared = base.keys() & new.keys()
    return sum(base[d] != new[d] for d in shared) / len(shared)


def evaluation_seconds(report: dict[str, Any]) -> float:
    seconds = report["manifest"].get("evaluation_seconds")
    if seconds is None:
        raise SystemExit("the run recorded no evaluation_seconds (a result-cache hit?)")
    return float(seconds)


def evaluated(report: dict[str, Any]) -> str:
    task = report["manifest"]["tasks"]["mlgate_tr_mc_x10"]
    look = task.get("look")
    where = f", look {look[0]} of {look[1]}" if look else ""
    return f"{task['n']:,} docs{where}"


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--noise", type=float, default=0.04, help="the nudged weights' noise")
    parser.add_argument("--near-noise", type=float, default=0.05, help="the near weights' noise")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as folder:
        work = Path(folder)
        built = build_checkpoints(work / "ckpt")
        candidates = {
            "regressed": built["regressed"],
            "nudged": nudged(built["good"], work / "ckpt" / "nudged", args.noise),
            "near": nudged(built["good"], work / "ckpt" / "near", args.near_noise),
        }
        repo = work / "repo"
        repo.mkdir()
        big_task(repo / "tasks")
        (repo / "thresholds.toml").write_text(CONFIG.format(checkpoint=built["good"]))
        _, good, _ = gate(repo, built["good"], "--mlgate-record", "--mlgate-no-cache")
        base = scores(good)
        print(
            f"{'candidate':10} {'seq (s)':>8} {'fixed (s)':>9} {'wall':>6} {'eval seq':>8} "
            f"{'eval fix':>8} {'eval':>6}  seq run"
        )
        for name, checkpoint in candidates.items():
            seq_times, fixed_times, seq_eval, fixed_eval = [], [], [], []
            for _ in range(args.repeat):
                took, report, stdout = gate(repo, checkpoint, "--mlgate-no-cache")
                seq_times.append(took)
                seq_eval.append(evaluation_seconds(report))
                fixed_took, fixed, _ = gate(
                    repo, checkpoint, "--mlgate-no-cache", "--mlgate-no-sequential"
                )
                fixed_times.append(fixed_took)
                fixed_eval.append(evaluation_seconds(fixed))
            seq_s, fixed_s = statistics.median(seq_times), statistics.median(fixed_times)
            seq_e, fixed_e = statistics.median(seq_eval), statistics.median(fixed_eval)
            [verdict] = report["verdicts"]
            [whole] = fixed["verdicts"]
            print(
                f"{name:10} {seq_s:8.2f} {fixed_s:9.2f} {seq_s / fixed_s:6.3f} {seq_e:8.2f} "
                f"{fixed_e:8.2f} {seq_e / fixed_e:6.3f}  {evaluated(report)}: "
                f"{verdict['status']} (fixed n: {whole['status']}, "
                f"{changed(base, scores(fixed)):.1%} of answers changed, "
                f"delta {whole['delta']:+.4f}, p {whole['p_value']:.3g})"
            )
            task = report["manifest"]["tasks"]["mlgate_tr_mc_x10"]
            if task["n"] == whole["n"] and task.get("look"):
                looks = task["look"][1]
                print(f"  per-look overhead: {(seq_e - fixed_e) / (looks - 1):.2f} s")
            else:  # one lm-eval call each: seq = S + f D, fixed = S + D, f the share evaluated
                share = task["n"] / whole["n"]
                setup = (seq_e - share * fixed_e) / (1 - share)
                print(f"  one look's set-up (lm-eval call, task and requests): {setup:.2f} s")
            if name == "regressed":
                summary = [ln for ln in stdout.splitlines() if "mlgate" in ln or "FAIL" in ln]
                print("  transcript:\n    " + "\n    ".join(summary[-8:]))
    print(f"(python {sys.version.split()[0]}, {args.repeat} alternated repeats, medians)")


if __name__ == "__main__":
    main()
