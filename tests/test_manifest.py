"""The run manifest: fingerprints that change when weights change, and what blocks comparison."""

from __future__ import annotations

import dataclasses
import subprocess
from pathlib import Path

import pytest

from pytest_mlgate.backend.fake import fake_task_result
from pytest_mlgate.checkpoint import CheckpointInfo
from pytest_mlgate.checkpoint import fingerprint_checkpoint as checkpoint_fingerprint
from pytest_mlgate.config.load import load_config
from pytest_mlgate.manifest import (
    GitState,
    Manifest,
    ModelInfo,
    TaskInfo,
    Versions,
    build_manifest,
    git_state,
    incomparable,
)
from pytest_mlgate.results import EvalRun, PromptInfo, RunInfo


def test_fingerprint_streams_weights_and_changes_with_them(tmp_path: Path) -> None:
    (tmp_path / "config.json").write_text("{}")
    (tmp_path / "model.safetensors").write_bytes(b"\0" * 3_000_000)
    first = checkpoint_fingerprint(str(tmp_path))
    assert first.kind == "local"
    assert first.files == ("config.json", "model.safetensors")
    assert first == checkpoint_fingerprint(str(tmp_path))
    (tmp_path / "model.safetensors").write_bytes(b"\0" * 2_999_999 + b"\1")
    assert checkpoint_fingerprint(str(tmp_path)).fingerprint != first.fingerprint


def test_hub_id_resolves_through_the_local_cache(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path))
    refs = tmp_path / "models--org--tiny" / "refs"
    refs.mkdir(parents=True)
    (refs / "main").write_text("0123abcd" * 5)
    assert checkpoint_fingerprint("org/tiny").fingerprint == "hub:" + "0123abcd" * 5
    assert checkpoint_fingerprint("org/other").fingerprint == "hub:main"


def test_git_state_reads_commit_branch_and_dirty(tmp_path: Path) -> None:
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@t"]
    subprocess.run(["git", "init", "-q", "-b", "work"], cwd=tmp_path, check=True)
    (tmp_path / "f").write_text("1")
    subprocess.run([*git, "add", "f"], cwd=tmp_path, check=True)
    subprocess.run([*git, "commit", "-qm", "x"], cwd=tmp_path, check=True)
    state = git_state(tmp_path)
    assert state.branch == "work"
    assert state.dirty is False
    assert state.commit is not None
    assert len(state.commit) == 40
    (tmp_path / "f").write_text("2")
    assert git_state(tmp_path).dirty is True


def test_manifest_holds_what_reproduces_a_run(tmp_path: Path) -> None:
    config_path = tmp_path / "thresholds.toml"
    config_path.write_text('[suites.fast]\ntasks = ["mlgate_tr_mc"]\nsample = 50\n')
    config = load_config(config_path)
    run = EvalRun(
        {"mlgate_tr_mc": fake_task_result("mlgate_tr_mc", {"acc": [1.0, 0.0]})},
        RunInfo(dtype="bfloat16", device="cuda", gpus=("NVIDIA H200",), batch_size=64),
    )
    manifest = build_manifest(
        run_id="r1",
        config=config,
        suite=config.suites["fast"],
        checkpoint="org/tiny",
        run=run,
        cwd=tmp_path,
    )
    assert manifest.run_id == "r1"
    assert (manifest.suite.name, manifest.suite.sample, manifest.suite.seed) == ("fast", 50, 1234)
    assert manifest.suite.num_fewshot is None
    assert manifest.model.dtype == "bfloat16"
    assert manifest.model.gpus == ("NVIDIA H200",)
    assert manifest.versions.lm_eval
    assert manifest.versions.torch
    assert manifest.seeds.fewshot == 1234
    assert len(manifest.config.hash) == 16
    assert manifest.checkpoint == checkpoint_fingerprint("org/tiny")
    assert manifest.tasks["mlgate_tr_mc"].n == 2


def test_what_moves_scores_blocks_comparison_and_what_does_not_does_not() -> None:
    base = Manifest(
        "b",
        "",
        tasks={"t": TaskInfo(task_hash="a", version="1", num_fewshot=0)},
        versions=Versions(lm_eval="0.4.13"),
        model=ModelInfo(dtype="float32", chat_template=False, batch_size=8),
        checkpoint=CheckpointInfo("c", "local", "sha256:x"),
    )
    same = dataclasses.replace(
        base,
        checkpoint=CheckpointInfo("c", "local", "sha256:y"),
        git=GitState(commit="other"),
    )
    assert incomparable(same, base, "t") == []
    changed = Manifest(
        "c",
        "",
        tasks={"t": TaskInfo(task_hash="b", version="1", num_fewshot=5)},
        versions=Versions(lm_eval="0.4.14"),
        model=ModelInfo(dtype="bfloat16", chat_template=True, batch_size=32),
        prompt=PromptInfo(chat_template="9f8e7d6c" * 8, fewshot_as_multiturn=True),
    )
    reasons = " | ".join(incomparable(changed, base, "t"))
    for fragment in (
        "task hash",
        "n-shot",
        "lm-eval version",
        "dtype",
        "chat template changed (none → sha 9f8e7d6c…)",
        "fewshot_as_multiturn changed (False → True)",
    ):
        assert fragment in reasons
    assert "batch" not in reasons


@pytest.mark.parametrize(
    ("variables", "branch"),
    [
        ({"CI_COMMIT_REF_NAME": "main"}, "main"),  # GitLab
        ({"GIT_BRANCH": "origin/release"}, "release"),  # Jenkins
        ({"BUILDKITE_BRANCH": "dev", "MLGATE_BRANCH": "main"}, "main"),  # explicit wins
    ],
)
def test_branch_of_a_detached_checkout_comes_from_the_ci(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, variables: dict[str, str], branch: str
) -> None:
    for name in ("GITHUB_HEAD_REF", "GITHUB_REF_NAME", "MLGATE_BRANCH"):
        monkeypatch.delenv(name, raising=False)
    for name, value in variables.items():
        monkeypatch.setenv(name, value)
    assert git_state(tmp_path).branch == branch  # tmp_path is no git repo
