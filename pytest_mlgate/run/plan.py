"""The plan of a gated run: config + options -> frozen specs, built in one place.

A plan says *what* to gate, against what and where, without doing it: checkpoints are
locations (not yet resolved or fingerprinted), the store a URI (not yet opened), the baseline a
spec (not yet looked up). :mod:`pytest_mlgate.run.resolve` does that I/O. Who uses which part:

- the plugin: all of it (:func:`choose_suite` at collection, :func:`plan_gate` once items are
  selected);
- ``mlgate history`` / ``compare`` / ``report``: :func:`plan_history` (store, baseline spec,
  ``[gate]`` and ``[report]`` settings);
- ``mlgate plan``: :func:`choose_suite` (the trigger matrix).

The only I/O here is ``git diff`` (and the DVC pointers it names) for ``--mlgate-suite auto``:
which suite runs decides which items exist.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from pytest_mlgate.config import triggers
from pytest_mlgate.config.options import GateOptions, sequential_looks
from pytest_mlgate.config.schema import (
    GateConfig,
    MetricThreshold,
    MlgateConfig,
    ReportConfig,
    SuiteConfig,
    WandbConfig,
)
from pytest_mlgate.errors import CheckpointError, ConfigError, GitError

CHECKPOINT_ENV = "MLGATE_CHECKPOINT"


@dataclass(frozen=True)
class CheckpointSpec:
    """A checkpoint to evaluate, as the user named it."""

    role: str  #: "candidate" (the one gated); room for "reference" and "anchor"
    location: str  #: a folder (relative to ``base``) or a hub id
    origin: str  #: where it was named: --mlgate-checkpoint, $MLGATE_CHECKPOINT, [model] checkpoint
    base: Path  #: the folder a relative path is relative to


@dataclass(frozen=True)
class SuiteChoice:
    suite: SuiteConfig
    trigger: triggers.Plan | None = None  #: the trigger matrix's decision, for --mlgate-suite auto


@dataclass(frozen=True)
class StoreSpec:
    location: str  #: a folder path or a URI
    root: Path  #: the folder a relative path is relative to (and the MLflow spool's home)
    experiment: str = GateConfig.experiment  #: an MLflow store's experiment


@dataclass(frozen=True)
class BaselineSpec:
    wanted: str | None  #: --mlgate-baseline: a run id or a branch (None: the default)
    branch: str  #: [gate] baseline: the branch whose latest run is the default baseline


@dataclass(frozen=True)
class HistoryPlan:
    store: StoreSpec
    baseline: BaselineSpec
    settings: GateConfig
    report: ReportConfig


@dataclass(frozen=True)
class Outputs:
    html: Path | None
    json: Path | None
    markdown: Path | None
    metrics: Path | None = None  #: the DVC metrics file
    wandb: WandbConfig | None = None  #: the W&B project the run is logged to


@dataclass(frozen=True)
class GatePlan:
    config: MlgateConfig
    suite: SuiteChoice
    candidate: CheckpointSpec
    thresholds: tuple[MetricThreshold, ...]  #: the gated metrics selected for this run
    tasks: tuple[str, ...]  #: every task the session evaluates in its first batch
    history: HistoryPlan
    record: bool
    cache: Path | None  #: the result cache folder (None: off)
    outputs: Outputs
    cwd: Path
    #: a second checkpoint evaluated on the same documents (head to head); None: none
    reference: CheckpointSpec | None = None
    register: str | None = None  #: --mlgate-register NAME@ALIAS (or NAME with a stage)
    register_stage: str | None = None  #: --mlgate-register-stage STAGE
    card: Path | None = None  #: --mlgate-card DIR: the model card written after a passing record
    models: Path | None = None  #: where registered versions are downloaded to
    #: a sequential run's looks (fractions of the documents); None: every document at once
    looks: tuple[float, ...] | None = None

    @property
    def checkpoints(self) -> tuple[CheckpointSpec, ...]:
        """Every checkpoint the run evaluates, the candidate first."""
        return tuple(c for c in (self.candidate, self.reference) if c is not None)

    @property
    def record_hint(self) -> str:
        """The command that records a baseline for this plan's suite."""
        return f"pytest -m eval --mlgate-suite {self.suite.suite.name} --mlgate-record"


def choose_suite(config: MlgateConfig, options: GateOptions) -> SuiteChoice:
    """The named suite, or for ``auto`` the one the trigger matrix picks from what changed."""
    if options.suite != "auto":
        return SuiteChoice(config.suite(options.suite))
    ref = options.changed_from
    if not ref:
        raise ConfigError("--mlgate-suite auto needs --mlgate-changed-from REF (e.g. origin/main)")
    try:
        changed = triggers.changes_since(ref, config.root)
    except GitError as exc:
        raise ConfigError(f"--mlgate-changed-from {ref}: {exc}") from None
    decision = triggers.plan(changed, _with_checkpoint_folder(config), list(config.suites))
    return SuiteChoice(config.suite(decision.suite), decision)


def _with_checkpoint_folder(config: MlgateConfig) -> triggers.TriggerConfig:
    """The trigger config, with ``[model] checkpoint`` among the model folders when it is a
    folder inside the repository (a DVC pointer to it moves the weights)."""
    named = config.model.checkpoint
    if not named:
        return config.triggers
    folder = (config.root / named).resolve()
    try:
        relative = folder.relative_to(config.root.resolve()).as_posix()
    except ValueError:
        return config.triggers  # outside the repository, or a hub id
    if relative in ("", ".") or relative in config.triggers.model_folders:
        return config.triggers
    folders = (*config.triggers.model_folders, relative)
    return dataclasses.replace(config.triggers, model_folders=folders)


