"""The default history store: a folder of one JSON file per run, plus an append-only index.

    .mlgate/
      index.jsonl          one small line per run (id, time, branch, commit, suite, checkpoint...)
      runs/<run_id>.json   the full record, written to a temp file and renamed into place

A record is written before its index line, so an index line always points at a whole record;
a record without an index line (a crash in between) is found by listing ``runs/`` and used.
Index lines are appended with one O_APPEND write each, so two recorders at once both land.
Nothing here ever deletes or rewrites a file: an unreadable record or index line is reported
once, as a :class:`SkippedRecordWarning` naming the file, and skipped.

Queries are answered from the index, read once and held in memory (by id, by branch, by commit,
by fingerprint); it is read again only when the index file changed.
"""

from __future__ import annotations

import json
import os
import warnings
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from pytest_mlgate.atomic import write_atomic
from pytest_mlgate.errors import RecordError, SkippedRecordWarning, StoreError
from pytest_mlgate.gate.verdicts import GateOutcome
from pytest_mlgate.store.codec import decode_entry, dumps_outcome, encode_entry, loads_outcome
from pytest_mlgate.store.protocol import IndexEntry

INDEX = "index.jsonl"
RUNS = "runs"


@dataclass
class _Index:
    """The index in memory: complete runs in history order, and lookups into them."""

    stamp: tuple[int, int] | None  # (size, mtime) of index.jsonl when read
    ordered: list[IndexEntry] = field(default_factory=list)
    by_id: dict[str, IndexEntry] = field(default_factory=dict)
    by_branch: dict[str | None, list[IndexEntry]] = field(default_factory=lambda: defaultdict(list))
    by_commit: dict[str, list[IndexEntry]] = field(default_factory=lambda: defaultdict(list))
    by_fingerprint: dict[str, list[IndexEntry]] = field(default_factory=lambda: defaultdict(list))

    @classmethod
    def of(cls, stamp: tuple[int, int] | None, entries: Iterable[IndexEntry]) -> _Index:
        index = cls(stamp)
        index.ordered = sorted(entries, key=lambda e: e.key)
        for entry in index.ordered:
            index.by_id[entry.run_id] = entry
            if entry.partial:
                continue
            index.by_branch[entry.branch].append(entry)
            if entry.commit:
                index.by_commit[entry.commit].append(entry)
            if entry.fingerprint:
                index.by_fingerprint[entry.fingerprint].append(entry)
        return index


