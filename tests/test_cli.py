"""The mlgate command: history, compare and power reuse the gate's store and statistics."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pytest_mlgate.cli.main import main
from pytest_mlgate.config.schema import MetricThreshold
from pytest_mlgate.gate.verdicts import GateOutcome, Status, Verdict
from pytest_mlgate.results import EvalRun, MetricResult, TaskResult
from pytest_mlgate.store import HistoryStore, open_store
from pytest_mlgate.store.folder import FolderStore
from tests.outcomes import outcome


def record(run_id: str, day: int, accuracy: list[float]) -> GateOutcome:
    ids = tuple(range(len(accuracy)))
    metric = MetricResult(
        "t",
        "acc,none",
        sum(accuracy) / len(accuracy),
        None,
        len(accuracy),
        True,
        ids,
        tuple(accuracy),
    )
    run = EvalRun({"t": TaskResult("t", {"acc,none": metric}, len(accuracy))})
    verdict = Verdict(MetricThreshold("t", "acc"), Status.PASS, "", metric.value)
    return outcome(run_id, run, timestamp=f"2026-11-{day:02d}T00:00:00+00:00", verdicts=[verdict])


@pytest.fixture(params=["folder", "mlflow+sqlite"])
def store(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> HistoryStore:
    """Two recorded runs, in the default folder store or (the same commands, read the same way)
    in an MLflow store named by thresholds.toml, a relative sqlite path."""
    monkeypatch.chdir(tmp_path)
    history: HistoryStore = FolderStore(tmp_path / ".mlgate")
    if request.param == "mlflow+sqlite":
        pytest.importorskip("mlflow")
        (tmp_path / "thresholds.toml").write_text('[gate]\nstore = "mlflow+sqlite:///m.db"\n')
        history = open_store("mlflow+sqlite:///m.db", tmp_path)
    history.append(record("run-a", 1, [1.0] * 90 + [0.0] * 10))
    history.append(record("run-b", 2, [0.0] * 30 + [1.0] * 60 + [0.0] * 10))
    return history


def test_history_table_csv_and_json(
    store: HistoryStore, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["history"]) == 0
    table = capsys.readouterr().out
    assert "run-a" in table
    assert "0.9000" in table
    assert main(["history", "--format", "csv"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("run_id,timestamp,branch")
    assert lines[0].endswith("t::acc")
    assert main(["history", "--format", "json", "--limit", "1"]) == 0
    [row] = json.loads(capsys.readouterr().out)
    assert row["run_id"] == "run-b"
    assert row["t::acc"] == pytest.approx(0.6)


def test_compare_uses_the_gates_paired_test(
    store: HistoryStore, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["compare", "run-a", "run-b"]) == 1
    out = capsys.readouterr().out
    assert "FAIL: t acc,none = 0.6000 vs baseline 0.9000 (run run-a), delta -0.3000" in out
    assert "tango-score, n=100" in out  # the margin is tested (before: mcnemar-exact)
    assert main(["compare", "run-b", "run-a"]) == 0


def test_compare_unknown_run_is_a_usage_error(
    store: HistoryStore, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["compare", "run-a", "nope"]) == 4
    assert "no run 'nope'" in capsys.readouterr().err


def test_power(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["power", "--n", "120", "--p", "0.7", "--drop", "0.02"]) == 0
    out = capsys.readouterr().out
    assert "minimum detectable drop: 16.3" in out  # exact McNemar (before: 15.6, normal approx.)
    assert "examples needed to detect it:" in out
    args = ["power", "--n", "400", "--p", "0.7", "--discordance", "0.2"]
    assert main([*args, "--margin", "0.02", "--subgroups", "5", "--comparisons", "3"]) == 0
    out = capsys.readouterr().out
    assert "over 8 comparison(s) (0.0063 each), Tango's test, margin 2 pp" in out
    [whole, per] = [float(line.split()[-2]) for line in out.splitlines() if line.endswith(" pp")]
    assert per > whole > 2.0  # 80 examples per subgroup detect less; both beyond the margin
    with pytest.raises(SystemExit):
        main(["power", "--n", "120", "--p", "1.5"])


def test_history_drift_prints_each_metric_from_the_anchor(
    store: HistoryStore, capsys: pytest.CaptureFixture[str]
) -> None:
    store.append(record("run-c", 3, [0.0] * 33 + [1.0] * 57 + [0.0] * 10))
    assert main(["history", "--drift", "--anchor", "run-a"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("drift on main from anchor run-a (run run-a):")
    lines = out.splitlines()[2:]
    assert [line.split()[0] for line in lines] == ["run-a", "run-b", "run-c"]
    assert "-30.00" in lines[1]  # run-b: 0.60 against 0.90
    assert "-33.00" in lines[2]
    assert main(["history", "--drift"]) == 4  # no anchor given and none configured
    assert "--drift needs --anchor" in capsys.readouterr().err


def test_report_regenerates_a_recorded_runs_report(
    store: HistoryStore, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["report", "--run", "run-b", "--output", "r.html", "--markdown", "r.md"]) == 0
    page = (tmp_path / "r.html").read_text()
    assert "run-b" in page
    assert "run-a" in page  # the history column
    assert "run `run-b`" in (tmp_path / "r.md").read_text()
