"""The DVC metrics file (`--mlgate-metrics`, `[report] metrics`) and `mlgate init --dvc`,
against the real `dvc` CLI: two commits with different checkpoints, `dvc repro` runs the gate's
stage, `dvc metrics diff HEAD~1 --json` shows each gated metric's old and new value."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from urllib.parse import unquote

import pytest

from pytest_mlgate.config.schema import MetricThreshold
from pytest_mlgate.gate.verdicts import Status, Verdict
from pytest_mlgate.report.metrics_file import escape_key, metrics_document, render_metrics
from pytest_mlgate.results import EvalRun, MetricResult, TaskResult
from tests.gate_run import gate_env, run_gate
from tests.outcomes import compared, outcome

pytest.importorskip("dvc")

CONFTEST = """
import json
from pathlib import Path

from pytest_mlgate.backend.fake import FakeBackend


def pytest_mlgate_make_backend(spec):
    name = json.loads((Path(spec.checkpoint) / "config.json").read_text())["name"]
    return FakeBackend({"mlgate_tr_mc": {"acc": json.loads(Path("scores.json").read_text())[name]}})
"""

THRESHOLDS = """
[model]
checkpoint = "ckpt/{checkpoint}"

[suites.fast]
tasks = ["mlgate_tr_mc"]

[gate]
cache = ""

[thresholds.mlgate_tr_mc]
acc = {{ min = 0.5, max_drop = 0.02 }}
"""

BASE = [1.0] * 80 + [0.0] * 20
SCORES = {"a": BASE, "b": [0.0] * 12 + BASE[12:]}  # b: 12 right -> wrong, a significant drop

# A user's own dvc.yaml: four-space indentation, comments, a stage and top-level plots.
USER_DVC = """\
# my pipeline
stages:
    train:   # trains the model
        cmd: python train.py
        outs:
        - ckpt
