"""A history store added by one conftest.py: the ``pytest_mlgate_make_store`` hook and the
store it returns, nothing else (the store contract suite runs on it; see test_store_contract).

``jsondir://NAME`` keeps each run as two files in ``ROOT/NAME``: the record and its index entry.
It reads every entry to answer (fine for a test; a real store keeps an index)."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from pathlib import Path

from pytest_mlgate.errors import StoreError
from pytest_mlgate.gate.verdicts import GateOutcome
from pytest_mlgate.store import IndexEntry
from pytest_mlgate.store.codec import decode_entry, dumps_outcome, encode_entry, loads_outcome

SCHEME = "jsondir://"


class JsonDirStore:
    """The HistoryStore Protocol over a folder of ``RUN.json`` / ``RUN.entry.json`` pairs."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.location = f"{SCHEME}{path}"

    def append(self, outcome: GateOutcome, attachments: Mapping[str, Path] | None = None) -> None:
        self.append_entry(outcome, IndexEntry.of(outcome))

    def append_entry(self, outcome: GateOutcome, entry: IndexEntry) -> None:
        record = self.path / f"{outcome.run_id}.json"
        if record.exists():
            raise StoreError(f"{self.location}: run {outcome.run_id} is already recorded")
        self.path.mkdir(parents=True, exist_ok=True)
        record.write_text(dumps_outcome(outcome), encoding="utf-8")
        text = json.dumps(encode_entry(entry))
        (self.path / f"{outcome.run_id}.entry.json").write_text(text, encoding="utf-8")

    def _all(self) -> list[IndexEntry]:
        found = [
            decode_entry(json.loads(p.read_text(encoding="utf-8")))
            for p in self.path.glob("*.entry.json")
        ]
        return sorted(found, key=lambda e: e.key)

    def entries(self) -> list[IndexEntry]:
        return [e for e in self._all() if not e.partial]

    def get(self, run_id: str) -> IndexEntry | None:
        return next((e for e in self.entries() if e.run_id == run_id), None)

    def load(self, run_id: str) -> GateOutcome:
        record = self.path / f"{run_id}.json"
        if not record.is_file():
            raise StoreError(f"no run {run_id!r} in {self.location}")
        return loads_outcome(record.read_text(encoding="utf-8"))

    def latest(self, branch: str, tasks: Iterable[str] = ()) -> GateOutcome | None:
        wanted = set(tasks)
        on_branch = [e for e in self.entries() if e.branch == branch][::-1]
        covering = [e for e in on_branch if e.covers(wanted)] if wanted else []
        chosen = (covering or on_branch)[:1]
        return self.load(chosen[0].run_id) if chosen else None

    def last(
        self, n: int, branch: str | None = None, before: str | None = None
    ) -> list[IndexEntry]:
        runs = [e for e in self.entries() if branch is None or e.branch == branch]
        cut = next((e for e in self._all() if e.run_id == before), None)
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
        return [
            e
            for e in self.entries()
            if (commit is None or e.commit == commit)
            and (fingerprint is None or e.fingerprint == fingerprint)
            and (branch is None or e.branch == branch)
        ]


def pytest_mlgate_make_store(uri: str, root: Path) -> JsonDirStore | None:
    if not uri.startswith(SCHEME):
        return None  # not ours: the next plugin, or the built-in stores
    return JsonDirStore((root / uri[len(SCHEME) :]).resolve())
