"""Real lm-eval runs on the tiny demo checkpoints (CPU, offline): the gate end to end."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from pytest_mlgate.cli.demo import offline_env, scaffold
from tests import edited_runs
from tests.gate_run import run_gate

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def gate_repo(tmp_path_factory: pytest.TempPathFactory, demo_checkpoints: dict[str, Path]) -> Path:
    repo = tmp_path_factory.mktemp("repo")
    scaffold(repo)
    (repo / "checkpoints").symlink_to(demo_checkpoints["good"].parent)
    return repo


@pytest.fixture(scope="module")
def good_run(gate_repo: Path) -> tuple[subprocess.CompletedProcess[str], dict[str, object]]:
    result = run_gate(gate_repo, "--mlgate-json=good.json")
    document: dict[str, object] = json.loads((gate_repo / "good.json").read_text())
    return result, document


def test_good_checkpoint_passes_the_gate(
    good_run: tuple[subprocess.CompletedProcess[str], dict[str, object]],
) -> None:
    result, document = good_run
    assert result.returncode == 0, result.stdout[-3000:]
    assert document["passed"] is True
    values = {v["metric"]: v["value"] for v in document["verdicts"]}  # type: ignore[attr-defined]
    assert values["acc"] > 0.5  # far above the 0.25 of guessing among four choices
    assert values["exact_match,strict-match"] > 0.2


def test_regressed_checkpoint_fails_with_one_line_reason(gate_repo: Path) -> None:
    result = run_gate(gate_repo, "--mlgate-checkpoint=checkpoints/regressed")
    assert result.returncode == 1, result.stdout[-3000:]
    assert "FAILED thresholds.toml::mlgate_tr_mc::acc" in result.stdout
    assert ": below min 0.6" in result.stdout


def test_raising_min_above_the_score_fails(gate_repo: Path, tmp_path: Path) -> None:
    config = (gate_repo / "thresholds.toml").read_text()
    strict = tmp_path / "strict.toml"
    strict.write_text(config.replace("acc = { min = 0.6 }", "acc = { min = 0.99 }"))
    (tmp_path / "checkpoints").symlink_to(gate_repo / "checkpoints")
    result = run_gate(
        gate_repo, f"--mlgate-config={strict}", "--mlgate-checkpoint=checkpoints/good"
    )
    assert result.returncode == 1
    lines = [line for line in result.stdout.splitlines() if line.startswith("mlgate_tr_mc acc =")]
    assert len(lines) == 1, result.stdout[-3000:]
    assert lines[0].endswith("below min 0.99")


def test_gate_value_equals_the_lm_eval_cli(
    gate_repo: Path,
    good_run: tuple[subprocess.CompletedProcess[str], dict[str, object]],
    tmp_path: Path,
) -> None:
    """lm-eval is the oracle: its own CLI on the same checkpoint, tasks and batch size."""
    _, document = good_run
    tasks_dir = tmp_path / "tasks"
    subprocess.run(
        [sys.executable, "-m", "pytest_mlgate.cli.main", "tasks", "--export", str(tasks_dir)],
        check=True,
        capture_output=True,
    )
    out = tmp_path / "lm_eval_out"
    checkpoint = (gate_repo / "checkpoints" / "good").resolve()
    cli = Path(sys.executable).with_name("lm_eval")
    subprocess.run(
        [
            str(cli),
            "--model",
            "hf",
            "--model_args",
            f"pretrained={checkpoint},dtype=float32",
            "--tasks",
            "mlgate_tr_mc,mlgate_tr_math",
            "--include_path",
            str(tasks_dir),
            "--batch_size",
            "32",
            "--device",
            "cpu",
            "--output_path",
            str(out),
        ],
        check=True,
        capture_output=True,
        env=offline_env(),
        cwd=tmp_path,
    )
    [results_file] = out.rglob("results_*.json")
    oracle = json.loads(results_file.read_text())["results"]
    ours = document["results"]["tasks"]  # type: ignore[index]
    for task, key in [
        ("mlgate_tr_mc", "acc,none"),
        ("mlgate_tr_mc", "acc_norm,none"),
        ("mlgate_tr_math", "exact_match,strict-match"),
        ("mlgate_tr_math", "exact_match,flexible-extract"),
    ]:
        assert ours[task]["metrics"][key]["value"] == pytest.approx(oracle[task][key], abs=1e-12)


BASELINE_GATE = """
[model]
dtype = "float32"
batch_size = 32

[suites.fast]
tasks = ["mlgate_tr_mc"]

[thresholds.mlgate_tr_mc]
acc = { min = 0.3, max_drop = 0.005 }
"""


def _gated(repo: Path, name: str) -> dict[str, object]:
    """The one verdict of a run's --mlgate-json document."""
    [verdict] = json.loads((repo / name).read_text())["verdicts"]
    assert isinstance(verdict, dict)
    return verdict


