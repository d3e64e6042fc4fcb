"""The history store: compact round trip, concurrent recorders, corruption never loses history."""

from __future__ import annotations

import dataclasses
import json
import multiprocessing
import os
import warnings
from pathlib import Path
from typing import Any

import pytest

from pytest_mlgate.errors import RecordError, SkippedRecordWarning, StoreError
from pytest_mlgate.gate.verdicts import GateOutcome
from pytest_mlgate.results import EvalRun, MetricResult, TaskResult
from pytest_mlgate.store import IndexEntry, new_run_id, open_store
from pytest_mlgate.store.codec import dumps_outcome
from pytest_mlgate.store.folder import FolderStore
from tests.outcomes import outcome


def make_run(accuracy: list[float], f1: list[float] | None = None) -> EvalRun:
    ids = tuple(range(len(accuracy)))
    metrics = {
        "acc,none": MetricResult(
            "t",
            "acc,none",
            sum(accuracy) / len(accuracy),
            0.01,
            len(accuracy),
            True,
            ids,
            tuple(accuracy),
        ),
    }
    if f1 is not None:
        metrics["f1,none"] = MetricResult(
            "t", "f1,none", sum(f1) / len(f1), None, len(f1), True, ids, tuple(f1)
        )
    hashes = {i: f"{i:064x}" for i in ids}
    return EvalRun({"t": TaskResult("t", metrics, len(accuracy), "1.0", 0, "abc", hashes)})


def make_record(
    branch: str = "main",
    timestamp: str = "2026-11-24T06:00:00+00:00",
    accuracy: list[float] | None = None,
) -> GateOutcome:
    return outcome(
        new_run_id(),
        make_run(accuracy or [1.0, 0.0, 1.0]),
        timestamp=timestamp,
        branch=branch,
        commit="c0ffee",
        suite="fast",
        checkpoint="ckpt",
    )


def test_round_trip_keeps_per_example_scores_and_hashes(tmp_path: Path) -> None:
    store = FolderStore(tmp_path)
    run = make_run([1.0, 0.0] * 50, [0.25, 0.5] * 50)
    record = outcome(new_run_id(), run, timestamp="2026-01-01T00:00:00+00:00")
    store.append(record)
    loaded = store.load(record.run_id).run
    task, original = loaded["t"], run["t"]
    assert task.metric("acc").scores == original.metric("acc").scores
    assert task.metric("f1").scores == pytest.approx(original.metric("f1").scores)
    assert task.doc_hashes == {i: h[:16] for i, h in original.doc_hashes.items()}
    assert task.metric("acc").doc_ids == tuple(range(100))
    text = (tmp_path / "runs" / f"{record.run_id}.json").read_text()
    as_lists = json.dumps(
        [list(original.doc_hashes.values()), list(range(100)), [1.0, 0.0] * 50, [0.25, 0.5] * 50]
    )
    assert len(text) < len(as_lists) / 2  # bits, float32 and 64-bit hashes, not JSON lists


