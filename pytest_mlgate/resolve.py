"""The resolve step: a plan's specs -> real things (paths, an open store, the baseline record).

This is where the plan meets the disk and the history; nothing here evaluates a model.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from pytest_mlgate.errors import BaselineNotFound, ConfigError, MlgateError, StoreError
from pytest_mlgate.gate import Anchor, GateOutcome, power_warnings
from pytest_mlgate.manifest import git_output
from pytest_mlgate.pairing import discordance
from pytest_mlgate.plan import BaselineSpec, CheckpointSpec, GatePlan, StoreSpec
from pytest_mlgate.store import HistoryStore, open_store

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


def newest_tag(pattern: str, cwd: Path) -> tuple[str, str] | None:
    """The newest git tag matching ``pattern`` and the commit it points to (None: none)."""
    listed = git_output(["tag", "--list", pattern, "--sort=-creatordate"], cwd)
    if not listed:
        return None
    tag = listed.splitlines()[0].strip()
    commit = git_output(["rev-list", "-n", "1", tag], cwd)
    return (tag, commit) if commit else None


def run_at_commit(store: HistoryStore, commit: str, branch: str, cwd: Path) -> str | None:
    """The run recorded on ``branch`` at ``commit``, or failing that the last one recorded at
    a commit before it (an ancestor in git): the run a tag stands for."""
    at = store.find(commit=commit, branch=branch)
    if at:
        return at[-1].run_id
    for entry in reversed(store.last(ANCESTOR_SEARCH, branch)):
        if (
            entry.commit
            and git_output(["merge-base", "--is-ancestor", entry.commit, commit], cwd) is not None
        ):
            return entry.run_id
    return None


def find_anchor(
    store: HistoryStore, anchor: str, branch: str, cwd: Path
) -> tuple[Anchor | None, str | None]:
    """``[gate] anchor`` resolved: (the anchor, or None with the reason it is not compared)."""
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
    anchor, note = None, None
    if plan.history.settings.anchor is not None:
        anchor, note = find_anchor(store, plan.history.settings.anchor, spec.branch, plan.cwd)
    return ResolvedGate(
        plan,
        resolve_checkpoint(plan.candidate),
        store,
        baseline,
        tuple(warnings),
        anchor,
        () if note is None else (note,),
    )
