"""The default history store: a folder of one JSON file per run, plus an append-only index.

    .mlgate/
      index.jsonl          one small line per run (id, time, branch, commit, suite, checkpoint)
      runs/<run_id>.json   the full record, written to a temp file and renamed into place

A record is written before its index line, so an index line always points at a whole record;
a record without an index line (a crash in between) is found by listing ``runs/`` and used.
Index lines are appended with one O_APPEND write each, so two recorders at once both land.
Nothing here ever deletes or rewrites a file: an unreadable record or index line is reported
once, as an MlgateWarning naming the file, and skipped.
"""

from __future__ import annotations

import json
import os
import warnings
from collections.abc import Iterable
from pathlib import Path

from pytest_mlgate.atomic import write_atomic
from pytest_mlgate.errors import MlgateWarning, RecordError, StoreError
from pytest_mlgate.store import IndexEntry, RunRecord

INDEX = "index.jsonl"
RUNS = "runs"


class FolderStore:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.location = str(path)
        self._warned: set[str] = set()

    def _warn(self, key: str, message: str) -> None:
        if key not in self._warned:
            self._warned.add(key)
            warnings.warn(message, MlgateWarning, stacklevel=3)

    def _record_path(self, run_id: str) -> Path:
        if not run_id or "/" in run_id or "\\" in run_id or run_id.startswith("."):
            raise StoreError(f"invalid run id {run_id!r}")
        return self.path / RUNS / f"{run_id}.json"

    def append(self, record: RunRecord) -> None:
        target = self._record_path(record.run_id)
        line = (json.dumps(record.entry.to_json(), ensure_ascii=False) + "\n").encode("utf-8")
        try:
            (self.path / RUNS).mkdir(parents=True, exist_ok=True)
            if target.exists():
                raise StoreError(f"{target}: a run with id {record.run_id} is already recorded")
            write_atomic(target, record.dumps())
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
                f"cannot record run {record.run_id} in {self.path}: {exc.strerror or exc}. "
                "The history already there is untouched."
            ) from exc

    def entries(self) -> list[IndexEntry]:
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
                entry = IndexEntry.from_json(json.loads(raw))
            except (ValueError, RecordError) as exc:
                self._warn(
                    f"{index}:{number}",
                    f"{index}, line {number}: unreadable index entry skipped ({exc})",
                )
                continue
            found.setdefault(entry.run_id, entry)
        for run_id in self._record_ids() - found.keys():
            try:  # a record without an index line: a crash between the two writes
                found[run_id] = self.load(run_id).entry
            except RecordError:
                continue  # load() already warned
        return sorted(found.values(), key=lambda e: (e.timestamp, e.run_id))

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

    def load(self, run_id: str) -> RunRecord:
        path = self._record_path(run_id)
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise StoreError(f"no run {run_id!r} in {self.path}") from None
        except (OSError, UnicodeDecodeError) as exc:
            self._warn(str(path), f"{path}: unreadable history record skipped ({exc})")
            raise RecordError(f"{path}: {exc}") from exc
        try:
            record = RunRecord.from_json(json.loads(text))
            if record.run_id != run_id:
                raise RecordError(f"holds run {record.run_id!r}, not {run_id!r}")
        except (ValueError, RecordError) as exc:
            self._warn(str(path), f"{path}: unreadable history record skipped ({exc})")
            raise RecordError(f"{path}: {exc}") from exc
        return record

    def latest(self, branch: str, tasks: Iterable[str] = ()) -> RunRecord | None:
        wanted = set(tasks)
        on_branch = [e for e in reversed(self.entries()) if e.branch == branch]
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
