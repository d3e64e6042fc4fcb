"""One HistoryStore contract, run on every store: the folder store, the MLflow store (embedded
sqlite form) and a store a plugin adds through ``pytest_mlgate_make_store`` in one conftest.py
(tests/store_plugin/conftest.py), loaded the way the ``mlgate`` command loads a rootdir's."""

from __future__ import annotations

import dataclasses
import shutil
from pathlib import Path

import pytest

from pytest_mlgate.cli.main import main
from pytest_mlgate.cli.plugins import load_plugins
from pytest_mlgate.errors import StoreError
from pytest_mlgate.store import FolderStore, HistoryStore, IndexEntry, open_store
from pytest_mlgate.store.codec import dumps_outcome
from tests.test_store import make_record

STORE_PLUGIN = Path(__file__).parent / "store_plugin"


def plugin_store(folder: Path) -> HistoryStore:
    """The test-only store, opened through the hook as the CLI and the plugin open any store."""
    plugins = load_plugins(STORE_PLUGIN)
    return open_store("jsondir://history", folder, plugins=plugins)


@pytest.fixture(params=["folder", "mlflow+sqlite", "plugin"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> HistoryStore:
    if request.param == "folder":
        return FolderStore(tmp_path / ".mlgate")
    if request.param == "mlflow+sqlite":
        pytest.importorskip("mlflow")
        return open_store(f"mlflow+sqlite:///{tmp_path}/mlflow.db", tmp_path)
    return plugin_store(tmp_path)


def test_the_hook_made_the_plugin_store(tmp_path: Path) -> None:
    store = plugin_store(tmp_path)
    assert type(store).__name__ == "JsonDirStore"
    assert store.location == f"jsondir://{tmp_path / 'history'}"
    # a URI the plugin passes on reaches the built-in stores, consulted last
    assert isinstance(open_store("hist", tmp_path, plugins=load_plugins(STORE_PLUGIN)), FolderStore)


def test_round_trip_is_byte_identical(store: HistoryStore) -> None:
    record = make_record()
    store.append(record)
    assert dumps_outcome(store.load(record.run_id)) == dumps_outcome(record)
    assert store.get(record.run_id) == IndexEntry.of(record)


def test_queries_answer_as_the_folder_store_does(store: HistoryStore) -> None:
    old = make_record("main", "2026-11-20T00:00:00+00:00")
    new = make_record("main", "2026-11-23T00:00:00+00:00")
    other = make_record("feature", "2026-11-24T00:00:00+00:00")
    for record in (new, other, old):
        store.append(record)
    assert [e.run_id for e in store.entries()] == [old.run_id, new.run_id, other.run_id]
    latest = store.latest("main", ["t"])
    assert latest is not None
    assert latest.run_id == new.run_id
    assert store.latest("release") is None
    fallback = store.latest("main", ["not_evaluated"])  # no covering run: the newest
    assert fallback is not None
    assert fallback.run_id == new.run_id
    assert [e.run_id for e in store.last(5, "main", before=new.run_id)] == [old.run_id]
    assert [e.run_id for e in store.last(1)] == [other.run_id]
    assert {e.run_id for e in store.find(commit="c0ffee", branch="main")} == {
        old.run_id,
        new.run_id,
    }
    assert store.get("nope") is None
    with pytest.raises(StoreError, match="no run 'nope'"):
        store.load("nope")


def test_latest_prefers_a_run_that_covered_the_tasks(store: HistoryStore) -> None:
    full = make_record("main", "2026-11-20T00:00:00+00:00")
    fast = dataclasses.replace(
        make_record("main", "2026-11-21T00:00:00+00:00"),
        run=full.run.subset([]),
    )
    store.append(full)
    store.append(fast)
    latest = store.latest("main", ["t"])
    assert latest is not None
    assert latest.run_id == full.run_id


def test_a_run_is_recorded_once(store: HistoryStore) -> None:
    record = make_record()
    store.append(record)
    with pytest.raises(StoreError, match="already recorded"):
        store.append(record)


def test_a_partial_run_is_kept_but_never_listed_or_a_baseline(store: HistoryStore) -> None:
    whole = make_record("main", "2026-11-20T00:00:00+00:00")
    shard = make_record("main", "2026-11-21T00:00:00+00:00")
    store.append(whole)
    store.append_entry(shard, IndexEntry.of(shard, partial=True))
    assert [e.run_id for e in store.entries()] == [whole.run_id]
    assert store.get(shard.run_id) is None
    latest = store.latest("main", ["t"])
    assert latest is not None
    assert latest.run_id == whole.run_id
    assert [e.run_id for e in store.last(5, "main")] == [whole.run_id]


def test_the_mlgate_command_reads_a_plugin_store_from_the_rootdir_conftest(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """`mlgate history` and `mlgate history copy` see the store the repository's conftest.py
    adds, as pytest does: the hook works in the CLI, not only under pytest."""
    shutil.copy(STORE_PLUGIN / "conftest.py", tmp_path / "conftest.py")
    (tmp_path / "pytest.ini").write_text("[pytest]\n", encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    records = [make_record("main", f"2026-11-2{i}T00:00:00+00:00") for i in range(3)]
    folder = FolderStore(tmp_path / "hist")
    for record in records:
        folder.append(record)
    assert main(["history", "copy", "hist", "jsondir://copied"]) == 0
    assert "copied 3 run(s)" in capsys.readouterr().out
    assert main(["history", "--store", "jsondir://copied", "--format", "csv"]) == 0
    listed = capsys.readouterr().out
    assert all(r.run_id in listed for r in records)
    copied = tmp_path / "copied"
    for record in records:
        assert (copied / f"{record.run_id}.json").read_text(encoding="utf-8") == dumps_outcome(
            record
        )


def test_a_gate_run_records_into_the_plugin_store_under_pytest(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The same one-file plugin, as a repository's conftest.py, under pytest: the gate opens
    its store through the hook, records the run there and reads it back as the baseline."""
    monkeypatch.setenv("MLGATE_BRANCH", "main")  # recorded on, and compared against, main
    (pytester.path / "ckpt").mkdir()
    pytester.makefile(
        ".toml",
        thresholds='[model]\ncheckpoint = "ckpt"\n\n[gate]\nstore = "jsondir://hist"\n\n'
        '[suites.fast]\ntasks = ["mlgate_tr_mc"]\n\n[thresholds.mlgate_tr_mc]\n'
        "acc = { min = 0.5 }\n",
    )
    store_plugin = (STORE_PLUGIN / "conftest.py").read_text(encoding="utf-8")
    backend = (
        "\n\nfrom pytest_mlgate.backend.fake import FakeBackend\n\n\n"
        "def pytest_mlgate_make_backend(spec):\n"
        '    return FakeBackend({"mlgate_tr_mc": {"acc": [1, 1, 1, 0]}})\n'
    )
    pytester.makeconftest(store_plugin + backend)
    first = pytester.runpytest("-m", "eval", "--mlgate-record", "-p", "no:cacheprovider")
    assert first.ret == pytest.ExitCode.OK
    first.stdout.fnmatch_lines(["*recorded run * in jsondir://*hist*"])
    records = sorted((pytester.path / "hist").glob("*.entry.json"))
    assert len(records) == 1
    second = pytester.runpytest("-m", "eval", "-p", "no:cacheprovider")
    assert second.ret == pytest.ExitCode.OK
    second.stdout.fnmatch_lines([f"baseline: {records[0].name.removesuffix('.entry.json')}"])
