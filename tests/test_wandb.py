"""Weights & Biases: a gated run logged with `wandb` itself in offline mode, read back from the
run file W&B wrote (its LevelDB-style log of protobuf records, parsed with wandb's own message
types); an unreachable W&B server changes neither the verdict, the history nor the exit code.
No network call leaves 127.0.0.1."""

from __future__ import annotations

import json
import shutil
import struct
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.gate_run import gate_env, run_gate
from tests.mlflow_server import free_port

wandb = pytest.importorskip("wandb")

CONFTEST = """
import json
from pathlib import Path

from pytest_mlgate.backend.fake import FakeBackend


def pytest_mlgate_make_backend(spec):
    name = json.loads((Path(spec.checkpoint) / "config.json").read_text())["name"]
    return FakeBackend({"mlgate_tr_mc": {"acc": json.loads(Path("scores.json").read_text())[name]}})
"""

THRESHOLDS = """
[model]
checkpoint = "ckpt/a"

[suites.fast]
tasks = ["mlgate_tr_mc"]

[gate]
cache = ""

[report]
wandb = {{ project = "mlgate-test", tags = ["nightly"], timeout = {timeout} }}

[thresholds.mlgate_tr_mc]
acc = {{ min = 0.5, max_drop = 0.02 }}
"""

BASE = [1.0] * 80 + [0.0] * 20
SCORES = {"a": BASE, "b": [0.0] * 12 + BASE[12:]}  # b: 12 right -> wrong


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    for name in SCORES:
        (tmp_path / "ckpt" / name).mkdir(parents=True)
        (tmp_path / "ckpt" / name / "config.json").write_text(json.dumps({"name": name}))
    (tmp_path / "conftest.py").write_text(CONFTEST)
    (tmp_path / "scores.json").write_text(json.dumps(SCORES))
    (tmp_path / "thresholds.toml").write_text(THRESHOLDS.format(timeout=5))
    return tmp_path


def offline(repo: Path) -> dict[str, str]:
    return {"WANDB_MODE": "offline", "WANDB_DIR": str(repo), "WANDB_SILENT": "true",
            "MLGATE_BRANCH": "main"}  # fmt: skip


def records(path: Path) -> Iterator[Any]:
    """The protobuf records of a ``.wandb`` run file: a 7-byte header, then 32 KiB blocks of
    chunks (4-byte checksum, 2-byte length, 1-byte type: full, first, middle, last)."""
    from wandb.proto import wandb_internal_pb2

    data = path.read_bytes()
    assert data[:4] == b":W&B"
    position, pending = 7, b""
    while position + 7 <= len(data):
        left = 32768 - position % 32768
        if left < 7:  # a block's tail too short for a header is padding
            position += left
            continue
        _, length, kind = struct.unpack("<IHB", data[position : position + 7])
        if kind == 0:
            position += left
            continue
        chunk = data[position + 7 : position + 7 + length]
        position += 7 + length
        pending = chunk if kind in (1, 2) else pending + chunk
        if kind in (1, 4):
            record = wandb_internal_pb2.Record()  # type: ignore[attr-defined]
            record.ParseFromString(pending)
            yield record


def read_run(repo: Path) -> dict[str, Any]:
    """What the offline run holds: its run record, summary, tables and artifacts."""
    [folder] = (repo / "wandb").glob("offline-run-*")
    [run_file] = folder.glob("run-*.wandb")
    found: dict[str, Any] = {"summary": {}, "artifacts": []}
    for record in records(run_file):
        kind = record.WhichOneof("record_type")
        if kind == "run":
            found["run"] = record.run
        elif kind == "summary":
            for item in record.summary.update:
                key = item.key or "/".join(item.nested_key)
                found["summary"][key] = json.loads(item.value_json)
        elif kind == "artifact":
            found["artifacts"].append(record.artifact)
    tables = {}
    for table in (folder / "files" / "media" / "table").rglob("*.table.json"):
        content = json.loads(table.read_text())
        tables[table.name.split("_")[0]] = [
            dict(zip(content["columns"], row, strict=True)) for row in content["data"]
        ]
    found["tables"] = tables
    return found


def test_a_gated_run_is_a_wandb_run_with_summary_tables_and_artifact(repo: Path) -> None:
    assert run_gate(repo, "--mlgate-record", env=offline(repo)).returncode == 0  # baseline a
    for old in (repo / "wandb").glob("offline-run-*"):
        shutil.rmtree(old)  # read back the second run only
    done = run_gate(repo, "--mlgate-checkpoint", "ckpt/b", "--mlgate-json", "r.json",
                    env=offline(repo))  # fmt: skip
    assert done.returncode == 1, done.stdout + done.stderr
    assert "W&B: logged run" in done.stdout
    document = json.loads((repo / "r.json").read_text())
    run_id = document["manifest"]["run_id"]
    logged = read_run(repo)
    run = logged["run"]
    assert run.display_name == run_id
    assert run.project == "mlgate-test"
    assert set(run.tags) >= {"branch:main", "suite:fast", "verdict:fail", "nightly"}
    config = {item.key: json.loads(item.value_json) for item in run.config.update}
    assert config["suite"] == "fast"
    assert config["fingerprint"] == document["manifest"]["checkpoint"]["fingerprint"]
    summary = logged["summary"]
    [verdict] = document["verdicts"]
    assert summary["mlgate_tr_mc/acc"] == pytest.approx(0.68)
    assert summary["mlgate_tr_mc/acc/delta"] == pytest.approx(-0.12)
    assert summary["mlgate_tr_mc/acc/p_value"] == pytest.approx(verdict["p_value"])
    assert summary["mlgate_tr_mc/acc/ci_low"] == pytest.approx(verdict["value_ci"][0])
    assert summary["mlgate_tr_mc/acc/verdict"] == "fail"
    assert summary["mlgate/verdict"] == "fail"
    [row] = logged["tables"]["verdicts"]
    assert (row["item"], row["verdict"], row["baseline"]) == ("mlgate_tr_mc::acc", "fail", 0.8)
    flipped = logged["tables"]["flipped"]
    assert sorted(r["doc_id"] for r in flipped) == list(range(12))  # the 12 right -> wrong
    assert all((r["baseline_score"], r["score"]) == (1.0, 0.0) for r in flipped)
    [artifact] = [a for a in logged["artifacts"] if a.type == "mlgate-run"]
    assert artifact.name == f"mlgate-{run_id}"
    contents = {entry.path for entry in artifact.manifest.contents}
    assert {"record.json", "mlgate-report.html", "r.json"} <= contents
    print(f"\nsummary: {json.dumps({k: v for k, v in summary.items() if not k.startswith('_')})}")
    print(f"verdicts table: {logged['tables']['verdicts']}")
    print(f"flipped table: {len(flipped)} rows, first {flipped[0]}")
    print(f"artifact {artifact.name}: {sorted(contents)}")


