"""After the items ran: the shard's partial run written, or the run recorded and registered."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from pytest_mlgate.run.session import GateSession

from pytest_mlgate.errors import MlgateError, RecordSpooled, StoreError
from pytest_mlgate.plugin.startup import gate_options


def write_partial(session: pytest.Session, gate: GateSession) -> None:
    """Write a shard's partial run for ``mlgate merge``; a failure fails the session."""
    k, n = gate.evaluator.partial or (0, 0)
    named = gate_options(session.config).partial or f"mlgate-shard-{k}-of-{n}.json"
    path = gate.plan.cwd / named
    gate.outputs_written = True  # a shard writes no reports: the merge does
    try:
        gate.messages.append(
            gate.write_partial(path, bool(session.config.getoption("mlgate_record")))
        )
    except MlgateError as exc:
        session.testsfailed += 1
        gate.messages.append(f"partial run NOT written: {exc}")


def record(session: pytest.Session, gate: GateSession) -> None:
    """Record the run with its report files (written first, so a store that keeps them can),
    then register it when asked and it passed."""
    from pytest_mlgate.run.outputs import write_outputs

    attachments = write_outputs(gate) if gate.ran else {}
    try:
        run_id = gate.record(attachments)
    except RecordSpooled as exc:
        gate.messages.append(f"run NOT uploaded: {exc}")
        if gate.plan.register:
            gate.messages.append(f"not registered as {gate.plan.register}: the run is spooled")
        return
    except StoreError as exc:
        session.testsfailed += 1
        gate.messages.append(f"run NOT recorded: {exc}")
        return
    gate.messages.append(f"recorded run {run_id} in {gate.resolved.store.location}")
    from pytest_mlgate.manifest import missing_from_git_state  # a recording run only

    missing = missing_from_git_state(gate.manifest().git, gate.plan.cwd)
    if missing is not None:
        gate.messages.append(missing)
    if gate.plan.card is not None:
        _write_card(session, gate, gate.plan.card)
    if gate.plan.register is None:
        return
    if session.testsfailed or not gate.outcome().passed:
        gate.messages.append(f"not registered as {gate.plan.register}: the run did not pass")
        return
    try:
        gate.messages.append(gate.register())
    except MlgateError as exc:
        session.testsfailed += 1
        gate.messages.append(f"NOT registered as {gate.plan.register}: {exc}")


def _write_card(session: pytest.Session, gate: GateSession, folder: Path) -> None:
    """--mlgate-card after a recorded run: written only when it passed; a failure to write
    fails the session (the user asked for the card)."""
    if session.testsfailed or not gate.outcome().passed:
        gate.messages.append(f"model card {folder} not written: the run did not pass")
        return
    from pytest_mlgate.run.card import check_checkpoint, write_card

    try:
        check_checkpoint(folder, gate.outcome())
        gate.messages.append(write_card(folder, gate.outcome()))
    except (MlgateError, OSError) as exc:
        session.testsfailed += 1
        gate.messages.append(f"model card NOT written: {exc}")
