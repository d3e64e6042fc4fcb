"""The resolve step: a plan's specs -> real things (paths, an open store, the baseline record).

This is where the plan meets the disk and the history; nothing here evaluates a model.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from pytest_mlgate.config.options import GateOptions
from pytest_mlgate.config.schema import MlgateConfig
from pytest_mlgate.errors import (
    BaselineNotFound,
    ConfigError,
    HistoryUnreachable,
    MlgateError,
    NoTrackingUri,
    StoreError,
    StoreUnreachable,
)
from pytest_mlgate.gate.pairing import discordance
from pytest_mlgate.gate.power import ComparisonPower, plan_power
from pytest_mlgate.gate.verdicts import Anchor, GateOutcome
from pytest_mlgate.manifest import git_output

if TYPE_CHECKING:
    import pluggy

from pytest_mlgate.run.plan import (
    BaselineSpec,
    CheckpointSpec,
    GatePlan,
    StoreSpec,
    candidate_checkpoint,
    models_folder,
    plan_history,
)
from pytest_mlgate.store import FolderStore, HistoryStore, open_store
from pytest_mlgate.store.protocol import EmptyStore

MODELS_URI = "models:/"

# How many runs back on the baseline branch a tag's commit is looked for among ancestors.
ANCESTOR_SEARCH = 200


@dataclass(frozen=True)
class ResolvedGate:
    """A plan with its specs resolved."""

    plan: GatePlan
    checkpoint: str  #: the candidate: an absolute folder, or the hub id as given
    store: HistoryStore
    baseline: GateOutcome | None
    power_warnings: tuple[str, ...] = ()
    anchor: Anchor | None = None
    notes: tuple[str, ...] = ()  #: what the resolve step decided, for the summary
    reference: str | None = None  #: the reference checkpoint, resolved like the candidate
    #: the planned power of every 0/1 comparison against the baseline (``gate.power``)
    power: tuple[ComparisonPower, ...] = ()


def resolve_checkpoint(
    spec: CheckpointSpec, store: HistoryStore | None = None, models: Path | None = None
) -> str:
    """A relative folder that exists becomes absolute; ``models:/NAME@ALIAS`` (or
    ``/VERSION``) is downloaded from the registry of ``store`` into ``models`` (once: a version
    never changes); anything else (a hub id) stays as named."""
    if spec.location.startswith(MODELS_URI):
        from pytest_mlgate.store.mlflow import registry

        if store is None or models is None:
            raise ConfigError(f"{spec.origin} {spec.location}: needs the MLflow store's registry")
        mlflow = registry.mlflow_store(store, f"{spec.origin} {spec.location}")
        return str(registry.fetch(mlflow, registry.find_version(mlflow, spec.location), models))
    local = (spec.base / spec.location).expanduser()
    return str(local.resolve()) if local.exists() else spec.location


def candidate_location(config: MlgateConfig, options: GateOptions) -> str:
    """The candidate checkpoint resolved (a registered version downloaded), before the gate's
    other I/O: the evaluator needs it at collection for subgroup counts."""
    spec = candidate_checkpoint(config, options)
    if not spec.location.startswith(MODELS_URI):
        return resolve_checkpoint(spec)
    try:
        store = open_history(plan_history(config, options).store)
        return resolve_checkpoint(spec, store, models_folder(config, options))
    except StoreUnreachable as exc:
        raise HistoryUnreachable(f"{exc}: {spec.location} cannot be fetched") from None


def open_history(
    spec: StoreSpec, recording: bool = True, plugins: pluggy.PluginManager | None = None
) -> HistoryStore:
    """The store (made through ``plugins``' ``pytest_mlgate_make_store`` when given); an MLflow
    store without a tracking URI is an error when recording (exit 4), else an empty history:
    the run gates its thresholds only."""
    try:
        return open_store(spec.location, spec.root, spec.experiment, plugins)
    except NoTrackingUri as exc:
        if recording:
            raise
        return EmptyStore(f"{exc}".partition(" (")[0])
    except StoreError as exc:
        raise ConfigError(str(exc)) from None


def find_baseline(
    store: HistoryStore, spec: BaselineSpec, tasks: Iterable[str] = ()
) -> GateOutcome | None:
    """``--mlgate-baseline`` as a run id, else as a branch; by default the latest run on the
    ``[gate] baseline`` branch that evaluated ``tasks`` (None when nothing is recorded there)."""
    if spec.wanted is None:
        return store.latest(spec.branch, tasks)
    if spec.wanted.startswith(MODELS_URI):
        if isinstance(store, EmptyStore):
            return None  # no tracking URI: thresholds only
        return registered_run(store, spec.wanted, "--mlgate-baseline", tasks)
    if store.get(spec.wanted) is not None:
        return store.load(spec.wanted)
    found = store.latest(spec.wanted, tasks)
    if found is None:
        entries = store.entries()
        branches = sorted({e.branch for e in entries if e.branch})
        raise BaselineNotFound(
            f"--mlgate-baseline {spec.wanted!r}: no recorded run or branch by that name in "
            f"{store.location} ({len(entries)} runs; branches: "
            f"{', '.join(branches) or 'none'}). `mlgate history` lists them."
        )
    return found


def registered_run(
    store: HistoryStore, uri: str, origin: str, tasks: Iterable[str] = ()
) -> GateOutcome:
    """The latest complete gate run of a registered version (by its fingerprint)."""
    from pytest_mlgate.store.mlflow import registry

    mlflow = registry.mlflow_store(store, f"{origin} {uri}")
    version = registry.find_version(mlflow, uri)
    return registry.version_runs(mlflow, version, tasks)


def previous_run(store: HistoryStore, baseline: GateOutcome) -> GateOutcome | None:
    """The run recorded before ``baseline`` on its branch (None when there is none to read)."""
    branch = baseline.manifest.git.branch
    if branch is None:
        return None
    before = store.last(1, branch, before=baseline.run_id)
    if not before:
        return None
    try:
        return store.load(before[-1].run_id)
    except MlgateError:
        return None


def newest_tag(pattern: str, cwd: Path) -> tuple[str, str] | None:
    """The newest git tag matching ``pattern`` and the commit it points to (None: none)."""
    listed = git_output(["tag", "--list", pattern, "--sort=-creatordate"], cwd)
    if not listed:
        return None
    tag = listed.splitlines()[0].strip()
    commit = git_output(["rev-list", "-n", "1", tag], cwd)
    return (tag, commit) if commit else None


def run_at_commit(store: HistoryStore, commit: str, branch: str, cwd: Path) -> str | None:
    """The run a tag stands for: the first complete run recorded on ``branch`` at ``commit``,
    or failing that the first one at the nearest commit before it (an ancestor in git). The
    first, not the newest: runs recorded later at the same commit (a checkpoint updated from
    outside) must not move the anchor."""
    at = store.find(commit=commit, branch=branch)
    if at:
        return at[0].run_id
    for entry in reversed(store.last(ANCESTOR_SEARCH, branch)):
        if (
            entry.commit
            and git_output(["merge-base", "--is-ancestor", entry.commit, commit], cwd) is not None
        ):
            first = store.find(commit=entry.commit, branch=branch)
            return first[0].run_id if first else entry.run_id
    return None


def find_anchor(
    store: HistoryStore, anchor: str, branch: str, cwd: Path
) -> tuple[Anchor | None, str | None]:
    """``[gate] anchor`` resolved: (the anchor, or None with the reason it is not compared)."""
    if anchor.startswith(MODELS_URI):
        outcome = registered_run(store, anchor, "[gate] anchor")
        return Anchor(outcome, anchor), None
    if not anchor.startswith("tag:"):
        if store.get(anchor) is None:
            raise ConfigError(
                f"[gate] anchor = {anchor!r}: no recorded run by that id in {store.location}; "
                "`mlgate history` lists them"
            )
        return Anchor(store.load(anchor), anchor), None
    pattern = anchor[len("tag:") :]
    tag = newest_tag(pattern, cwd)
    if tag is None:
        return None, f"no git tag matches {pattern!r} yet: the anchor {anchor!r} is not compared"
    run_id = run_at_commit(store, tag[1], branch, cwd)
    if run_id is None:
        return None, (
            f"no run recorded on {branch!r} at or before tag {tag[0]} ({tag[1][:10]}): the anchor "
            f"{anchor!r} is not compared until one is"
        )
    return Anchor(store.load(run_id), tag[0]), None


def check_writable(folder: Path) -> None:
    """--mlgate-record into a folder that cannot take it is a usage error before any eval."""
    existing = folder
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not os.access(existing, os.W_OK) or not existing.is_dir():
        raise ConfigError(
            f"--mlgate-record: the history store {folder} is not writable "
            f"({existing} {'is not a folder' if not existing.is_dir() else 'is read-only'})"
        )


def resolve_gate(plan: GatePlan, plugins: pluggy.PluginManager | None = None) -> ResolvedGate:
    """Open the store, check it can take a record, fetch registered checkpoints, find the
    baseline (and anchor), measure its power. A history server that does not answer is exit 4,
    naming it: a gate without its baseline would pass what it cannot compare."""
    try:
        return _resolve_gate(plan, plugins)
    except StoreUnreachable as exc:
        raise HistoryUnreachable(
            f"{exc}. The baseline cannot be looked up; no eval was run (check the server, or "
            "gate on thresholds alone with --mlgate-store pointing at an empty folder)"
        ) from None


def check_register(plan: GatePlan, store: HistoryStore) -> None:
    """--mlgate-register needs a recorded run in an MLflow store."""
    if plan.register is None:
        if plan.register_stage is not None:
            raise ConfigError(
                f"--mlgate-register-stage {plan.register_stage}: name the model with "
                "--mlgate-register NAME"
            )
        return
    from pytest_mlgate.store.mlflow import registry

    registry.check_register_target(plan.register, plan.register_stage)
    if not plan.record:
        raise ConfigError("--mlgate-register registers a recorded run: add --mlgate-record")
    registry.mlflow_store(store, f"--mlgate-register {plan.register}")


def _resolve_gate(plan: GatePlan, plugins: pluggy.PluginManager | None) -> ResolvedGate:
    store = open_history(plan.history.store, plan.record, plugins)
    notes: list[str] = []
    if isinstance(store, EmptyStore):
        notes.append(f"{store.location}: gated on thresholds only (no baseline, anchor or record)")
    check_register(plan, store)
    if plan.card is not None and not plan.record:
        raise ConfigError("--mlgate-card writes a recorded run's card: add --mlgate-record")
    if plan.record and isinstance(store, FolderStore):
        check_writable(store.path)
    checkpoint = resolve_checkpoint(plan.candidate, store, plan.models)
    reference = (
        None if plan.reference is None else resolve_checkpoint(plan.reference, store, plan.models)
    )
    spec = plan.history.baseline
    try:
        baseline = find_baseline(store, spec, {t.task for t in plan.thresholds})
    except StoreUnreachable:
        raise
    except StoreError as exc:
        raise ConfigError(f"--mlgate-baseline: {exc}" if spec.wanted else str(exc)) from None
    power: list[ComparisonPower] = []
    if baseline is not None:
        previous = previous_run(store, baseline)
        flips = discordance(previous.run, baseline.run) if previous is not None else {}
        power = plan_power(
            plan.thresholds,
            baseline,
            plan.history.settings,
            flips,
            reference=plan.reference is not None,
        )
    warnings = [c.message() for c in power if c.weak]
    anchor, note = None, None
    if plan.history.settings.anchor is not None and not isinstance(store, EmptyStore):
        anchor, note = find_anchor(store, plan.history.settings.anchor, spec.branch, plan.cwd)
    return ResolvedGate(
        plan,
        checkpoint,
        store,
        baseline,
        tuple(warnings),
        anchor,
        (*notes, *(() if note is None else (note,))),
        reference,
        tuple(power),
    )