def test_an_unreachable_wandb_changes_no_verdict_history_or_exit_code(repo: Path) -> None:
    (repo / "thresholds.toml").write_text(THRESHOLDS.format(timeout=3))
    unreachable = {
        "WANDB_MODE": "online",
        "WANDB_BASE_URL": f"http://127.0.0.1:{free_port()}",  # nothing listens there
        "WANDB_API_KEY": "x" * 40,
        "WANDB_DIR": str(repo),
        "MLGATE_BRANCH": "main",
    }
    done = run_gate(repo, "--mlgate-record", "--mlgate-json", "r.json", env=unreachable)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "W&B: run" in done.stdout
    assert "NOT logged to project 'mlgate-test'" in done.stdout
    assert "the verdict, history and exit code are unchanged" in done.stdout
    [line] = (repo / ".mlgate" / "index.jsonl").read_text().splitlines()
    assert (
        json.loads(line)["run_id"]
        == json.loads((repo / "r.json").read_text())["manifest"]["run_id"]
    )
    failing = run_gate(repo, "--mlgate-checkpoint", "ckpt/b", env=unreachable)
    assert failing.returncode == 1  # a failing gate still fails
    print("\n" + "\n".join(line for line in done.stdout.splitlines() if "W&B" in line))


def test_the_wandb_table_is_validated(tmp_path: Path) -> None:
    from pytest_mlgate.config.load import load_config
    from pytest_mlgate.errors import ConfigError

    path = tmp_path / "thresholds.toml"
    path.write_text(
        '[suites.fast]\ntasks = ["mlgate_tr_mc"]\n[report]\nwandb = { entity = "me" }\n'
    )
    with pytest.raises(ConfigError, match=r"wandb.*project.*is required"):
        load_config(path)
    path.write_text(
        '[suites.fast]\ntasks = ["mlgate_tr_mc"]\n[report]\nwandb = { project = "p", tag = [] }\n'
    )
    with pytest.raises(ConfigError, match="tags"):  # the misspelt key, with the close match
        load_config(path)
    path.write_text(
        '[suites.fast]\ntasks = ["mlgate_tr_mc"]\n'
        '[report]\nwandb = { project = "p", tags = ["a"] }\n'
    )
    settings = load_config(path).report.wandb
    assert settings is not None
    assert (settings.project, settings.entity, settings.tags, settings.timeout) == (
        "p",
        None,
        ("a",),
        30.0,
    )


def test_shards_log_nothing_and_the_merged_run_is_logged_once(repo: Path) -> None:
    """Under shards the partial runs are not runs of their own: only `mlgate merge` logs the
    joined run (to the project --wandb names, over the config's)."""
    env = offline(repo)
    assert run_gate(repo, "--mlgate-record", env=env).returncode == 0  # baseline a
    for old in (repo / "wandb").glob("offline-run-*"):
        shutil.rmtree(old)
    for k in (1, 2):
        done = run_gate(repo, "--mlgate-checkpoint", "ckpt/b", f"--mlgate-shard={k}/2", env=env)
        assert done.returncode == 0, done.stdout + done.stderr
        assert "W&B" not in done.stdout
    assert not list((repo / "wandb").glob("offline-run-*"))  # a shard logs nothing
    partials = [str(repo / f"mlgate-shard-{k}-of-2.json") for k in (1, 2)]
    merged = subprocess.run(
        [sys.executable, "-m", "pytest_mlgate.cli.main", "merge", *partials,
         "--wandb", "mlgate-merged", "--json", "m.json"],
        cwd=repo, env=gate_env(env), capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert merged.returncode == 1, merged.stdout + merged.stderr  # b's 12-point drop fails
    assert "W&B: logged run" in merged.stdout
    logged = read_run(repo)
    document = json.loads((repo / "m.json").read_text())
    assert logged["run"].display_name == document["manifest"]["run_id"]
    assert logged["run"].project == "mlgate-merged"
    assert logged["summary"]["mlgate_tr_mc/acc"] == pytest.approx(0.68)
    assert logged["summary"]["mlgate/verdict"] == "fail"
    assert len(logged["tables"]["flipped"]) == 12  # both shards' flipped examples, joined