def test_gate_against_a_recorded_baseline(gate_repo: Path, tmp_path: Path) -> None:
    config = tmp_path / "gate.toml"
    config.write_text(BASELINE_GATE)
    common = [f"--mlgate-config={config}", f"--mlgate-store={tmp_path / 'history'}"]

    first = run_gate(
        gate_repo, *common, "--mlgate-checkpoint=checkpoints/good", "--mlgate-record",
        "--mlgate-json=good.json",
    )  # fmt: skip
    assert first.returncode == 0, first.stdout[-3000:]
    assert "baseline: none recorded yet" in first.stdout
    assert "mlgate: recorded run" in first.stdout
    good = float(_gated(gate_repo, "good.json")["value"])  # type: ignore[arg-type]

    # A large regression fails, with value, baseline, delta, CI and p in the reason.
    regressed = run_gate(
        gate_repo, *common, "--mlgate-checkpoint=checkpoints/regressed", "--mlgate-json=bad.json"
    )
    assert regressed.returncode == 1, regressed.stdout[-3000:]
    bad = float(_gated(gate_repo, "bad.json")["value"])  # type: ignore[arg-type]
    assert good - bad > 0.3  # the demo's regression is large on any machine
    [reason] = [ln for ln in regressed.stdout.splitlines() if ln.startswith("mlgate_tr_mc acc =")]
    assert reason.startswith(f"mlgate_tr_mc acc = {bad:.4f} vs baseline {good:.4f} (run ")
    assert f"delta {bad - good:+.4f} [95% CI -0." in reason
    assert "(tango-score, n=479)" in reason  # tested against the margin (before: mcnemar-exact)
    assert f"significant drop of {good - bad:.4f} > max_drop 0.005: drop " in reason

    # A drop above max_drop that noise explains passes, with a warning giving p and the MDE:
    # the good run again with exactly three of its right answers wrong (max_drop 0: three
    # discordant pairs, all one way, have a one-sided exact p of 1/8).
    zero = tmp_path / "zero.toml"
    zero.write_text(BASELINE_GATE.replace("max_drop = 0.005", "max_drop = 0.0"))
    edited = tmp_path / "edited"
    edited.mkdir()
    (edited / "conftest.py").write_text(edited_runs.CONFTEST)
    history = tmp_path / "history"
    edited_runs.edit(edited, history, edited_runs.recorded_run(history), [{"lose": 3}])
    (edited / "checkpoints").symlink_to(gate_repo / "checkpoints")
    nudged = run_gate(
        edited,
        f"--mlgate-config={zero}",
        f"--mlgate-store={history}",
        "--mlgate-checkpoint=checkpoints/good",
        "--mlgate-json=nudged.json",
    )
    assert nudged.returncode == 0, nudged.stdout[-3000:]
    verdict = _gated(edited, "nudged.json")
    drop = good - float(verdict["value"])  # type: ignore[arg-type]
    assert drop == pytest.approx(3 / 479, abs=1e-12)
    assert verdict["status"] == "warn"
    assert verdict["p_value"] == pytest.approx(0.125)
    assert f"drop of {drop:.4f} > max_drop 0 is not significant at alpha 0.05" in nudged.stdout
    assert "the minimum detectable drop at n=479 is" in nudged.stdout
    assert "NoiseExplainedDropWarning" in nudged.stdout

    # An improvement passes.
    other = [f"--mlgate-config={config}", f"--mlgate-store={tmp_path / 'other'}"]
    run_gate(gate_repo, *other, "--mlgate-checkpoint=checkpoints/regressed", "--mlgate-record")
    improved = run_gate(gate_repo, *other, "--mlgate-checkpoint=checkpoints/good")
    assert improved.returncode == 0, improved.stdout[-3000:]
    assert f"{good - bad:+.4f}" in improved.stdout


MODULE_DUMP = """
import json, sys
from pathlib import Path

def pytest_unconfigure(config):
    heavy = sorted(m for m in ("torch", "transformers", "lm_eval") if m in sys.modules)
    Path("heavy.json").write_text(json.dumps(heavy))
"""


def test_an_unchanged_rerun_is_answered_without_loading_the_model(
    demo_checkpoints: dict[str, Path], tmp_path: Path
) -> None:
    repo = tmp_path / "repo"
    scaffold(repo)
    (repo / "checkpoints").symlink_to(demo_checkpoints["good"].parent)
    (repo / "conftest.py").write_text(MODULE_DUMP)
    first = run_gate(repo, "--mlgate-json=first.json")
    assert first.returncode == 0, first.stdout[-3000:]
    assert json.loads((repo / "heavy.json").read_text()) == ["lm_eval", "torch", "transformers"]
    second = run_gate(repo, "--mlgate-json=second.json")
    assert second.returncode == 0, second.stdout[-3000:]
    assert json.loads((repo / "heavy.json").read_text()) == []  # no model, no lm-eval
    before = json.loads((repo / "first.json").read_text())["verdicts"]
    after = json.loads((repo / "second.json").read_text())["verdicts"]
    assert [v["value"] for v in after] == [v["value"] for v in before]
    assert (
        json.loads((repo / "second.json").read_text())["results"]["info"]["result_cache"] == "hit"
    )