def count_loads(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The ids of the records FolderStore reads from now on."""
    loads: list[str] = []
    original = FolderStore.load

    def counting_load(self: FolderStore, run_id: str) -> GateOutcome:
        loads.append(run_id)
        return original(self, run_id)

    monkeypatch.setattr(FolderStore, "load", counting_load)
    return loads


def test_latest_is_per_branch_and_newest(tmp_path: Path) -> None:
    store = FolderStore(tmp_path)
    old = make_record("main", "2026-11-20T00:00:00+00:00")
    new = make_record("main", "2026-11-23T00:00:00+00:00")
    other = make_record("feature", "2026-11-24T00:00:00+00:00")
    for record in (new, other, old):
        store.append(record)
    latest = store.latest("main")
    assert latest is not None
    assert latest.run_id == new.run_id
    assert store.latest("release") is None
    assert [e.run_id for e in store.entries()] == [old.run_id, new.run_id, other.run_id]


def test_baseline_lookup_reads_the_index_not_every_record(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = FolderStore(tmp_path)
    for day in range(1, 30):
        store.append(make_record("main", f"2026-11-{day:02d}T00:00:00+00:00"))
    loads = count_loads(monkeypatch)
    assert store.latest("main") is not None
    assert len(loads) == 1


ROUNDS = 10


def _record_in_lockstep(path: str, branch: str, barrier: Any, seen: Any) -> None:
    """Record ROUNDS runs, each time stopping inside the critical window (the record file
    written, its index line not yet) until the other writer is inside it too; there, say how
    many records and index lines the folder holds."""
    from pytest_mlgate.store import folder as folder_module

    real_write = folder_module.write_atomic  # type: ignore[attr-defined]

    def write_then_meet(target: Path, text: str) -> None:
        real_write(target, text)
        barrier.wait(timeout=120)  # both writers are between their two writes now
        records = len(list((Path(path) / "runs").glob("*.json")))
        index = Path(path) / "index.jsonl"
        lines = len(index.read_text().splitlines()) if index.exists() else 0
        seen.put((branch, records, lines))
        barrier.wait(timeout=120)  # both have looked before either appends its line

    setattr(folder_module, "write_atomic", write_then_meet)  # noqa: B010 (a private name)
    store = FolderStore(Path(path))
    for _ in range(ROUNDS):
        store.append(make_record(branch))


def test_two_recorders_inside_the_critical_window_at_once_both_land(tmp_path: Path) -> None:
    """Two processes whose appends overlap every time (each waits for the other between
    writing its record and appending its index line): nothing torn, nothing lost."""
    context = multiprocessing.get_context("spawn")
    barrier, seen = context.Barrier(2), context.Queue()
    workers = [
        context.Process(target=_record_in_lockstep, args=(str(tmp_path), branch, barrier, seen))
        for branch in ("main", "nightly")
    ]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=300)
        assert worker.exitcode == 0
    observed = sorted(seen.get(timeout=10) for _ in range(2 * ROUNDS))
    # Round r: both records of the round written, only the earlier rounds' lines indexed,
    # seen by both writers: the windows overlapped, every round.
    expected = sorted((b, 2 * (r + 1), 2 * r) for b in ("main", "nightly") for r in range(ROUNDS))
    assert observed == expected
    store = FolderStore(tmp_path)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # not one torn line or half-written record
        entries = store.entries()
        assert len(entries) == 2 * ROUNDS
        assert [e.branch for e in entries].count("main") == ROUNDS
        for entry in entries:
            store.load(entry.run_id)
    assert len((tmp_path / "index.jsonl").read_text().splitlines()) == 2 * ROUNDS


def test_truncated_record_warns_once_is_skipped_and_left_alone(tmp_path: Path) -> None:
    store = FolderStore(tmp_path)
    good = make_record("main", "2026-11-01T00:00:00+00:00")
    broken = make_record("main", "2026-11-02T00:00:00+00:00")
    store.append(good)
    store.append(broken)
    path = tmp_path / "runs" / f"{broken.run_id}.json"
    path.write_bytes(path.read_bytes()[:100])
    before = path.read_bytes()
    with pytest.warns(
        SkippedRecordWarning, match=rf"{broken.run_id}\.json: unreadable history record"
    ):
        latest = store.latest("main")
    assert latest is not None
    assert latest.run_id == good.run_id  # fell back to the run before it
    assert path.read_bytes() == before  # never deleted or rewritten
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        store.latest("main")  # one warning per file, not one per lookup


def test_garbage_file_and_torn_index_line_are_skipped(tmp_path: Path) -> None:
    store = FolderStore(tmp_path)
    kept = make_record()
    store.append(kept)
    (tmp_path / "runs" / "garbage.json").write_bytes(os.urandom(64))
    with (tmp_path / "index.jsonl").open("ab") as index:
        index.write(b'{"run_id": "half-writ')  # a crash mid-append
    with pytest.warns(SkippedRecordWarning) as caught:
        entries = store.entries()
    messages = " | ".join(str(w.message) for w in caught)
    assert "index.jsonl, line 2: unreadable index entry" in messages
    assert "garbage.json: unreadable history record" in messages
    assert [e.run_id for e in entries] == [kept.run_id]


def test_record_without_index_line_is_still_found(tmp_path: Path) -> None:
    store = FolderStore(tmp_path)
    first, orphan = make_record(), make_record("main", "2026-12-01T00:00:00+00:00")
    store.append(first)
    (tmp_path / "runs" / f"{orphan.run_id}.json").write_text(
        dumps_outcome(orphan)
    )  # crash before index
    latest = store.latest("main")
    assert latest is not None
    assert latest.run_id == orphan.run_id


def test_newer_schema_is_reported_not_misread(tmp_path: Path) -> None:
    store = FolderStore(tmp_path)
    record = make_record()
    store.append(record)
    path = tmp_path / "runs" / f"{record.run_id}.json"
    path.write_text(path.read_text().replace('"schema_version": 1', '"schema_version": 99'))
    with (
        pytest.warns(SkippedRecordWarning),
        pytest.raises(RecordError, match="upgrade pytest-mlgate"),
    ):
        store.load(record.run_id)


def test_unwritable_store_raises_and_keeps_history(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = FolderStore(tmp_path / "history")
    first = make_record()
    store.append(first)

    def denied(*args: object, **kwargs: object) -> tuple[int, str]:
        raise PermissionError(13, "Permission denied")  # what a read-only folder answers

    monkeypatch.setattr("tempfile.mkstemp", denied)
    with pytest.raises(StoreError, match=r"cannot record run .*Permission denied.*untouched"):
        store.append(make_record())
    monkeypatch.undo()
    assert [e.run_id for e in store.entries()] == [first.run_id]


def test_full_disk_during_write_loses_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = FolderStore(tmp_path)
    first = make_record()
    store.append(first)

    def no_space(fd: int, data: bytes) -> int:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("os.write", no_space)
    with pytest.raises(StoreError, match="No space left on device"):
        store.append(make_record())
    monkeypatch.undo()
    assert store.load(first.run_id).run_id == first.run_id
    assert not list((tmp_path / "runs").glob(".*.tmp"))  # no temp file left behind


def test_store_uri(tmp_path: Path) -> None:
    assert open_store(f"file://{tmp_path}", Path("/")).location == str(tmp_path)
    assert open_store("hist", tmp_path).location == str(tmp_path / "hist")
    with pytest.raises(StoreError, match="unsupported scheme 's3'"):
        open_store("s3://bucket/x", tmp_path)


def test_continuous_scores_round_trip_exactly(tmp_path: Path) -> None:
    """float32 storage made an identical rerun differ by ~1e-9 everywhere, all one way."""
    from pytest_mlgate import stats

    scores = [0.1, 0.3, 0.6, 0.0, 1.0] * 40
    store = FolderStore(tmp_path)
    record = outcome(
        new_run_id(), make_run([1.0, 0.0] * 100, scores), timestamp="2026-01-01T00:00:00+00:00"
    )
    store.append(record)
    stored = store.load(record.run_id).run["t"].metric("f1").scores
    assert stored == tuple(scores)
    assert stats.compare(stored, scores, paired=True).delta == 0.0


def test_latest_prefers_a_run_that_evaluated_the_gated_tasks(tmp_path: Path) -> None:
    store = FolderStore(tmp_path)
    full = make_record("main", "2026-11-01T00:00:00+00:00")
    fast = outcome(new_run_id(), EvalRun({}), timestamp="2026-11-02T00:00:00+00:00")
    store.append(full)
    store.append(fast)
    assert store.latest("main", {"t"}).run_id == full.run_id  # type: ignore[union-attr]
    assert store.latest("main").run_id == fast.run_id  # type: ignore[union-attr]


def test_indexed_run_whose_file_is_gone_falls_back(tmp_path: Path) -> None:
    store = FolderStore(tmp_path)
    kept, lost = (
        make_record("main", "2026-11-01T00:00:00+00:00"),
        make_record("main", "2026-11-02T00:00:00+00:00"),
    )
    store.append(kept)
    store.append(lost)
    (tmp_path / "runs" / f"{lost.run_id}.json").unlink()
    with pytest.warns(SkippedRecordWarning, match="indexed but its record file is missing"):
        assert store.latest("main").run_id == kept.run_id  # type: ignore[union-attr]


def test_queries_answer_from_the_index_without_reading_records(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = FolderStore(tmp_path)
    runs = []
    for day in range(1, 9):
        branch = "main" if day % 2 else "pr"
        record = outcome(
            f"run-{day}",
            make_run([1.0, 0.0]),
            timestamp=f"2026-11-{day:02d}T00:00:00+00:00",
            branch=branch,
            commit=f"c{day}",
            fingerprint="sha256:same" if day < 5 else "sha256:new",
        )
        store.append(record)
        runs.append(record)
    partial = outcome("shard", make_run([1.0]), timestamp="2026-11-30T00:00:00+00:00")
    store.append_entry(partial, dataclasses.replace(IndexEntry.of(partial), partial=True))
    loads = count_loads(monkeypatch)
    assert [e.run_id for e in store.last(2, "main")] == ["run-5", "run-7"]
    assert [e.run_id for e in store.last(3)] == ["run-6", "run-7", "run-8"]
    assert [e.run_id for e in store.last(2, "main", before="run-5")] == ["run-1", "run-3"]
    assert [e.run_id for e in store.find(commit="c4")] == ["run-4"]
    assert [e.run_id for e in store.find(fingerprint="sha256:new", branch="pr")] == [
        "run-6",
        "run-8",
    ]
    entry = store.get("run-3")
    assert entry is not None
    assert entry.status is None
    assert entry.fingerprint == "sha256:same"
    assert store.get("shard") is None  # a partial run is never a baseline or a listed run
    assert "shard" not in [e.run_id for e in store.entries()]
    assert loads == []  # every answer came from the index
    assert store.latest("main") is not None
    assert loads == ["run-7"]


def test_the_index_is_read_once_until_it_changes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = FolderStore(tmp_path)
    store.append(make_record("main", "2026-11-01T00:00:00+00:00"))
    reads: list[int] = []
    original = FolderStore._read_entries

    def counting_read(self: FolderStore) -> list[IndexEntry]:
        reads.append(1)
        return original(self)

    monkeypatch.setattr(FolderStore, "_read_entries", counting_read)
    for _ in range(5):
        store.entries()
        store.last(1, "main")
    assert len(reads) == 1
    store.append(make_record("main", "2026-11-02T00:00:00+00:00"))  # another recorder appends
    assert len(store.entries()) == 2
    assert len(reads) == 2


def test_history_orders_by_time_to_the_microsecond_then_run_id(tmp_path: Path) -> None:
    """Two runs in one second: the later one (by microseconds) is newest, whatever the random part
    of the run ids says (before: ordered by the second, then the id's random part). Older
    second-resolution timestamps and other offsets compare as instants."""
    store = FolderStore(tmp_path)
    first = dataclasses.replace(
        make_record(timestamp="2026-11-24T06:00:00.100000+00:00"),
    )
    second = make_record(timestamp="2026-11-24T06:00:00.900000+00:00")
    first = outcome(
        "20261124T060000Z-ffffffff", first.run, timestamp=first.manifest.timestamp, branch="main"
    )
    second = outcome(
        "20261124T060000Z-00000000", second.run, timestamp=second.manifest.timestamp, branch="main"
    )
    older = outcome("20261124T055959Z-77777777", first.run, timestamp="2026-11-24T08:59:59+03:00")
    for record in (second, older, first):
        store.append(record)
    assert [e.run_id for e in store.entries()] == [older.run_id, first.run_id, second.run_id]
    latest = store.latest("main")
    assert latest is not None
    assert latest.run_id == second.run_id
    # The old second-resolution text is kept verbatim: records re-serialise byte-identical.
    assert store.entries()[0].timestamp == "2026-11-24T08:59:59+03:00"


def test_new_records_carry_microseconds() -> None:
    from pytest_mlgate.store.protocol import recorded_at

    assert recorded_at("2026-11-24T06:00:00Z") < recorded_at("2026-11-24T06:00:00.000001+00:00")
    assert recorded_at("not a time") < recorded_at("1970-01-01T00:00:00")
