"""The reproducibility manifest recorded with every run (DESIGN §5), as typed frozen objects.

Plain Python: git is asked through subprocess, package versions through importlib.metadata, GPU
models through the driver's /proc entries; nothing heavy is imported. JSON exists only in
:mod:`pytest_mlgate.store.codec`.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import platform
import subprocess
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

from pytest_mlgate.checkpoint import CheckpointInfo, fingerprint_checkpoint, known_checkpoint
from pytest_mlgate.config.schema import MlgateConfig, ModelConfig, SuiteConfig
from pytest_mlgate.results import (
    Determinism,
    EvalRun,
    Latency,
    PromptInfo,
    TaskResult,
    Throughput,
)

# lm-eval's default seeds (simple_evaluate), which the backend leaves in place.
LM_EVAL_SEEDS = {"random": 0, "numpy": 1234, "torch": 1234, "fewshot": 1234}
# The packages whose versions the manifest records (and the result cache keys on).
RECORDED_PACKAGES = ("pytest-mlgate", "lm-eval", "torch", "transformers")

JsonValue = object  # a value that came from TOML/JSON (model_args): str, number, bool, list, dict


@dataclass(frozen=True)
class GitState:
    commit: str | None = None
    branch: str | None = None
    dirty: bool | None = None
    #: The commit under review when CI evaluates another one (``$MLGATE_HEAD_SHA``: a PR's head,
    #: where GitHub checks out a merge commit). The comment workflow posts only for this SHA.
    head: str | None = None

    @property
    def reviewed(self) -> str | None:
        """The commit a PR comment names: the PR head when known, else the checked-out one."""
        return self.head or self.commit


@dataclass(frozen=True)
class ConfigInfo:
    path: str = ""
    hash: str = ""  #: sha256 of the config file's bytes, 16 hex digits


@dataclass(frozen=True)
class SuiteInfo:
    name: str = ""
    sample: int | None = None
    seed: int | None = None
    num_fewshot: int | Mapping[str, int] | None = None
    shard: tuple[int, int] | None = None  #: (K, N): a partial run of shard K of N


@dataclass(frozen=True)
class TaskInfo:
    """What defines one task's scores in a run (compared before two runs are)."""

    version: str | None = None
    task_hash: str | None = None
    num_fewshot: int | None = None
    n: int = 0
    subset: str = ""  #: hash of the evaluated doc ids
    docs: str | None = None  #: hash of lm-eval's per-document hashes
    #: the path that scored it: "shared-context", "lmeval" or both joined by "+" ([model]
    #: scoring; None: not recorded). Never makes runs incomparable: both agree within 1e-4.
    scoring: str | None = None
    #: a sequential run: the task's documents in all (``n`` of them were evaluated)
    planned: int | None = None
    #: a sequential run: (look, looks) where the task's evaluation ended
    look: tuple[int, int] | None = None


@dataclass(frozen=True)
class ModelInfo:
    backend: str = ""
    dtype: str | None = None
    device: str | None = None
    gpus: tuple[str, ...] = ()
    batch_size: int | str | None = None
    model_args: Mapping[str, JsonValue] = field(default_factory=dict)
    chat_template: bool = False
    threads: int | None = None  #: torch's intra-op threads (None: not recorded)


@dataclass(frozen=True)
class Versions:
    python: str | None = None
    pytest_mlgate: str | None = None
    lm_eval: str | None = None
    torch: str | None = None
    transformers: str | None = None


@dataclass(frozen=True)
class Seeds:
    subset: int | None = None
    random: int | None = None
    numpy: int | None = None
    torch: int | None = None
    fewshot: int | None = None


@dataclass(frozen=True)
class Manifest:
    """Everything needed to reproduce (and to decide whether to compare) a run."""

    run_id: str
    timestamp: str  #: ISO 8601, UTC, to the microsecond (records before 0.3: to the second)
    git: GitState = field(default_factory=GitState)
    checkpoint: CheckpointInfo = field(default_factory=lambda: CheckpointInfo("", "", ""))
    config: ConfigInfo = field(default_factory=ConfigInfo)
    suite: SuiteInfo = field(default_factory=SuiteInfo)
    tasks: Mapping[str, TaskInfo] = field(default_factory=dict)
    model: ModelInfo = field(default_factory=ModelInfo)
    versions: Versions = field(default_factory=Versions)
    platform: str = ""
    groups: Mapping[str, tuple[str, ...]] = field(default_factory=dict)  #: lm-eval groups
    seeds: Seeds = field(default_factory=Seeds)
    #: how requests were formatted (a record made before 0.2: no template, lm-eval defaults)
    prompt: PromptInfo = field(default_factory=PromptInfo)
    #: [gate] determinism: the same documents at several batch sizes, per task
    determinism: tuple[Determinism, ...] = ()
    #: how fast each request type was answered (empty: not measured, or a result-cache hit)
    throughput: tuple[Throughput, ...] = ()
    #: [suites.NAME] latency: single-request latency samples (None: not measured)
    latency: Latency | None = None
    #: wall seconds spent evaluating, model load excluded, summed over looks, batches and
    #: shards (None: not measured, or a result-cache hit)
    evaluation_seconds: float | None = None


