"""Writes a history of gated runs with the pytest-mlgate on PYTHONPATH (how the fixtures were made).

    PYTHONPATH=/path/to/release python tests/data/record_history.py tests/data/history-NAME

Runs the gate as a user does (``python -m pytest -m eval`` in a scratch repository, the fake
backend from its conftest.py) and copies the folder store it recorded into the target folder.
The runs cover every kind of record a release writes: subgroups, a perturbed variant and its gap,
determinism across batch sizes, a latency probe with its bounds, an anchor and its drift, a
head-to-head run against a reference checkpoint gated with ``min_ratio``, a partial run of one
shard (its index line marked partial) and the merged run of both shards.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

CONFTEST = '''
import json
from pathlib import Path

from pytest_mlgate.backend.fake import FakeBackend, FakeTask
from pytest_mlgate.results import RunInfo

GROUPS = {i: ("tarih" if i % 3 == 0 else "dil") for i in range(120)}


class Clock:
    """A model exactly as fast as scores.json says: each timed request takes step_ms, +-2 %."""

    def __init__(self, step_ms):
        self.now, self.step, self.calls = 0.0, step_ms, 0

    def __call__(self):
        self.calls += 1
        if self.calls % 2 == 0:
            self.now += self.step * (0.98 + 0.04 * ((self.calls * 7919) % 101) / 100) / 1000
        return self.now


def pytest_mlgate_make_backend(spec):
    data = json.loads(Path("scores.json").read_text())[Path(spec.checkpoint).name]
    info = RunInfo(backend="fake", device="cpu", dtype="float32", gpus=("NVIDIA H200",))
    return FakeBackend(
        data["scores"],
        info,
        tasks={
            "mlgate_tr_mc": FakeTask("multiple_choice", 4, "mc", GROUPS),
            "mlgate_tr_mc@upper": FakeTask("multiple_choice", 4, "MC", GROUPS),
        },
        clock=Clock(data["step_ms"]),
    )
'''

GATE = """
[model]
checkpoint = "a"

[suites.fast]
tasks = ["mlgate_tr_mc", "mlgate_tr_math"]
perturb = ["upper"]
latency = {{ requests = 12, max_new_tokens = 8 }}

[gate]
max_drop = 0.05
determinism = {{ sample = 40, batch_sizes = [1, 8] }}
{anchor}

[latency]
p50_ms = {{ max = 1000, max_increase = 0.10 }}
p99_ms = {{ max_increase = 0.25 }}

[thresholds.mlgate_tr_mc]
acc = {{ min = 0.5, subgroups = true, min_subgroup_n = 20, max_disparity = 0.5 }}

[thresholds."mlgate_tr_mc@upper"]
acc = {{ max_gap = 0.3 }}

[thresholds.mlgate_tr_math]
exact_match = {{ min = 0.1, min_ratio = 0.9 }}
"""


def _scores(right: float, n: int = 120) -> list[float]:
    return [1.0] * int(right) + [0.0] * (n - int(right))


CHECKPOINTS = {
    "a": {"mc": 96, "upper": 80, "math": 60, "step_ms": 10.0},
    "b": {"mc": 92, "upper": 70, "math": 57, "step_ms": 10.4},
}


def _scores_file() -> str:
    return json.dumps(
        {
            name: {
                "scores": {
                    "mlgate_tr_mc": {"acc": _scores(c["mc"])},
                    "mlgate_tr_mc@upper": {"acc": _scores(c["upper"])},
                    "mlgate_tr_math": {"exact_match": _scores(c["math"])},
                    "mlgate_tr_math@upper": {"exact_match": _scores(c["math"] - 4)},
                },
                "step_ms": c["step_ms"],
            }
            for name, c in CHECKPOINTS.items()
        }
    )


def _run(repo: Path, *args: str) -> None:
    env = {**os.environ, "MLGATE_BRANCH": "main", "HF_HUB_OFFLINE": "1"}
    done = subprocess.run(args, cwd=repo, env=env, capture_output=True, text=True, check=False)
    print("$", " ".join(args[2:]), "->", done.returncode)
    if done.returncode not in (0, 1):
        sys.exit(done.stdout[-3000:] + done.stderr[-3000:])


def _gate(repo: Path, *args: str) -> None:
    _run(repo, sys.executable, "-m", "pytest", "-m", "eval", "-p", "no:cacheprovider", *args)


def _configure(repo: Path, anchor: str = "") -> None:
    (repo / "thresholds.toml").write_text(GATE.format(anchor=anchor), encoding="utf-8")


def record(target: Path) -> None:
    with tempfile.TemporaryDirectory() as scratch:
        repo = Path(scratch)
        for name in CHECKPOINTS:
            (repo / name).mkdir()
            (repo / name / "config.json").write_text(json.dumps({"name": name}))
            (repo / name / "model.safetensors").write_bytes(name.encode() * 64)
        (repo / "conftest.py").write_text(CONFTEST, encoding="utf-8")
        (repo / "scores.json").write_text(_scores_file(), encoding="utf-8")
        _configure(repo)
        _gate(repo, "--mlgate-record")  # the first run: the baseline and, below, the anchor
        index = (repo / ".mlgate" / "index.jsonl").read_text().splitlines()
        first = json.loads(index[0])["run_id"]
        _configure(repo, f'anchor = "{first}"\nmax_drift = 0.02')
        _gate(repo, "--mlgate-checkpoint", "b", "--mlgate-record")  # baseline, anchor, drift
        # b against its baseline and head to head against the reference a (min_ratio too)
        _gate(repo, "--mlgate-checkpoint", "b", "--mlgate-reference", "a", "--mlgate-record")
        parts = []
        for k in (1, 2):
            _gate(repo, "--mlgate-checkpoint", "b", f"--mlgate-shard={k}/2", "--mlgate-record")
            parts.append(f"mlgate-shard-{k}-of-2.json")
        _run(repo, sys.executable, "-m", "pytest_mlgate.cli", "merge", *parts, "--record")
        shutil.rmtree(target, ignore_errors=True)
        shutil.copytree(repo / ".mlgate", target, ignore=shutil.ignore_patterns("*.lock"))


if __name__ == "__main__":
    record(Path(sys.argv[1]).resolve())
