"""`mlgate reproduce RUN_ID` with the real lm-eval backend on a tiny offline checkpoint: a
recorded run reproduces identically; a changed data row, other checkpoint bytes and other
installed versions each make it "not reproducible as recorded" (exit 4), named; changed results
are listed document by document (exit 1)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from pytest_mlgate.store.codec import decode_run
from pytest_mlgate.store.codec.arrays import decode_scores, encode_scores
from pytest_mlgate.tasks import TASKS_DIR
from tests.gate_run import gate_env, run_gate

pytest.importorskip("lm_eval")

TASK = """
task: my_mc
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
"""

THRESHOLDS = """
[model]
checkpoint = "ckpt"
dtype = "float32"
device = "cpu"
batch_size = 8

[tasks]
include = ["evals"]

[suites.fast]
tasks = ["my_mc"]
sample = 40
seed = 7

[gate]
cache = ""

[thresholds.my_mc]
acc = { min = 0.1 }
"""


def mlgate(repo: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pytest_mlgate.cli.main", *args],
        cwd=repo,
        env=gate_env({"MLGATE_BRANCH": "main"}),
        capture_output=True,
        text=True,
        check=False,
    )


@pytest.fixture(scope="module")
def recorded(
    tmp_path_factory: pytest.TempPathFactory, demo_checkpoints: dict[str, Path]
) -> tuple[Path, str]:
    """A repository with a user task and one recorded run of the good tiny checkpoint."""
    repo = tmp_path_factory.mktemp("repo")
    shutil.copytree(demo_checkpoints["good"], repo / "ckpt")
    rows = (TASKS_DIR / "mlgate_tr_mc" / "test.jsonl").read_text(encoding="utf-8").splitlines()
    (repo / "evals").mkdir()
    data = repo / "evals" / "my_mc.jsonl"
    data.write_text("\n".join(rows[:60]) + "\n", encoding="utf-8")
    (repo / "evals" / "my_mc.yaml").write_text(TASK.format(data=data), encoding="utf-8")
    (repo / "thresholds.toml").write_text(THRESHOLDS)
    done = run_gate(repo, "--mlgate-record", env={"MLGATE_BRANCH": "main"})
    assert done.returncode == 0, done.stdout[-3000:]
    [line] = (repo / ".mlgate" / "index.jsonl").read_text().splitlines()
    return repo, json.loads(line)["run_id"]


def record_path(repo: Path, run_id: str) -> Path:
    return repo / ".mlgate" / "runs" / f"{run_id}.json"


@pytest.fixture
def edited(recorded: tuple[Path, str]) -> Iterator[tuple[Path, str, dict[str, Any]]]:
    """The record as JSON, to edit (simulating drift); written back as it was afterwards."""
    repo, run_id = recorded
    path = record_path(repo, run_id)
    before = path.read_text()
    yield repo, run_id, json.loads(before)
    path.write_text(before)


def save(repo: Path, run_id: str, record: dict[str, Any]) -> None:
    record_path(repo, run_id).write_text(json.dumps(record))


def test_a_recorded_run_reproduces_identically(recorded: tuple[Path, str]) -> None:
    repo, run_id = recorded
    done = mlgate(repo, "reproduce", run_id, "--json", "rep.json")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "40 of 40 documents identical (max |Δ| of a per-example score 0)" in done.stdout
    assert "NOT REPRODUCIBLE" not in done.stdout
    assert "scored on" not in done.stdout  # the recorded scoring path was used
    report = json.loads((repo / "rep.json").read_text())
    assert (report["exit_code"], report["documents"], report["differences"]) == (0, 40, [])
    print(f"\n$ mlgate reproduce {run_id}\n{done.stdout}")


def test_changed_results_are_listed_document_by_document(
    edited: tuple[Path, str, dict[str, Any]],
) -> None:
    repo, run_id, record = edited
    metric = record["tasks"]["my_mc"]["metrics"]["acc,none"]
    scores = list(decode_scores(metric["scores"], "scores"))
    doc_ids = (
        decode_run({"my_mc": record["tasks"]["my_mc"]}).tasks["my_mc"].metrics["acc,none"].doc_ids
    )
    scores[3] = 1.0 - scores[3]  # as if one answer had come out otherwise that day
    metric["scores"] = encode_scores(tuple(scores))
    save(repo, run_id, record)
    changed = mlgate(repo, "reproduce", run_id, "--json", "rep.json")
    assert changed.returncode == 1, changed.stdout + changed.stderr
    assert "39 of 40 documents identical (max |Δ| of a per-example score 1)" in changed.stdout
    assert (
        f"my_mc acc,none doc {doc_ids[3]}: recorded {scores[3]:g}, now {1.0 - scores[3]:g}"
        in changed.stdout
    )
    [diff] = json.loads((repo / "rep.json").read_text())["differences"]
    assert (diff["doc_id"], diff["recorded"], diff["now"]) == (doc_ids[3], scores[3], 1 - scores[3])
    within = mlgate(repo, "reproduce", run_id, "--tolerance", "1")
    assert within.returncode == 0
    assert "40 of 40 documents identical within tolerance 1" in within.stdout
    print(f"\n$ mlgate reproduce {run_id}  # one recorded score edited\n{changed.stdout}")


def test_version_drift_is_named_and_exit_4_unless_allowed(
    edited: tuple[Path, str, dict[str, Any]],
) -> None:
    repo, run_id, record = edited
    installed = record["manifest"]["versions"]["lm_eval"]
    record["manifest"]["versions"]["lm_eval"] = "0.4.2"
    record["manifest"]["versions"]["torch"] = "2.1.0"
    save(repo, run_id, record)
    drift = mlgate(repo, "reproduce", run_id)
    assert drift.returncode == 4, drift.stdout + drift.stderr
    assert f"version drift: lm-eval: recorded 0.4.2, installed {installed}" in drift.stdout
    assert "version drift: torch: recorded 2.1.0, installed" in drift.stdout
    allowed = mlgate(repo, "reproduce", run_id, "--allow-version-drift")
    assert allowed.returncode == 0, allowed.stdout + allowed.stderr
    assert (
        "versions differ (allowed by --allow-version-drift): torch: recorded 2.1.0"
        in allowed.stdout
    )
    assert "40 of 40 documents identical" in allowed.stdout
    print(f"\n$ mlgate reproduce {run_id}  # versions edited in the record\n{drift.stdout}")


def test_other_checkpoint_bytes_are_named_with_both_fingerprints(
    recorded: tuple[Path, str],
) -> None:
    repo, run_id = recorded
    copy = repo / "copy"
    shutil.copytree(repo / "ckpt", copy, dirs_exist_ok=True)
    same = mlgate(repo, "reproduce", run_id, "--checkpoint", str(copy))
    assert same.returncode == 0, same.stdout + same.stderr  # a copy of the same bytes will do
    config = json.loads((copy / "config.json").read_text())
    (copy / "config.json").write_text(json.dumps({**config, "note": "retouched"}))
    record = json.loads(record_path(repo, run_id).read_text())
    other = mlgate(repo, "reproduce", run_id, "--checkpoint", str(copy))
    assert other.returncode == 4
    assert f"checkpoint {copy}: its files hash to sha256:" in other.stdout
    assert f"the run recorded {record['manifest']['checkpoint']['fingerprint']}" in other.stdout
    print(f"\n$ mlgate reproduce {run_id} --checkpoint {copy}\n{other.stdout}")


def test_a_changed_data_row_is_named_with_both_hashes(recorded: tuple[Path, str]) -> None:
    repo, run_id = recorded
    record = json.loads(record_path(repo, run_id).read_text())
    doc = (
        decode_run({"my_mc": record["tasks"]["my_mc"]})
        .tasks["my_mc"]
        .metrics["acc,none"]
        .doc_ids[5]
    )
    data = repo / "evals" / "my_mc.jsonl"
    before = data.read_text(encoding="utf-8")
    rows = before.splitlines()
    row = json.loads(rows[doc])
    rows[doc] = json.dumps(
        {**row, "question": row["question"] + " (düzeltildi)"}, ensure_ascii=False
    )
    data.write_text("\n".join(rows) + "\n", encoding="utf-8")
    try:
        changed = mlgate(repo, "reproduce", run_id)
    finally:
        data.write_text(before, encoding="utf-8")
    assert changed.returncode == 4, changed.stdout + changed.stderr
    assert f"task my_mc: data changed in 1 of 40 documents: doc {doc} (" in changed.stdout
    print(f"\n$ mlgate reproduce {run_id}  # one data row edited\n{changed.stdout}")


def test_the_recorded_thread_count_is_restored(edited: tuple[Path, str, dict[str, Any]]) -> None:
    """torch reduces float sums in thread-sized chunks: a rerun on another count can differ in
    the last bits, so the record says how many threads ran and reproduce runs on as many."""
    repo, run_id, record = edited
    ran_on = record["manifest"]["model"]["threads"]
    assert isinstance(ran_on, int)  # the record says how many
    assert ran_on >= 1
    record["manifest"]["model"]["threads"] = ran_on + 1  # as if recorded on a larger runner
    save(repo, run_id, record)
    done = mlgate(repo, "reproduce", run_id, "--json", "rep.json")
    assert done.returncode in (0, 1), done.stdout + done.stderr  # bits may move, nothing else
    assert json.loads((repo / "rep.json").read_text())["threads"] == ran_on + 1
    assert "torch thread(s)" not in done.stdout  # it ran on the recorded count: no note
