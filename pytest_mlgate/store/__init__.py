"""Run history behind one Protocol. The default backend is a folder (``[gate] store``,
``--mlgate-store``); other backends are chosen by URI scheme (only ``file://`` is built in)."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from pytest_mlgate.errors import RecordError, StoreError
from pytest_mlgate.results import EvalRun
from pytest_mlgate.store.codec import SCHEMA_VERSION, decode_run, encode_run

# Manifest parts that readers (baseline lookup, comparability, the report) treat as objects.
MANIFEST_OBJECTS = ("git", "checkpoint", "suite", "tasks", "model", "versions", "config", "groups")


def new_run_id(now: dt.datetime | None = None) -> str:
    """Sortable by time, unique across machines: ``20261124T061500Z-3f2a9c1b``."""
    now = now or dt.datetime.now(dt.timezone.utc)
    return f"{now:%Y%m%dT%H%M%S}Z-{uuid.uuid4().hex[:8]}"


@dataclass(frozen=True)
class IndexEntry:
    """What listing and baseline lookup need, without reading the record itself."""

    run_id: str
    timestamp: str
    branch: str | None
    commit: str | None
    suite: str | None
    checkpoint: str | None
    tasks: tuple[str, ...] | None = None  # None: an entry written before tasks were indexed

    def to_json(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "timestamp": self.timestamp,
            "branch": self.branch,
            "commit": self.commit,
            "suite": self.suite,
            "checkpoint": self.checkpoint,
            "tasks": None if self.tasks is None else list(self.tasks),
        }

    def covers(self, tasks: Iterable[str]) -> bool:
        return self.tasks is not None and set(tasks) <= set(self.tasks)

    @classmethod
    def from_json(cls, data: object) -> IndexEntry:
        if not isinstance(data, Mapping) or not isinstance(data.get("run_id"), str):
            raise RecordError("index entry: expected an object with a run_id")
        if not isinstance(data.get("timestamp"), str):
            raise RecordError("index entry: expected a timestamp")

        def text(key: str) -> str | None:
            value = data.get(key)
            return value if isinstance(value, str) else None

        tasks = data.get("tasks")
        listed = tuple(str(t) for t in tasks) if isinstance(tasks, list) else None
        return cls(
            data["run_id"],
            data["timestamp"],
            text("branch"),
            text("commit"),
            text("suite"),
            text("checkpoint"),
            listed,
        )


@dataclass(frozen=True)
class RunRecord:
    """One recorded run: its manifest, its results with per-example scores, its verdicts."""

    run_id: str
    manifest: Mapping[str, Any]
    run: EvalRun
    verdicts: tuple[Mapping[str, Any], ...] = field(default_factory=tuple)

    @property
    def entry(self) -> IndexEntry:
        git = self.manifest.get("git") or {}
        checkpoint = self.manifest.get("checkpoint") or {}
        return IndexEntry(
            run_id=self.run_id,
            timestamp=str(self.manifest.get("timestamp", "")),
            branch=git.get("branch"),
            commit=git.get("commit"),
            suite=(self.manifest.get("suite") or {}).get("name"),
            checkpoint=checkpoint.get("id"),
            tasks=tuple(sorted(self.run.tasks)),
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "schema_version": SCHEMA_VERSION,
            "run_id": self.run_id,
            "manifest": dict(self.manifest),
            "verdicts": [dict(v) for v in self.verdicts],
            "tasks": encode_run(self.run),
        }

    @classmethod
    def from_json(cls, data: object) -> RunRecord:
        if not isinstance(data, Mapping):
            raise RecordError("expected a JSON object")
        version = data.get("schema_version")
        if not isinstance(version, int) or isinstance(version, bool):
            raise RecordError("schema_version: missing")
        if version > SCHEMA_VERSION:
            raise RecordError(
                f"schema_version {version} is newer than this pytest-mlgate reads "
                f"({SCHEMA_VERSION}): upgrade pytest-mlgate"
            )
        run_id, manifest = data.get("run_id"), data.get("manifest")
        if not isinstance(run_id, str) or not isinstance(manifest, Mapping):
            raise RecordError("run_id / manifest: missing")
        if not isinstance(manifest.get("timestamp"), str):
            raise RecordError("manifest.timestamp: missing")
        for part in MANIFEST_OBJECTS:
            if manifest.get(part) is not None and not isinstance(manifest[part], Mapping):
                raise RecordError(f"manifest.{part}: expected an object")
        for task, entry in (manifest.get("tasks") or {}).items():
            if not isinstance(entry, Mapping):
                raise RecordError(f"manifest.tasks.{task}: expected an object")
        for part in ("git", "checkpoint", "suite"):
            for key, value in (manifest.get(part) or {}).items():
                if not isinstance(value, (str, int, float, bool, list, type(None))):
                    raise RecordError(f"manifest.{part}.{key}: expected a plain value")
        verdicts = data.get("verdicts", [])
        if not isinstance(verdicts, list) or not all(isinstance(v, Mapping) for v in verdicts):
            raise RecordError("verdicts: expected a list of objects")
        run = decode_run(data.get("tasks"), {"run_id": run_id})
        return cls(run_id, manifest, run, tuple(verdicts))

    def dumps(self) -> str:
        return json.dumps(self.to_json(), ensure_ascii=False, allow_nan=False, sort_keys=True)


class HistoryStore(Protocol):
    """Where recorded runs live. Appends never rewrite; unreadable records are skipped."""

    location: str

    def append(self, record: RunRecord) -> None:
        """Add one run. Atomic: a reader sees all of it or none of it."""

    def entries(self) -> list[IndexEntry]:
        """Every readable run, oldest first, from the index (not by reading each record)."""

    def load(self, run_id: str) -> RunRecord:
        """One run; :class:`StoreError` if absent, :class:`RecordError` if unreadable."""

    def latest(self, branch: str, tasks: Iterable[str] = ()) -> RunRecord | None:
        """The newest readable run recorded on ``branch`` that evaluated all of ``tasks`` (so a
        full-suite PR is not compared with a fast-suite run), else the newest on ``branch``;
        None when the branch has no run."""


def open_store(location: str, root: Path) -> HistoryStore:
    """A store from ``[gate] store`` / ``--mlgate-store``: a folder path (relative to ``root``)
    or a ``file://`` URI."""
    from pytest_mlgate.store.folder import FolderStore

    if "://" in location:
        scheme, _, rest = location.partition("://")
        if scheme != "file":
            raise StoreError(
                f"store {location!r}: unsupported scheme {scheme!r} (supported: a folder path "
                "or file://PATH)"
            )
        location = rest
    return FolderStore((root / location).expanduser().resolve())