def hardware(gpus: Sequence[str] = ()) -> str:
    """What latency was measured on: the GPU models, else the CPU model (``/proc/cpuinfo``,
    else what Python's platform module says)."""
    if gpus:
        return ", ".join(gpus)
    try:
        for line in Path("/proc/cpuinfo").read_text(errors="replace").splitlines():
            if line.lower().startswith("model name"):
                return line.partition(":")[2].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown CPU"


def git_output(args: list[str], cwd: Path) -> str | None:
    """What a git command prints, or None when git fails (not a repository, no git)."""
    try:
        out = subprocess.run(
            ["git", *args], cwd=cwd, capture_output=True, text=True, timeout=30, check=False
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() if out.returncode == 0 else None


HEAD_SHA_ENV = "MLGATE_HEAD_SHA"

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


def git_state(cwd: Path) -> GitState:
    """Commit, branch and dirty flag. ``MLGATE_BRANCH`` wins; in CI's detached checkouts the
    branch comes from the CI system's variables."""
    commit = git_output(["rev-parse", "HEAD"], cwd)
    # symbolic-ref, not rev-parse: it names the branch before its first commit too (and fails
    # on a detached checkout, whose branch then comes from CI's variables).
    branch = os.environ.get("MLGATE_BRANCH") or git_output(
        ["symbolic-ref", "--short", "-q", "HEAD"], cwd
    )
    if not branch:
        branch = branch_from_environment()
    status = git_output(["status", "--porcelain", "--untracked-files=no"], cwd)
    head = os.environ.get(HEAD_SHA_ENV, "").strip() or None
    return GitState(commit, branch, None if status is None else bool(status), head)


def missing_from_git_state(git: GitState, cwd: Path) -> str | None:
    """What a recorded run's git state lacks and why, said as it is (None: nothing)."""
    if git.branch and git.commit:
        return None
    fix = "no baseline lookup by branch will find it; set MLGATE_BRANCH"
    if git_output(["rev-parse", "--is-inside-work-tree"], cwd) is None:
        lacks = "no commit" if git.branch else f"no branch and no commit: {fix}"
        return f"recorded outside a git repository ({cwd}): the run names {lacks}"
    if git.commit is None:
        return (
            f"recorded before the first commit on branch {git.branch!r}: the run names no "
            "commit (commit, then record again, for a baseline that names one)"
        )
    return f"recorded without a branch name (detached checkout, unknown CI): {fix}"


def package_version(package: str) -> str | None:
    try:
        return version(package)
    except PackageNotFoundError:
        return None


def package_versions() -> dict[str, str | None]:
    """The installed versions of what moves scores, by distribution name."""
    return {package: package_version(package) for package in RECORDED_PACKAGES}


def accelerators() -> list[str]:
    """GPU models, read from the NVIDIA driver's /proc entries (no torch import needed)."""
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    if visible is not None and visible.strip() in ("", "-1"):
        return []
    names = []
    for info in sorted(Path("/proc/driver/nvidia/gpus").glob("*/information")):
        try:
            for line in info.read_text().splitlines():
                if line.startswith("Model:"):
                    names.append(line.split(":", 1)[1].strip())
        except OSError:
            continue
    return names


def _sha256_file(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()[:16]


def subset_hash(doc_ids: Iterable[int]) -> str:
    return hashlib.sha256(",".join(map(str, sorted(doc_ids))).encode()).hexdigest()[:16]


def task_info(task: TaskResult, scoring: str | None = None) -> TaskInfo:
    ids = sorted(task.doc_hashes) or next(
        (list(m.doc_ids) for m in task.metrics.values() if m.doc_ids), []
    )
    docs = None
    if task.doc_hashes:
        joined = "".join(task.doc_hashes[i] for i in sorted(task.doc_hashes))
        docs = hashlib.sha256(joined.encode()).hexdigest()[:16]
    return TaskInfo(
        task.version, task.task_hash, task.num_fewshot, task.n, subset_hash(ids), docs, scoring
    )


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
    shard: tuple[int, int] | None = None,
) -> Manifest:
    """``fingerprint``: the checkpoint's, when already known (the result cache memoizes it)."""
    info = run.info
    prompt = info.prompt or requested_prompt(config.model)
    model_args = dict(config.model.model_args)
    revision = model_args.get("revision")
    versions = package_versions()
    return Manifest(
        run_id=run_id,
        timestamp=(timestamp or dt.datetime.now(dt.timezone.utc)).isoformat(
            timespec="microseconds"
        ),
        git=git_state(cwd),
        checkpoint=(
            fingerprint_checkpoint(checkpoint, revision if isinstance(revision, str) else None)
            if fingerprint is None
            else known_checkpoint(checkpoint, fingerprint)
        ),
        config=ConfigInfo(str(config.path), _sha256_file(config.path)),
        suite=SuiteInfo(suite.name, suite.sample, suite.seed, suite.num_fewshot, shard),
        tasks={name: task_info(task, info.scoring.get(name)) for name, task in run.tasks.items()},
        model=ModelInfo(
            backend=config.model.backend,
            dtype=info.dtype or config.model.dtype,
            device=info.device,
            gpus=info.gpus,
            batch_size=info.batch_size,
            threads=info.threads,
            model_args=model_args,
            chat_template=prompt.chat_template is not None,
        ),
        versions=Versions(
            python=platform.python_version(),
            pytest_mlgate=versions["pytest-mlgate"],
            lm_eval=versions["lm-eval"],
            torch=versions["torch"],
            transformers=versions["transformers"],
        ),
        platform=platform.platform(),
        groups=dict(info.groups),
        seeds=Seeds(subset=suite.seed, **LM_EVAL_SEEDS),
        prompt=prompt,
        throughput=() if info.from_cache else info.throughput,  # a cache hit measured nothing
        evaluation_seconds=None if info.from_cache else info.seconds,
    )


def requested_prompt(model: ModelConfig) -> PromptInfo:
    """The prompt settings a config asks for, for a backend that does not report what it
    applied (the template's text is then unknown)."""
    return PromptInfo(
        chat_template=None,
        system_instruction=model.system_instruction,
        fewshot_as_multiturn=model.multiturn,
        gen_kwargs=dict(model.gen_kwargs),
    )


def _sha(value: str | None) -> str:
    return "none" if value is None else f"sha {value[:8]}…"


def _shown(value: object, width: int = 40) -> str:
    text = repr(value)
    return text if len(text) <= width else text[: width - 1] + "…"


def prompt_changes(current: PromptInfo, baseline: PromptInfo) -> list[str]:
    """What formats this run's requests differently from the baseline's, one phrase each."""
    changes = []
    if current.chat_template != baseline.chat_template:
        before, after = _sha(baseline.chat_template), _sha(current.chat_template)
        changes.append(f"chat template changed ({before} → {after})")
    if current.system_instruction != baseline.system_instruction:
        changes.append(
            f"system instruction changed ({_shown(baseline.system_instruction)} → "
            f"{_shown(current.system_instruction)})"
        )
    if current.fewshot_as_multiturn != baseline.fewshot_as_multiturn:
        changes.append(
            f"fewshot_as_multiturn changed ({baseline.fewshot_as_multiturn} → "
            f"{current.fewshot_as_multiturn})"
        )
    if dict(current.gen_kwargs) != dict(baseline.gen_kwargs):
        changes.append(
            f"gen_kwargs changed ({_shown(dict(baseline.gen_kwargs))} → "
            f"{_shown(dict(current.gen_kwargs))})"
        )
    bos = [(current.add_bos_token, baseline.add_bos_token)]
    if current.tokenizer_adds_bos is not None and baseline.tokenizer_adds_bos is not None:
        bos.append((current.tokenizer_adds_bos, baseline.tokenizer_adds_bos))
    if any(now != then for now, then in bos):
        changes.append(
            f"BOS handling changed (add_bos_token {baseline.add_bos_token}, tokenizer adds BOS "
            f"{baseline.tokenizer_adds_bos} → add_bos_token {current.add_bos_token}, tokenizer "
            f"adds BOS {current.tokenizer_adds_bos})"
        )
    return changes


def incomparable(
    current: Manifest, baseline: Manifest, task: str, other: str = "the baseline"
) -> list[str]:
    """Why ``task``'s scores in two runs must not be compared silently (empty: comparable).

    Only what moves scores counts: the task definition, n-shot, the lm-eval version, the dtype
    and the prompt format (:func:`prompt_changes`). The documents, the sampled subset and each
    document's rendered request are checked example by example when the runs are paired (a PR's
    sample of a baseline's full run pairs fine). The checkpoint, the git commit and the batch
    size are what a comparison is for, or do not move scores.
    """
    now_task = current.tasks.get(task, TaskInfo())
    base_task = baseline.tasks.get(task, TaskInfo())
    checks: list[tuple[str, object, object]] = [
        ("task hash", now_task.task_hash, base_task.task_hash),
        ("task version", now_task.version, base_task.version),
        ("n-shot", now_task.num_fewshot, base_task.num_fewshot),
        ("lm-eval version", current.versions.lm_eval, baseline.versions.lm_eval),
        ("dtype", current.model.dtype, baseline.model.dtype),
    ]
    reasons = [
        f"{label} differs ({then} in {other}, {now} now)"
        for label, now, then in checks
        if now is not None and then is not None and now != then
    ]
    return reasons + prompt_changes(current.prompt, baseline.prompt)