def plan_history(config: MlgateConfig | None, options: GateOptions) -> HistoryPlan:
    """Where the history is and which run is the baseline (the config's defaults when there is
    no config file: ``mlgate history --store PATH`` works anywhere)."""
    settings = config.gate if config is not None else GateConfig()
    root = options.cwd if options.store or config is None else config.root
    return HistoryPlan(
        store=StoreSpec(options.store or settings.store, root, settings.experiment),
        baseline=BaselineSpec(options.baseline, settings.baseline),
        settings=settings,
        report=config.report if config is not None else ReportConfig(),
    )


def candidate_checkpoint(config: MlgateConfig, options: GateOptions) -> CheckpointSpec:
    """--mlgate-checkpoint, then $MLGATE_CHECKPOINT (both relative to the cwd), then [model]."""
    named = (
        (options.checkpoint, "--mlgate-checkpoint", options.cwd),
        (os.environ.get(CHECKPOINT_ENV) or None, f"${CHECKPOINT_ENV}", options.cwd),
        (config.model.checkpoint, "[model] checkpoint", config.root),
    )
    for location, origin, base in named:
        if location:
            return CheckpointSpec("candidate", location, origin, base)
    raise CheckpointError(
        f"no checkpoint to evaluate: set [model] checkpoint in {config.path}, "
        f"pass --mlgate-checkpoint PATH_OR_ID, or set {CHECKPOINT_ENV}"
    )


def parse_shard(text: str | None) -> tuple[int, int] | None:
    """``--mlgate-shard K/N`` -> (K, N); ConfigError unless 1 <= K <= N."""
    if text is None:
        return None
    k, slash, n = text.partition("/")
    if not (slash and k.isdigit() and n.isdigit() and 1 <= int(k) <= int(n)):
        raise ConfigError(f"--mlgate-shard {text!r}: expected K/N with 1 <= K <= N, e.g. 2/4")
    return int(k), int(n)


def reference_checkpoint(config: MlgateConfig, options: GateOptions) -> CheckpointSpec | None:
    """--mlgate-reference (relative to the cwd), then [gate] reference (to the config)."""
    if options.reference:
        return CheckpointSpec("reference", options.reference, "--mlgate-reference", options.cwd)
    if config.gate.reference:
        return CheckpointSpec("reference", config.gate.reference, "[gate] reference", config.root)
    return None


def wandb_target(config: MlgateConfig, options: GateOptions) -> WandbConfig | None:
    """``--mlgate-wandb PROJECT`` (with ``[report] wandb``'s entity and tags), else the key."""
    configured = config.report.wandb
    if options.wandb:
        if configured is None:
            return WandbConfig(options.wandb)
        return dataclasses.replace(configured, project=options.wandb)
    return configured


def metrics_file(config: MlgateConfig, options: GateOptions) -> Path | None:
    """``--mlgate-metrics`` (relative to where the command ran), else ``[report] metrics``
    (relative to the config file)."""
    if options.metrics:
        return options.cwd / options.metrics
    if config.report.metrics:
        return config.path.parent / config.report.metrics
    return None


def models_folder(config: MlgateConfig, options: GateOptions) -> Path:
    """Where registered versions are downloaded to: the cache's models/ (also with the result
    cache off: a version never changes, a second download would be waste)."""
    cache = cache_folder(config, options) or (config.root / GateConfig.cache).resolve()
    return cache / "models"


def cache_folder(config: MlgateConfig, options: GateOptions) -> Path | None:
    """The result cache folder, or None when ``[gate] cache = ""`` or ``--mlgate-no-cache``."""
    if not config.gate.cache or options.no_cache:
        return None
    return (config.root / config.gate.cache).resolve()


def plan_gate(
    config: MlgateConfig,
    options: GateOptions,
    *,
    suite: SuiteChoice | None = None,
    thresholds: Sequence[MetricThreshold] | None = None,
    marker_tasks: Sequence[Sequence[str]] = (),
) -> GatePlan:
    """The whole plan. ``thresholds``: the gated metrics selected (default: all of the suite's);
    ``marker_tasks``: the tasks the selected ``@pytest.mark.eval`` tests ask for."""
    choice = suite or choose_suite(config, options)
    selected = (
        tuple(thresholds)
        if thresholds is not None
        else config.thresholds_for(choice.suite.all_tasks)
    )
    tasks = (*choice.suite.all_tasks, *(t for named in marker_tasks for t in named))
    try:
        looks = sequential_looks(choice.suite, config.gate, options)
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
    return GatePlan(
        config=config,
        suite=choice,
        candidate=candidate_checkpoint(config, options),
        thresholds=selected,
        tasks=tuple(dict.fromkeys(tasks)),
        history=plan_history(config, options),
        record=options.record,
        cache=cache_folder(config, options),
        outputs=Outputs(
            html=options.cwd / options.report if options.report else None,
            json=options.cwd / options.json if options.json else None,
            markdown=options.cwd / options.markdown if options.markdown else None,
            metrics=metrics_file(config, options),
            wandb=wandb_target(config, options),
        ),
        cwd=options.cwd,
        reference=reference_checkpoint(config, options),
        register=options.register,
        register_stage=options.register_stage,
        card=options.cwd / options.card if options.card else None,
        looks=looks,
        models=models_folder(config, options),
    )