class FolderStore:
    """The default history store: ``runs/RUN_ID.json`` per run and an append-only ``index.jsonl``
    (a folder in the repository, or a git branch of one: ``mlgate history publish``)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.location = str(path)
        self._warned: set[str] = set()
        self._index: _Index | None = None

    def _warn(self, key: str, message: str) -> None:
        if key not in self._warned:
            self._warned.add(key)
            warnings.warn(message, SkippedRecordWarning, stacklevel=3)

    def _record_path(self, run_id: str) -> Path:
        if not run_id or "/" in run_id or "\\" in run_id or run_id.startswith("."):
            raise StoreError(f"invalid run id {run_id!r}")
        return self.path / RUNS / f"{run_id}.json"

    # -- writing -----------------------------------------------------------------------------
    def append(self, outcome: GateOutcome, attachments: Mapping[str, Path] | None = None) -> None:
        """Record ``outcome`` (a folder store keeps records only: ``attachments`` stay where
        the run wrote them)."""
        self.append_entry(outcome, IndexEntry.of(outcome))

    def append_entry(self, outcome: GateOutcome, entry: IndexEntry) -> None:
        """Write ``outcome`` under its own index entry (a partial run's says so)."""
        target = self._record_path(outcome.run_id)
        line = (json.dumps(encode_entry(entry), ensure_ascii=False) + "\n").encode("utf-8")
        try:
            (self.path / RUNS).mkdir(parents=True, exist_ok=True)
            if target.exists():
                raise StoreError(f"{target}: a run with id {outcome.run_id} is already recorded")
            write_atomic(target, dumps_outcome(outcome))
            fd = os.open(self.path / INDEX, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
            try:
                written = os.write(fd, line)
                if written != len(line):
                    raise OSError(f"short write to the index ({written} of {len(line)} bytes)")
                os.fsync(fd)
            finally:
                os.close(fd)
        except OSError as exc:
            raise StoreError(
                f"cannot record run {outcome.run_id} in {self.path}: {exc.strerror or exc}. "
                "The history already there is untouched."
            ) from exc

    # -- the index ---------------------------------------------------------------------------
    def _current(self) -> _Index:
        index_file = self.path / INDEX
        try:
            info = index_file.stat()
            stamp: tuple[int, int] | None = (info.st_size, info.st_mtime_ns)
        except FileNotFoundError:
            stamp = None
        except OSError as exc:
            raise StoreError(f"{index_file}: cannot be read: {exc.strerror or exc}") from exc
        if self._index is None or self._index.stamp != stamp:
            self._index = _Index.of(stamp, self._read_entries())
        return self._index

    def _read_entries(self) -> list[IndexEntry]:
        found: dict[str, IndexEntry] = {}
        index = self.path / INDEX
        try:
            lines = index.read_bytes().split(b"\n")
        except FileNotFoundError:
            lines = []
        except OSError as exc:
            raise StoreError(f"{index}: cannot be read: {exc.strerror or exc}") from exc
        for number, raw in enumerate(lines, start=1):
            if not raw.strip():
                continue
            try:
                entry = decode_entry(json.loads(raw))
            except (ValueError, RecordError) as exc:
                self._warn(
                    f"{index}:{number}",
                    f"{index}, line {number}: unreadable index entry skipped ({exc})",
                )
                continue
            found.setdefault(entry.run_id, entry)
        for run_id in self._record_ids() - found.keys():
            try:  # a record without an index line: a crash between the two writes
                found[run_id] = IndexEntry.of(self.load(run_id))
            except RecordError:
                continue  # load() already warned
        return list(found.values())

    def _record_ids(self) -> set[str]:
        try:
            with os.scandir(self.path / RUNS) as listing:
                return {
                    entry.name[: -len(".json")]
                    for entry in listing
                    if entry.name.endswith(".json") and not entry.name.startswith(".")
                }
        except FileNotFoundError:
            return set()

    # -- queries -----------------------------------------------------------------------------
    def entries(self) -> list[IndexEntry]:
        """Every readable run (partial runs left out), oldest first."""
        return [e for e in self._current().ordered if not e.partial]

    def get(self, run_id: str) -> IndexEntry | None:
        """The index entry of run ``run_id``, or None (a partial run is None too)."""
        entry = self._current().by_id.get(run_id)
        return None if entry is None or entry.partial else entry

    def load(self, run_id: str) -> GateOutcome:
        """Run ``run_id``'s record; StoreError if absent, RecordError (warned) if unreadable."""
        path = self._record_path(run_id)
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise StoreError(f"no run {run_id!r} in {self.path}") from None
        except (OSError, UnicodeDecodeError) as exc:
            self._warn(str(path), f"{path}: unreadable history record skipped ({exc})")
            raise RecordError(f"{path}: {exc}") from exc
        try:
            outcome = loads_outcome(text)
            if outcome.run_id != run_id:
                raise RecordError(f"holds run {outcome.run_id!r}, not {run_id!r}")
        except RecordError as exc:
            self._warn(str(path), f"{path}: unreadable history record skipped ({exc})")
            raise RecordError(f"{path}: {exc}") from exc
        return outcome

    def latest(self, branch: str, tasks: Iterable[str] = ()) -> GateOutcome | None:
        """The newest readable run on ``branch`` that evaluated ``tasks``, else the newest there."""
        wanted = set(tasks)
        on_branch = self._current().by_branch.get(branch, [])[::-1]
        covering = [e for e in on_branch if e.covers(wanted)] if wanted else []
        for entry in covering or on_branch:
            try:
                return self.load(entry.run_id)
            except RecordError:
                continue  # warned; fall back to the run before it
            except StoreError:  # indexed, but its file is gone (deleted by hand, a bad sync)
                self._warn(
                    entry.run_id,
                    f"{self.path}: run {entry.run_id} is indexed but its "
                    "record file is missing; skipped",
                )
                continue
        return None

    def last(
        self, n: int, branch: str | None = None, before: str | None = None
    ) -> list[IndexEntry]:
        """The last ``n`` runs (on ``branch``), recorded before run ``before`` when it is here."""
        index = self._current()
        runs = index.by_branch.get(branch, []) if branch is not None else self.entries()
        cut = index.by_id.get(before) if before is not None else None
        if cut is not None:
            runs = [e for e in runs if e.key < cut.key]
        return runs[-n:] if n > 0 else []

    def find(
        self,
        *,
        commit: str | None = None,
        fingerprint: str | None = None,
        branch: str | None = None,
    ) -> list[IndexEntry]:
        """The runs of a commit and/or a checkpoint fingerprint (on ``branch``), from the index."""
        index = self._current()
        if commit is not None:
            found = index.by_commit.get(commit, [])
        elif fingerprint is not None:
            found = index.by_fingerprint.get(fingerprint, [])
        else:
            found = self.entries()
        return [
            e
            for e in found
            if (fingerprint is None or e.fingerprint == fingerprint)
            and (branch is None or e.branch == branch)
        ]
