"""Data parallel: `pytest -m eval` under torchrun with 2 CPU processes (gloo) splits every task's
documents across the ranks, gathers them, and rank 0 alone gates and records, with the values of
a single-process run; a failing rank ends every rank."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from pytest_mlgate.store.folder import FolderStore
from tests.gate_run import GATE_COMMAND, gate_env, run_gate

TORCHRUN = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2"]

GATE = """
[model]
checkpoint = "{checkpoint}"
dtype = "float32"
batch_size = 16

[suites.fast]
tasks = ["mlgate_tr_mc", "mlgate_tr_math"]
sample = 60

[gate]
cache = ""

[thresholds.mlgate_tr_mc]
acc = {{ min = 0.3 }}

[thresholds.mlgate_tr_math]
"exact_match,strict-match" = {{ min = 0.0 }}
"""


def launch(
    repo: Path, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    command = [*TORCHRUN, "-m", "pytest", *GATE_COMMAND[3:], "-rA", *args]
    return subprocess.run(
        command,
        cwd=repo,
        env=gate_env({"MLGATE_BRANCH": "main", "OMP_NUM_THREADS": "1", **(env or {})}),
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


def keyed(path: Path) -> list[tuple[object, ...]]:
    verdicts = json.loads(path.read_text())["verdicts"]
    return [(v["item"], v["status"], v["value"], v["value_ci"], v["n"]) for v in verdicts]


@pytest.mark.slow
def test_two_processes_split_the_documents_and_rank_0_records_once(
    demo_checkpoints: dict[str, Path], tmp_path: Path
) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "thresholds.toml").write_text(GATE.format(checkpoint=demo_checkpoints["good"]))
    single = run_gate(repo, "--mlgate-json=single.json", "--mlgate-store=one")
    assert single.returncode == 0, single.stdout[-2000:]
    both = launch(repo, "--mlgate-json=dp.json", "--mlgate-record", "--mlgate-store=dp")
    output = both.stdout + both.stderr
    assert both.returncode == 0, output[-4000:]
    for rank in (0, 1):
        assert (
            f"mlgate: rank {rank} of 2: world_size=2, documents evaluated here: "
            "mlgate_tr_mc 30, mlgate_tr_math 30" in output
        )
    assert "rank 1 of 2: gated on rank 0" in output
    assert keyed(repo / "dp.json") == keyed(repo / "single.json")
    [entry] = FolderStore(repo / "dp").entries()  # one record, by rank 0
    record = FolderStore(repo / "dp").load(entry.run_id)
    assert record.run["mlgate_tr_mc"].n == 60
    assert record.manifest.suite.shard is None  # the joined run is whole
    print("\n" + "\n".join(line for line in output.splitlines() if "world_size" in line))


FAILING = """
import os
from pytest_mlgate.backend.fake import FakeBackend


class Failing(FakeBackend):
    def evaluate(self, request):
        if os.environ.get("RANK") == "1":
            raise RuntimeError("CUDA out of memory (simulated on rank 1)")
        return super().evaluate(request)


def pytest_mlgate_make_backend(spec):
    return Failing({"mlgate_tr_mc": {"acc": [1.0] * 30 + [0.0] * 10}})
"""


def test_a_failing_rank_ends_every_rank(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    (repo / "ckpt").mkdir(parents=True)
    (repo / "conftest.py").write_text(FAILING)
    (repo / "thresholds.toml").write_text(
        '[model]\ncheckpoint = "ckpt"\n[suites.fast]\ntasks = ["mlgate_tr_mc"]\n'
        "[thresholds.mlgate_tr_mc]\nacc = { min = 0.1 }\n"
    )
    # The failing rank sends its error, so nobody waits; MLGATE_DIST_TIMEOUT bounds a rank that
    # dies outright (launch() itself gives up after 600 s).
    done = launch(repo, env={"MLGATE_DIST_TIMEOUT": "30"})
    output = done.stdout + done.stderr
    assert done.returncode != 0
    assert "rank 1 of 2 failed: RuntimeError: CUDA out of memory (simulated on rank 1)" in output
    assert output.count("FAILED thresholds.toml::mlgate_tr_mc::acc") == 1  # rank 0 gates


DYING = """
import os
from pytest_mlgate.backend.fake import FakeBackend


class Dying(FakeBackend):
    def evaluate(self, request):
        if os.environ.get("RANK") == "1":
            os._exit(3)  # the process is gone: no error message reaches the other ranks
        return super().evaluate(request)


def pytest_mlgate_make_backend(spec):
    return Dying({"mlgate_tr_mc": {"acc": [1.0] * 30 + [0.0] * 10}})
"""


def test_a_rank_that_dies_ends_the_launch(tmp_path: Path) -> None:
    """Rank 1 dies mid-evaluation: rank 0 does not wait forever (the launcher stops the group,
    and rank 0's collective gives up after MLGATE_DIST_TIMEOUT), and the launch fails."""
    repo = tmp_path / "repo"
    (repo / "ckpt").mkdir(parents=True)
    (repo / "conftest.py").write_text(DYING)
    (repo / "thresholds.toml").write_text(
        '[model]\ncheckpoint = "ckpt"\n[suites.fast]\ntasks = ["mlgate_tr_mc"]\n'
        "[thresholds.mlgate_tr_mc]\nacc = { min = 0.1 }\n"
    )
    done = launch(repo, "--mlgate-record", env={"MLGATE_DIST_TIMEOUT": "20"})
    assert done.returncode != 0
    assert not (repo / ".mlgate").exists()  # nothing recorded