plots:
- loss.csv
"""


def env() -> dict[str, str]:
    # `python` in the stage's cmd is this venv's; DVC sends no analytics
    bin_dir = str(Path(sys.executable).parent)
    return gate_env(
        {"PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}", "DVC_NO_ANALYTICS": "1"}
    )


def sh(repo: Path, *command: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(command, cwd=repo, env=env(), capture_output=True, text=True)
    if check:
        assert done.returncode == 0, f"{command}: {done.stdout}{done.stderr}"
    return done


def git(repo: Path, *args: str) -> str:
    return sh(repo, "git", "-c", "user.name=t", "-c", "user.email=t@t", *args).stdout


def dvc(repo: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return sh(repo, sys.executable, "-m", "dvc", *args, check=check)


def mlgate(repo: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return sh(repo, sys.executable, "-m", "pytest_mlgate.cli.main", *args, check=False)


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    path = tmp_path / "repo"
    for name in SCORES:
        (path / "ckpt" / name).mkdir(parents=True)
        (path / "ckpt" / name / "config.json").write_text(json.dumps({"name": name}))
    (path / "conftest.py").write_text(CONFTEST)
    (path / "scores.json").write_text(json.dumps(SCORES))
    (path / "thresholds.toml").write_text(THRESHOLDS.format(checkpoint="a"))
    (path / ".gitignore").write_text(".mlgate*\n*.html\n")
    git(path, "init", "-q", "-b", "main")
    dvc(path, "init", "-q")
    dvc(path, "config", "core.analytics", "false")
    return path


def test_dvc_metrics_diff_shows_each_gated_metric_across_two_commits(repo: Path) -> None:
    (repo / "dvc.yaml").write_text(USER_DVC)
    init = mlgate(repo, "init", "--dvc")
    assert init.returncode == 0, init.stdout + init.stderr
    assert "kept thresholds.toml (it exists)" in init.stdout
    assert "added stage 'mlgate' to dvc.yaml" in init.stdout
    assert (repo / "thresholds.toml").read_text() == THRESHOLDS.format(checkpoint="a")
    stages = dvc(repo, "stage", "list").stdout  # DVC itself reads the merged file
    assert "train" in stages
    assert "mlgate" in stages
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "scaffold")

    # CI on main records the baseline (a); each commit's `dvc repro` gates against it
    assert run_gate(repo, "--mlgate-record").returncode == 0
    transcript = []
    for checkpoint, code in (("a", 0), ("b", 2)):
        (repo / "thresholds.toml").write_text(THRESHOLDS.format(checkpoint=checkpoint))
        ran = dvc(repo, "repro", "mlgate", check=False)
        # the gate's exit code is DVC's: a failing gate fails the stage (and the CI job); the
        # metrics file is written either way
        assert (ran.returncode == 0) == (code == 0), ran.stdout + ran.stderr
        git(repo, "add", "-A")
        git(repo, "commit", "-qm", f"checkpoint {checkpoint}")
        shown = json.loads(dvc(repo, "metrics", "show", "--json").stdout)
        data = shown[""]["data"]["mlgate-metrics.json"]["data"]
        assert data["mlgate"]["verdict_code"] == code
        transcript.append(f"checkpoint {checkpoint}: dvc metrics show -> {json.dumps(data)}")

    diff = json.loads(dvc(repo, "metrics", "diff", "HEAD~1", "--json").stdout)
    changed = diff["mlgate-metrics.json"]
    assert changed["mlgate_tr_mc.acc.value"] == pytest.approx(
        {"old": 0.8, "new": 0.68, "diff": -0.12}
    )
    assert changed["mlgate_tr_mc.acc.delta"] == pytest.approx(
        {"old": 0.0, "new": -0.12, "diff": -0.12}
    )
    assert changed["mlgate.verdict_code"] == {"old": 0, "new": 2, "diff": 2}
    assert changed["mlgate.verdict"] == {"old": "pass", "new": "fail"}
    assert changed["mlgate_tr_mc.acc.verdict_code"] == {"old": 0, "new": 2, "diff": 2}
    transcript.append("dvc metrics diff HEAD~1 --json -> " + json.dumps(diff))
    print("\n" + "\n".join(transcript))


def test_init_dvc_merges_into_a_users_file_and_never_overwrites(repo: Path) -> None:
    (repo / "dvc.yaml").write_text(USER_DVC)
    assert mlgate(repo, "init", "--dvc").returncode == 0
    merged = (repo / "dvc.yaml").read_text()
    # every line the user wrote is still there, in order, byte for byte
    lines = merged.splitlines()
    kept = [line for line in lines if line in USER_DVC.splitlines()]
    assert kept == USER_DVC.splitlines()
    assert "        cmd: python -m pytest -m eval --mlgate-metrics mlgate-metrics.json" in lines
    again = mlgate(repo, "init", "--dvc")  # a second run changes nothing
    assert "it has a stage 'mlgate' already" in again.stdout
    assert (repo / "dvc.yaml").read_text() == merged
    # a file it cannot extend without rewriting: an error, the file untouched
    flow = 'stages: {train: {cmd: "python train.py"}}\n'
    (repo / "dvc.yaml").write_text(flow)
    refused = mlgate(repo, "init", "--dvc")
    assert refused.returncode == 4
    assert "add it under stages: by hand" in refused.stderr
    assert (repo / "dvc.yaml").read_text() == flow
    # no dvc.yaml: written whole, and DVC reads it
    (repo / "dvc.yaml").unlink()
    assert "wrote dvc.yaml" in mlgate(repo, "init", "--dvc").stdout
    assert "mlgate" in dvc(repo, "stage", "list").stdout


def test_report_metrics_in_the_config_file_and_an_ungated_run_writes_none(repo: Path) -> None:
    text = THRESHOLDS.format(checkpoint="a") + '\n[report]\nmetrics = "out/metrics.json"\n'
    (repo / "thresholds.toml").write_text(text)
    assert run_gate(repo).returncode == 0
    written = json.loads((repo / "out" / "metrics.json").read_text())
    assert written["mlgate_tr_mc"]["acc"]["value"] == 0.8
    assert written["mlgate_tr_mc"]["acc"]["n"] == 100
    (repo / "out" / "metrics.json").unlink()
    plain = subprocess.run(  # plain pytest: no eval items run, no metrics file
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider"],
        cwd=repo,
        env=env(),
        capture_output=True,
        text=True,
    )
    assert plain.returncode in (0, 5)
    assert not (repo / "out" / "metrics.json").exists()


def metric(task: str, key: str, scores: list[float]) -> MetricResult:
    return MetricResult(task, key, sum(scores) / len(scores), None, len(scores), True,
                        tuple(range(len(scores))), tuple(scores))  # fmt: skip


def test_keys_are_escaped_nested_ordered_and_a_missing_metric_is_a_failure() -> None:
    dotted = TaskResult(
        "tr.v2", {"acc,none": metric("tr.v2", "acc,none", [1.0, 0.0, 1.0, 1.0])}, n=4
    )
    other = TaskResult(
        "mlgate",
        {
            "exact_match,strict-match": metric("mlgate", "exact_match,strict-match", [1.0, 0.0]),
            "f1.5,none": metric("mlgate", "f1.5,none", [0.5, 0.5]),
        },
        n=2,
    )
    run = EvalRun({"tr.v2": dotted, "mlgate": other})
    verdicts = [
        compared("tr.v2", "acc", "warn", value=0.75, baseline=0.8, delta=-0.05),
        Verdict(MetricThreshold("tr.v2", "acc", subgroup="a.b"), Status.PASS, "r", value=1.0, n=2),
        Verdict(MetricThreshold("mlgate", "bleu"), Status.FAIL, "missing", value=None),
    ]
    document = metrics_document(outcome("r1", run, verdicts=verdicts, commit="c0ffee"))
    assert list(document) == ["mlgate", "%6Dlgate", "tr%2Ev2"]  # the gate's own key first
    assert document["mlgate"] == {
        "run_id": "r1", "verdict": "fail", "verdict_code": 2, "items": 3, "failed": 1,
        "warned": 1, "baseline": "r0", "commit": "c0ffee", "suite": None,
    }  # fmt: skip
    assert list(document["%6Dlgate"]) == ["bleu", "exact_match,strict-match", "f1%2E5"]
    assert document["%6Dlgate"]["bleu"] == {"value": None, "verdict": "fail", "verdict_code": 2}
    acc = document["tr%2Ev2"]["acc"]
    assert (acc["value"], acc["baseline"], acc["delta"]) == (0.75, 0.8, -0.05)
    assert acc["verdict_code"] == 1
    assert acc["subgroups"] == {"a%2Eb": {"value": 1.0, "n": 2, "verdict": "pass",
                                          "verdict_code": 0}}  # fmt: skip
    # every key reads back to the name it escapes, whatever it holds
    for name in ("tr.v2", "50%.x", "a%2Eb", "plain"):
        assert unquote(escape_key(name)) == name
        assert "." not in escape_key(name)
    # the order of the verdicts (or of the run's tasks) never changes the bytes
    reordered = outcome("r1", EvalRun({"mlgate": other, "tr.v2": dotted}),
                        verdicts=verdicts[::-1], commit="c0ffee")  # fmt: skip
    assert render_metrics(reordered) == render_metrics(
        outcome("r1", run, verdicts=verdicts, commit="c0ffee")
    )
