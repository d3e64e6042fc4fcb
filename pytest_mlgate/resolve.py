"""The resolve step: a plan's specs -> real things (paths, an open store, the baseline record).

This is where the plan meets the disk and the history; nothing here evaluates a model.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from pytest_mlgate.errors import BaselineNotFound, ConfigError, MlgateError, StoreError
from pytest_mlgate.gate import GateOutcome, discordance, power_warnings
from pytest_mlgate.plan import BaselineSpec, CheckpointSpec, GatePlan, StoreSpec
from pytest_mlgate.store import HistoryStore, open_store


@dataclass(frozen=True)
class ResolvedGate:
    """A plan with its specs resolved."""

    plan: GatePlan
    checkpoint: str  #: the candidate: an absolute folder, or the hub id as given
    store: HistoryStore
    baseline: GateOutcome | None
    power_warnings: tuple[str, ...] = ()


def resolve_checkpoint(spec: CheckpointSpec) -> str:
    """A relative folder that exists becomes absolute; anything else (a hub id) stays as named."""
    local = (spec.base / spec.location).expanduser()
    return str(local.resolve()) if local.exists() else spec.location


def open_history(spec: StoreSpec) -> HistoryStore:
    try:
        return open_store(spec.location, spec.root)
    except StoreError as exc:
        raise ConfigError(str(exc)) from None


def find_baseline(
    store: HistoryStore, spec: BaselineSpec, tasks: Iterable[str] = ()
) -> GateOutcome | None:
    """``--mlgate-baseline`` as a run id, else as a branch; by default the latest run on the
    ``[gate] baseline`` branch that evaluated ``tasks`` (None when nothing is recorded there)."""
    if spec.wanted is None:
        return store.latest(spec.branch, tasks)
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


def resolve_gate(plan: GatePlan) -> ResolvedGate:
    """Open the store, check it can take a record, find the baseline, measure its power."""
    store = open_history(plan.history.store)
    if plan.record:
        check_writable(Path(store.location))
    spec = plan.history.baseline
    try:
        baseline = find_baseline(store, spec, {t.task for t in plan.thresholds})
    except StoreError as exc:
        raise ConfigError(f"--mlgate-baseline: {exc}" if spec.wanted else str(exc)) from None
    warnings: list[str] = []
    if baseline is not None:
        previous = previous_run(store, baseline)
        flips = discordance(previous.run, baseline.run) if previous is not None else {}
        warnings = power_warnings(plan.thresholds, baseline, plan.history.settings, flips)
    return ResolvedGate(plan, resolve_checkpoint(plan.candidate), store, baseline, tuple(warnings))
