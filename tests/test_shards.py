"""Shards: `--mlgate-shard K/N` writes partial runs; `mlgate merge` joins them and gates them
with verdicts equal to an unsharded run's; a missing, duplicated or foreign shard is an error."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from pytest_mlgate.sampling import shard
from tests.gate_run import gate_env, run_gate

FAKE = """
import json
from pathlib import Path

from pytest_mlgate.backend.fake import FakeBackend, FakeTask

GROUPS = {i: ("tarih" if i % 3 == 0 else "dil") for i in range(120)}


def pytest_mlgate_make_backend(spec):
    scores = json.loads(Path("scores.json").read_text())[Path(spec.checkpoint).name]
    return FakeBackend(
        {"mlgate_tr_mc": {"acc": scores}}, tasks={"mlgate_tr_mc": FakeTask(subgroups=GROUPS)}
    )
"""

GATE = """
[model]
checkpoint = "a"
[suites.fast]
tasks = ["mlgate_tr_mc"]
[thresholds.mlgate_tr_mc]
acc = { min = 0.1, max_drop = 0.02, subgroups = true, min_subgroup_n = 20 }
"""

BASE = [1.0] * 90 + [0.0] * 30
WORSE = [0.0] * 12 + [1.0] * 78 + [0.0] * 30


def mlgate(repo: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pytest_mlgate.cli.main", *args],
        cwd=repo,
        env=gate_env({"MLGATE_BRANCH": "main"}),
        capture_output=True,
        text=True,
        check=False,
    )


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    for name in ("a", "b"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "config.json").write_text(json.dumps({"name": name}))
    (tmp_path / "conftest.py").write_text(FAKE)
    (tmp_path / "thresholds.toml").write_text(GATE)
    (tmp_path / "scores.json").write_text(json.dumps({"a": BASE, "b": WORSE}))
    branch = {"MLGATE_BRANCH": "main"}
    assert run_gate(tmp_path, "--mlgate-record", env=branch).returncode == 0  # the baseline
    return tmp_path


def verdicts(path: Path) -> list[dict[str, object]]:
    found = json.loads(path.read_text())["verdicts"]
    keys = ("item", "status", "value", "value_ci", "baseline", "delta", "delta_ci", "p_value",
            "p_adjusted", "test", "paired_n", "n")  # fmt: skip
    return [{k: v.get(k) for k in keys} for v in found]


def shards(repo: Path, n: int, checkpoint: str = "b") -> list[Path]:
    paths = []
    for k in range(1, n + 1):
        done = run_gate(repo, "--mlgate-checkpoint", checkpoint, f"--mlgate-shard={k}/{n}", "-rA")
        assert done.returncode == 0, done.stdout[-2000:]
        assert f"shard {k}/{n}: gated when `mlgate merge` joins the shards" in done.stdout
        paths.append(repo / f"mlgate-shard-{k}-of-{n}.json")
    return paths


def test_shards_are_disjoint_stratified_and_cover_the_documents() -> None:
    strata = ["a" if i % 4 else "b" for i in range(103)]
    chosen = list(range(0, 103, 1))
    parts = [shard(chosen, strata, k, 3) for k in (1, 2, 3)]
    assert sorted(i for part in parts for i in part) == chosen
    for part in parts:
        share = sum(strata[i] == "b" for i in part) / len(part)
        assert abs(share - 0.25) < 0.03  # every shard holds its share of every stratum


def test_merged_shards_gate_exactly_as_the_unsharded_run(repo: Path) -> None:
    whole = run_gate(
        repo, "--mlgate-checkpoint", "b", "--mlgate-json=whole.json", "--mlgate-metrics=w.json"
    )
    assert whole.returncode == 1
    paths = shards(repo, 3)
    merged = mlgate(
        repo, "merge", *map(str, paths), "--json", "merged.json", "--report", "m.html",
        "--metrics", "m.json",
    )  # fmt: skip
    assert merged.returncode == 1, merged.stdout + merged.stderr
    assert "merged 3 shards into run" in merged.stdout
    a, b = verdicts(repo / "whole.json"), verdicts(repo / "merged.json")
    assert len(a) == 3  # acc, acc[dil], acc[tarih]
    assert a == b
    assert (repo / "m.html").is_file()
    # the DVC metrics file too: the same but for the run's own id and commit
    w, m = (json.loads((repo / name).read_text()) for name in ("w.json", "m.json"))
    assert w.pop("mlgate")["run_id"] != m.pop("mlgate")["run_id"]
    assert w == m
    assert set(m["mlgate_tr_mc"]["acc"]["subgroups"]) == {"dil", "tarih"}
    # Partial runs are never baselines: recording the merge adds one whole run.
    recorded = mlgate(repo, "merge", *map(str, paths), "--record")
    assert "recorded run" in recorded.stdout
    index = (repo / ".mlgate" / "index.jsonl").read_text().splitlines()
    assert len(index) == 2
    assert all(json.loads(line)["partial"] is False for line in index)


def test_a_missing_duplicated_or_foreign_shard_is_a_clear_error(repo: Path) -> None:
    one, two, three = shards(repo, 3)
    missing = mlgate(repo, "merge", str(one), str(three))
    assert missing.returncode == 4
    assert "shard(s) 2/3 missing" in missing.stderr
    twice = mlgate(repo, "merge", str(one), str(two), str(two), str(three))
    assert twice.returncode == 4
    assert "shard 2/3 given twice" in twice.stderr
    (foreign,) = [p for p in shards(repo, 3, checkpoint="a") if p.name.endswith("2-of-3.json")]
    mixed = repo / "mixed-2.json"
    foreign.rename(mixed)
    one_b, _, three_b = shards(repo, 3)
    wrong = mlgate(repo, "merge", str(one_b), str(mixed), str(three_b))
    assert wrong.returncode == 4
    assert "were made differently: checkpoint" in wrong.stderr
    not_a_shard = mlgate(repo, "merge", str(repo / "thresholds.toml"))
    assert not_a_shard.returncode == 4
    assert "not a readable partial run" in not_a_shard.stderr


LMEVAL_GATE = """
[model]
checkpoint = "{good}"
dtype = "float32"
batch_size = 16

