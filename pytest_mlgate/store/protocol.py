"""The history store's Protocol and its index entries: what every backend answers."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from pytest_mlgate.errors import StoreError
from pytest_mlgate.gate.verdicts import GateOutcome


def new_run_id(now: dt.datetime | None = None) -> str:
    """Sortable by time, unique across machines: ``20261124T061500Z-3f2a9c1b``."""
    now = now or dt.datetime.now(dt.timezone.utc)
    return f"{now:%Y%m%dT%H%M%S}Z-{uuid.uuid4().hex[:8]}"


EARLIEST = dt.datetime.min.replace(tzinfo=dt.timezone.utc)


def recorded_at(timestamp: str) -> dt.datetime:
    """A record's ISO 8601 timestamp as an aware instant (UTC when it names no offset; the
    earliest instant when unreadable, so such a record sorts first instead of breaking a list)."""
    try:
        when = dt.datetime.fromisoformat(timestamp.replace("Z", "+00:00"))
    except ValueError:
        return EARLIEST
    return when if when.tzinfo is not None else when.replace(tzinfo=dt.timezone.utc)


@dataclass(frozen=True)
class IndexEntry:
    """What listing and lookups need, without reading the record itself."""

    run_id: str
    timestamp: str
    branch: str | None
    commit: str | None
    suite: str | None
    checkpoint: str | None
    tasks: tuple[str, ...] | None = None  #: None: an entry written before tasks were indexed
    fingerprint: str | None = None  #: the checkpoint's (None: an entry written before 0.2)
    status: str | None = None  #: "pass", "warn" or "fail": the run's overall verdict
    partial: bool = False  #: a shard's partial run: never a baseline, never listed as a run

    @property
    def key(self) -> tuple[dt.datetime, str]:
        """The order of the history: recording time to the microsecond (read as an instant, so
        offsets and the second-resolution timestamps of older records compare rightly), then
        the run id. Never the id's random part before the time."""
        return (recorded_at(self.timestamp), self.run_id)

    def covers(self, tasks: Iterable[str]) -> bool:
        """Whether the run evaluated every one of ``tasks`` (unknown for an old entry: no)."""
        return self.tasks is not None and set(tasks) <= set(self.tasks)

    @classmethod
    def of(cls, outcome: GateOutcome, partial: bool = False) -> IndexEntry:
        manifest = outcome.manifest
        statuses = {v.status.value for v in outcome.verdicts}
        status = next((s for s in ("fail", "warn", "pass") if s in statuses), None)
        return cls(
            run_id=outcome.run_id,
            timestamp=manifest.timestamp,
            branch=manifest.git.branch,
            commit=manifest.git.commit,
            suite=manifest.suite.name or None,
            checkpoint=manifest.checkpoint.id or None,
            tasks=tuple(sorted(outcome.run.tasks)),
            fingerprint=manifest.checkpoint.fingerprint or None,
            status=status,
            partial=partial,
        )


class HistoryStore(Protocol):
    """Where recorded runs live. Appends never rewrite; unreadable records are skipped.

    Every query leaves partial (shard) runs out and answers from the store's index, never by
    reading every record. Lists are oldest first.
    """

    location: str

    def append(self, outcome: GateOutcome, attachments: Mapping[str, Path] | None = None) -> None:
        """Add one run (with its report files, ``attachments`` by name, where the store keeps
        them). Atomic: a reader sees all of it or none of it."""

    def append_entry(self, outcome: GateOutcome, entry: IndexEntry) -> None:
        """Add one run under an index entry the caller made (a shard's partial run:
        ``IndexEntry.of(outcome, partial=True)``, never a baseline). Atomic like ``append``."""

    def entries(self) -> list[IndexEntry]:
        """Every readable run."""

    def get(self, run_id: str) -> IndexEntry | None:
        """The index entry of one run, or None."""

    def load(self, run_id: str) -> GateOutcome:
        """One run; :class:`StoreError` if absent, :class:`RecordError` if unreadable."""

    def latest(self, branch: str, tasks: Iterable[str] = ()) -> GateOutcome | None:
        """The newest readable run recorded on ``branch`` that evaluated all of ``tasks`` (so a
        full-suite PR is not compared with a fast-suite run), else the newest on ``branch``;
        None when the branch has no run."""

    def last(
        self, n: int, branch: str | None = None, before: str | None = None
    ) -> list[IndexEntry]:
        """The last ``n`` runs (on ``branch``, or on any), recorded before run ``before`` when
        that run is in the store."""

    def find(
        self,
        *,
        commit: str | None = None,
        fingerprint: str | None = None,
        branch: str | None = None,
    ) -> list[IndexEntry]:
        """The runs of a git commit (a tag resolves to one) and/or a checkpoint fingerprint."""


class EmptyStore:
    """No history at all: an MLflow store without a tracking URI on a run that does not record
    (a fork PR gets no secrets). Every query is empty; nothing can be appended."""

    def __init__(self, why: str) -> None:
        self.location = f"no history ({why})"

    def append(self, outcome: GateOutcome, attachments: Mapping[str, Path] | None = None) -> None:
        raise StoreError(f"cannot record: {self.location}")

    def append_entry(self, outcome: GateOutcome, entry: IndexEntry) -> None:
        raise StoreError(f"cannot record: {self.location}")

    def entries(self) -> list[IndexEntry]:
        return []

    def get(self, run_id: str) -> IndexEntry | None:
        return None

    def load(self, run_id: str) -> GateOutcome:
        raise StoreError(f"no run {run_id!r}: {self.location}")

    def latest(self, branch: str, tasks: Iterable[str] = ()) -> GateOutcome | None:
        return None

    def last(
        self, n: int, branch: str | None = None, before: str | None = None
    ) -> list[IndexEntry]:
        return []

    def find(
        self,
        *,
        commit: str | None = None,
        fingerprint: str | None = None,
        branch: str | None = None,
    ) -> list[IndexEntry]:
        return []
