"""The MLflow store: the same HistoryStore contract as the folder store (embedded sqlite form),
its metric-name scheme, complete-only lookups, the spool and `mlgate history sync`/`copy`."""

from __future__ import annotations

import dataclasses
import shutil
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pytest_mlgate import stats
from pytest_mlgate.cli.main import main
from pytest_mlgate.config.schema import MetricThreshold
from pytest_mlgate.errors import NoTrackingUri, RecordSpooled, StoreError
from pytest_mlgate.gate.verdicts import GateOutcome, Status, Verdict
from pytest_mlgate.store import FolderStore, HistoryStore, open_store
from pytest_mlgate.store.codec import dumps_outcome
from pytest_mlgate.store.mlflow.store import (
    TRACKING_ENV,
    MlflowStore,
    escape_name,
    metric_key,
    outcome_metrics,
    parse_metric_key,
    tracking_uri,
    unescape_name,
)
from tests.test_store import make_record

pytest.importorskip("mlflow")


def sqlite_store(folder: Path, experiment: str = "mlgate") -> MlflowStore:
    store = open_store(f"mlflow+sqlite:///{folder}/mlflow.db", folder, experiment)
    assert isinstance(store, MlflowStore)
    return store


@pytest.fixture(params=["folder", "mlflow+sqlite"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> HistoryStore:
    if request.param == "folder":
        return FolderStore(tmp_path / ".mlgate")
    return sqlite_store(tmp_path)


# -- the metric-name scheme ------------------------------------------------------------------
def valid_for_mlflow(name: str) -> bool:
    from mlflow.utils.validation import path_not_unique, validate_param_and_metric_name

    valid = validate_param_and_metric_name(name)  # type: ignore[no-untyped-call]
    return bool(valid) and not path_not_unique(name)  # type: ignore[no-untyped-call]


@pytest.mark.parametrize(
    ("task", "metric", "subgroup", "expected"),
    [
        ("gsm8k", "exact_match,strict-match", None, "gsm8k/exact_match.2c.strict-match"),
        ("mlgate_tr_mc@ascii", "acc", None, "mlgate_tr_mc.40.ascii/acc"),
        ("mlgate_tr_mc", "acc", "Tarih ve Coğrafya", "mlgate_tr_mc/acc.5b.Tarih ve Coğrafya.5d."),
        ("belebele.tr", "acc", "İş/Güç", "belebele.2e.tr/acc.5b.İş.2f.Güç.5d."),
    ],
)
def test_metric_names_are_valid_in_mlflow_and_reversible(
    task: str, metric: str, subgroup: str | None, expected: str
) -> None:
    key = metric_key(task, metric, subgroup)
    assert key == expected
    assert valid_for_mlflow(key)
    assert valid_for_mlflow(metric_key(task, metric, subgroup, "ci_low"))
    assert parse_metric_key(key) == (task, metric, subgroup, None)
    assert parse_metric_key(f"{key}/p_value") == (task, metric, subgroup, "p_value")


@given(st.text(min_size=1, max_size=40))
def test_any_name_escapes_to_allowed_characters_and_back(text: str) -> None:
    escaped = escape_name(text)
    assert unescape_name(escaped) == text
    assert "/" not in escaped
    assert valid_for_mlflow(f"t/{escaped}")


# -- where the store is ----------------------------------------------------------------------
def test_store_mlflow_reads_the_tracking_uri_and_never_falls_back_to_a_local_database(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv(TRACKING_ENV, "http://127.0.0.1:5999")
    assert tracking_uri("mlflow") == "http://127.0.0.1:5999"
    monkeypatch.setenv(TRACKING_ENV, "  ")  # an unset GitHub secret renders as empty
    with pytest.raises(NoTrackingUri, match=r"MLFLOW_TRACKING_URI, which is not set"):
        open_store("mlflow", tmp_path)
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(StoreError, match="mlflow\\+sqlite"):
        tracking_uri("mlflow+ftp://x")


def test_the_sqlite_form_keeps_artifacts_beside_its_database(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    store = sqlite_store(tmp_path / "history")
    store.append(make_record())
    assert not (tmp_path / "mlruns").exists()
    assert (tmp_path / "history" / "mlflow-artifacts").is_dir()


# -- MLflow specifics ------------------------------------------------------------------------
def gated_record() -> GateOutcome:
    record = make_record()
    comparison = stats.Comparison("mcnemar-exact", True, 3, 0.9, 0.667, -0.233, (-0.5, 0.1), 0.2)
    verdict = Verdict(
        MetricThreshold("t", "acc", min=0.5),
        Status.PASS,
        "ok",
        value=0.667,
        n=3,
        value_ci=(0.2, 0.94),
        baseline_run="earlier",
        comparison=comparison,
        p_adjusted=0.4,
    )
    return dataclasses.replace(record, verdicts=(verdict,))


def test_a_recorded_run_carries_tags_metrics_and_artifacts(tmp_path: Path) -> None:
    store = sqlite_store(tmp_path)
    record = gated_record()
    store.append(record, {"summary.md": _file(tmp_path / "summary.md", "## ✔ mlgate")})
    run = store.client().get_run(store.mlflow_run_id(record.run_id))
    tags = run.data.tags
    assert tags["mlgate.branch"] == "main"
    assert tags["mlgate.commit"] == "c0ffee"
    assert tags["mlgate.suite"] == "fast"
    assert tags["mlgate.verdict"] == "pass"
    assert tags["mlgate.complete"] == "true"
    assert tags["mlflow.runName"] == record.run_id
    assert run.data.metrics == pytest.approx(
        {
            "t/acc/ci_low": 0.2,
            "t/acc/ci_high": 0.94,
            "t/acc/delta": -0.233,
            "t/acc/p_value": 0.4,
            "t/acc": 0.667,
        }
    )
    artifacts = {a.path for a in store.client().list_artifacts(run.info.run_id, "reports")}
    assert artifacts == {"reports/summary.md"}
    assert outcome_metrics(record)["t/acc/p_value"] == 0.4


def _file(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_an_incomplete_upload_is_never_a_baseline(tmp_path: Path) -> None:
    store = sqlite_store(tmp_path)
    good = make_record("main", "2026-11-20T00:00:00+00:00")
    store.append(good)
    broken = make_record("main", "2026-11-21T00:00:00+00:00")
    client = store.client()
    experiment = store.experiment_id()
    tags = {"mlgate.run_id": broken.run_id, "mlgate.branch": "main", "mlgate.partial": "false"}
    client.create_run(experiment, tags={**tags, "mlgate.timestamp": broken.manifest.timestamp})
    latest = store.latest("main")
    assert latest is not None
    assert latest.run_id == good.run_id
    assert [e.run_id for e in store.entries()] == [good.run_id]


def test_unreachable_while_recording_spools_and_sync_uploads_exactly_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Down: spooled. Sync: uploaded. A crash between the upload and the spool clean-up (the
    folder is put back): the next sync finds the run and only cleans up. No duplicates."""
    spool = tmp_path / "repo" / ".mlgate-spool"
    down = MlflowStore("http://127.0.0.1:9", spool=spool)  # nothing listens on port 9
    records = [make_record("main", f"2026-11-2{i}T00:00:00+00:00") for i in range(3)]
    for record in records:
        with pytest.raises(RecordSpooled, match=r"unreachable.*history sync"):
            down.append(record)
    assert down.spool is not None
    assert len(down.spool.pending()) == 3
    up = sqlite_store(tmp_path / "server")
    up.spool = down.spool
    first = down.spool.pending()[0]
    shutil.copytree(first, tmp_path / "kept")
    report = down.spool.sync(up)
    assert (len(report.uploaded), len(report.already)) == (3, 0)
    shutil.copytree(tmp_path / "kept", first)  # as if the clean-up had never happened
    again = down.spool.sync(up)
    assert (again.uploaded, again.already) == ([], [first.name])
    assert down.spool.pending() == []
    runs = up.client().search_runs([up.experiment_id()], max_results=100)
    assert sorted(r.data.tags["mlgate.run_id"] for r in runs) == sorted(r.run_id for r in records)


def test_an_upload_cut_off_midway_is_replaced_on_sync(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = sqlite_store(tmp_path)
    record = make_record()
    client = store.client()
    real = client.log_artifacts

    def fail(*args: object, **kwargs: object) -> None:
        raise OSError("connection reset by peer")

    monkeypatch.setattr(client, "log_artifacts", fail)
    with pytest.raises(RecordSpooled):
        store.append(record)
    monkeypatch.setattr(client, "log_artifacts", real)
    assert store.get(record.run_id) is None  # created, never completed: not a run
    assert store.spool is not None
    report = store.spool.sync(store)
    assert report.uploaded == [record.run_id]
    live = client.search_runs([store.experiment_id()], max_results=100)
    assert [r.data.tags["mlgate.run_id"] for r in live] == [record.run_id]
    assert dumps_outcome(store.load(record.run_id)) == dumps_outcome(record)


# -- mlgate history copy / sync ----------------------------------------------------------------
@pytest.fixture
def in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_history_copy_round_trip_keeps_every_record_byte_identical(
    in_tmp: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = FolderStore(in_tmp / "a")
    records = [make_record("main", f"2026-11-2{i}T00:00:00+00:00") for i in range(4)]
    for record in records:
        folder.append(record)
    database = f"mlflow+sqlite:///{in_tmp}/m.db"
    assert main(["history", "copy", "a", database]) == 0
    assert main(["history", "copy", database, "b"]) == 0
    assert main(["history", "copy", "a", database]) == 0  # again: nothing twice
    out = capsys.readouterr().out
    assert "copied 4 run(s)" in out
    assert "copied 0 run(s)" in out
    assert "4 already there" in out
    back = FolderStore(in_tmp / "b")
    assert [e.run_id for e in back.entries()] == [r.run_id for r in records]
    for record in records:
        assert dumps_outcome(back.load(record.run_id)) == dumps_outcome(record)
        assert (in_tmp / "b" / "runs" / f"{record.run_id}.json").read_bytes() == (
            in_tmp / "a" / "runs" / f"{record.run_id}.json"
        ).read_bytes()


def test_history_sync_without_a_tracking_uri_is_a_usage_error(
    in_tmp: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv(TRACKING_ENV, raising=False)
    assert main(["history", "sync", "--store", "mlflow"]) == 4
    assert "MLFLOW_TRACKING_URI" in capsys.readouterr().err
    assert main(["history", "sync", "--store", f"mlflow+sqlite:///{in_tmp}/m.db"]) == 0
    assert "nothing spooled" in capsys.readouterr().out
    assert not (in_tmp / ".mlgate-spool").exists()
