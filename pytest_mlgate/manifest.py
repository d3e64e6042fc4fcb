"""Fingerprints and the reproducibility manifest recorded with every run (DESIGN §5).

Plain Python: git is asked through subprocess, package versions through importlib.metadata,
and nothing heavy is imported (the GPU names come from the backend that already loaded torch).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import platform
import subprocess
from collections.abc import Iterable, Mapping
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

from pytest_mlgate.config import MlgateConfig, SuiteConfig
from pytest_mlgate.results import EvalRun

WEIGHT_PATTERNS = ("*.safetensors", "*.bin", "*.pt", "*.gguf")
# Files besides the weights that change what a checkpoint computes.
DEFINING_FILES = (
    "config.json",
    "generation_config.json",
    "tokenizer.json",
    "tokenizer_config.json",
)
CHUNK = 1 << 20
# lm-eval's default seeds (simple_evaluate), which the backend leaves in place.
LM_EVAL_SEEDS = {"random": 0, "numpy": 1234, "torch": 1234, "fewshot": 1234}


def _git(args: list[str], cwd: Path) -> str | None:
    try:
        out = subprocess.run(
            ["git", *args], cwd=cwd, capture_output=True, text=True, timeout=10, check=False
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() if out.returncode == 0 else None


# Where CI systems put the branch of a detached checkout (the PR's source branch first).
BRANCH_VARIABLES = (
    "GITHUB_HEAD_REF",
    "GITHUB_REF_NAME",
    "CI_MERGE_REQUEST_SOURCE_BRANCH_NAME",  # GitLab
    "CI_COMMIT_REF_NAME",
    "BUILDKITE_BRANCH",
    "CIRCLE_BRANCH",
    "BRANCH_NAME",  # Jenkins multibranch
    "GIT_BRANCH",  # Jenkins git plugin: "origin/main"
    "BUILD_SOURCEBRANCHNAME",  # Azure Pipelines
    "TRAVIS_BRANCH",
)


def branch_from_environment() -> str | None:
    for name in BRANCH_VARIABLES:
        value = os.environ.get(name)
        if value:
            return value.removeprefix("origin/").removeprefix("refs/heads/")
    return None


def git_state(cwd: Path) -> dict[str, Any]:
    """Commit, branch and dirty flag. ``MLGATE_BRANCH`` wins; in CI's detached checkouts the
    branch comes from the CI system's variables."""
    commit = _git(["rev-parse", "HEAD"], cwd)
    branch = os.environ.get("MLGATE_BRANCH") or _git(["rev-parse", "--abbrev-ref", "HEAD"], cwd)
    if branch in (None, "HEAD"):
        branch = branch_from_environment()
    status = _git(["status", "--porcelain", "--untracked-files=no"], cwd)
    return {"commit": commit, "branch": branch, "dirty": None if status is None else bool(status)}


def checkpoint_fingerprint(checkpoint: str, revision: str | None = None) -> dict[str, Any]:
    """A local folder: a streamed sha256 of its weight and defining files (names, sizes, bytes).
    A hub id: the revision it resolves to in the local cache (or the one asked for)."""
    path = Path(checkpoint).expanduser()
    if path.is_dir():
        digest = hashlib.sha256()
        files = sorted(
            {p for pattern in (*WEIGHT_PATTERNS, *DEFINING_FILES) for p in path.glob(pattern)}
        )
        for file in files:
            digest.update(f"{file.name}\0{file.stat().st_size}\0".encode())
            with file.open("rb") as handle:
                while chunk := handle.read(CHUNK):
                    digest.update(chunk)
        return {
            "id": str(path.resolve()),
            "kind": "local",
            "fingerprint": f"sha256:{digest.hexdigest()}",
            "files": [f.name for f in files],
        }
    return {
        "id": checkpoint,
        "kind": "hub",
        "fingerprint": f"hub:{_hub_revision(checkpoint, revision or 'main')}",
    }


def _hub_revision(repo_id: str, revision: str) -> str:
    """The commit a hub revision resolves to, from the local cache (no network needed)."""
    cache = Path(
        os.environ.get("HF_HUB_CACHE")
        or Path(os.environ.get("HF_HOME", Path.home() / ".cache" / "huggingface")) / "hub"
    )
    ref = cache / f"models--{repo_id.replace('/', '--')}" / "refs" / revision
    try:
        return ref.read_text().strip()
    except OSError:
        return revision  # unresolved: the name itself (a commit sha when the user pinned one)