[suites.fast]
tasks = ["mlgate_tr_mc", "mlgate_tr_math"]
sample = 80
num_fewshot = 1

[gate]
cache = ""

[thresholds.mlgate_tr_mc]
acc = {{ min = 0.3, max_drop = 0.02 }}

[thresholds.mlgate_tr_math]
"exact_match,strict-match" = {{ min = 0.0, max_drop = 0.05 }}
"""


@pytest.mark.slow
def test_two_lm_eval_shards_with_few_shot_merge_to_the_unsharded_verdicts(
    demo_checkpoints: dict[str, Path], shifted_checkpoint: Path, tmp_path: Path
) -> None:
    """n-shot 1: each document's few-shot demonstrations must not depend on its shard (lm-eval
    draws them from one generator in document order; the backend replays the full order)."""
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "thresholds.toml").write_text(LMEVAL_GATE.format(good=demo_checkpoints["good"]))
    branch = {"MLGATE_BRANCH": "main"}
    assert run_gate(repo, "--mlgate-record", env=branch).returncode == 0
    candidate = ("--mlgate-checkpoint", str(shifted_checkpoint))
    whole = run_gate(repo, *candidate, "--mlgate-json=whole.json")
    parts = []
    for k in (1, 2):
        done = run_gate(repo, *candidate, f"--mlgate-shard={k}/2")
        assert done.returncode == 0, done.stdout[-2000:]
        parts.append(str(repo / f"mlgate-shard-{k}-of-2.json"))
    merged = mlgate(repo, "merge", *parts, "--json", "merged.json")
    assert merged.returncode == whole.returncode, merged.stdout + merged.stderr
    a, b = verdicts(repo / "whole.json"), verdicts(repo / "merged.json")
    assert len(a) == 2
    assert a == b
    sizes = [json.loads(Path(p).read_text())["tasks"]["mlgate_tr_mc"]["n"] for p in parts]
    assert sorted(sizes) == [40, 40]
    print(
        "\n"
        + "\n".join(
            f"{v['item']}: {v['status']} value {v['value']:.4f} delta "
            f"{v['delta']:+.4f} p {v['p_value']:.3g}"
            for v in b
        )
    )