def _checkpoint(checkpoint: str, revision: str | None, known: str | None) -> dict[str, Any]:
    if known is None:
        return checkpoint_fingerprint(checkpoint, revision)
    path = Path(checkpoint).expanduser()
    local = path.is_dir()
    return {
        "id": str(path.resolve()) if local else checkpoint,
        "kind": "local" if local else "hub",
        "fingerprint": known,
    }


def _version(package: str) -> str | None:
    try:
        return version(package)
    except PackageNotFoundError:
        return None


def _sha256_file(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()[:16]


def subset_hash(doc_ids: Iterable[int]) -> str:
    return hashlib.sha256(",".join(map(str, sorted(doc_ids))).encode()).hexdigest()[:16]


def build_manifest(
    *,
    run_id: str,
    config: MlgateConfig,
    suite: SuiteConfig,
    checkpoint: str,
    run: EvalRun,
    cwd: Path,
    timestamp: dt.datetime | None = None,
    fingerprint: str | None = None,
) -> dict[str, Any]:
    """``fingerprint``: the checkpoint's, when already known (the result cache memoizes it)."""
    info = run.info
    model_args = {k: v for k, v in config.model.model_args.items()}
    tasks = {}
    for name, task in run.tasks.items():
        ids = sorted(task.doc_hashes) or next(
            (list(m.doc_ids) for m in task.metrics.values() if m.doc_ids), []
        )
        tasks[name] = {
            "version": task.version,
            "task_hash": task.task_hash,
            "num_fewshot": task.num_fewshot,
            "n": task.n,
            "subset": subset_hash(ids),
            "docs": hashlib.sha256(
                "".join(task.doc_hashes[i] for i in sorted(task.doc_hashes)).encode()
            ).hexdigest()[:16]
            if task.doc_hashes
            else None,
        }
    return {
        "run_id": run_id,
        "timestamp": (timestamp or dt.datetime.now(dt.timezone.utc)).isoformat(timespec="seconds"),
        "git": git_state(cwd),
        "checkpoint": _checkpoint(checkpoint, model_args.get("revision"), fingerprint),
        "config": {"path": str(config.path), "hash": _sha256_file(config.path)},
        "suite": {
            "name": suite.name,
            "sample": suite.sample,
            "seed": suite.seed,
            "num_fewshot": suite.num_fewshot,
        },
        "tasks": tasks,
        "model": {
            "backend": config.model.backend,
            "dtype": info.get("dtype") or config.model.dtype,
            "device": info.get("device"),
            "gpus": info.get("gpus", []),
            "batch_size": info.get("batch_size"),
            "model_args": json.loads(json.dumps(model_args, default=str)),
            "chat_template": bool(model_args.get("apply_chat_template", False)),
        },
        "versions": {
            "python": platform.python_version(),
            "pytest_mlgate": _version("pytest-mlgate"),
            "lm_eval": info.get("lm_eval_version") or _version("lm-eval"),
            "torch": info.get("torch_version") or _version("torch"),
            "transformers": info.get("transformers_version") or _version("transformers"),
        },
        "platform": platform.platform(),
        "groups": dict(info.get("groups") or {}),  # lm-eval groups and their subtasks
        "seeds": {"subset": suite.seed, **LM_EVAL_SEEDS},
    }


def incomparable(current: Mapping[str, Any], baseline: Mapping[str, Any], task: str) -> list[str]:
    """Why ``task``'s scores in two runs must not be compared silently (empty: comparable).

    Only what moves scores counts: the task definition, n-shot, the lm-eval version, the dtype
    and the chat template. The documents and the sampled subset are checked example by example
    when the runs are paired (a PR's sample of a baseline's full run pairs fine). The checkpoint,
    the git commit and the batch size are what a comparison is for, or do not move scores.
    """
    reasons = []
    now_task = (current.get("tasks") or {}).get(task) or {}
    base_task = (baseline.get("tasks") or {}).get(task) or {}
    checks = [
        ("task hash", now_task.get("task_hash"), base_task.get("task_hash")),
        ("task version", now_task.get("version"), base_task.get("version")),
        ("n-shot", now_task.get("num_fewshot"), base_task.get("num_fewshot")),
        (
            "lm-eval version",
            (current.get("versions") or {}).get("lm_eval"),
            (baseline.get("versions") or {}).get("lm_eval"),
        ),
        (
            "dtype",
            (current.get("model") or {}).get("dtype"),
            (baseline.get("model") or {}).get("dtype"),
        ),
        (
            "chat template",
            (current.get("model") or {}).get("chat_template"),
            (baseline.get("model") or {}).get("chat_template"),
        ),
    ]
    for label, now, then in checks:
        if now is not None and then is not None and now != then:
            reasons.append(f"{label} differs ({then} in the baseline, {now} now)")
    return reasons
