"""``mlgate comment`` against a fake ``gh`` on PATH that answers in the REST API's shapes.

The artifact is the PR's own upload: every test here hands the command an artifact a fork could
have written, and checks where the comment lands (or that none does).
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

import pytest

from pytest_mlgate.cli.main import main
from pytest_mlgate.report.comment import MARKER, MAX_SUMMARY_CHARS
from pytest_mlgate.report.markdown import render_markdown
from pytest_mlgate.results import EvalRun
from tests.outcomes import compared, outcome

BASE = "acme/finetune"
FORK = "mallory/finetune"
HEAD = "3f1c2e9a7b5d4c6e8f0a1b2c3d4e5f6a7b8c9d0e"
OTHER_HEAD = "9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c4d3e2f1a0b"
FAKE_GH = Path(__file__).with_name("fake_gh.py")


def pull(number: int, repo: str, branch: str, sha: str) -> dict[str, Any]:
    owner = repo.split("/")[0]
    return {
        "url": f"https://api.github.com/repos/{BASE}/pulls/{number}",
        "number": number,
        "state": "open",
        "title": f"PR {number}",
        "user": {"login": owner, "type": "User"},
        "head": {
            "label": f"{owner}:{branch}",
            "ref": branch,
            "sha": sha,
            "user": {"login": owner},
            "repo": {"full_name": repo, "owner": {"login": owner}, "fork": repo != BASE},
        },
        "base": {
            "label": "acme:main",
            "ref": "main",
            "sha": "0" * 40,
            "repo": {"full_name": BASE, "owner": {"login": "acme"}},
        },
    }


def workflow_run(repo: str, branch: str, sha: str, event: str = "pull_request") -> dict[str, Any]:
    owner = repo.split("/")[0]
    return {
        "action": "completed",
        "workflow_run": {
            "id": 123456789,
            "name": "mlgate eval",
            "event": event,
            "status": "completed",
            "conclusion": "failure",
            "head_branch": branch,
            "head_sha": sha,
            # GitHub lists PRs here only for branches of the base repository.
            "pull_requests": [],
            "head_repository": {"full_name": repo, "owner": {"login": owner}},
            "repository": {"full_name": BASE, "owner": {"login": "acme"}},
        },
        "repository": {"full_name": BASE},
    }


class FakeGitHub:
    def __init__(self, root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        self.state_path, self.log_path = root / "gh-state.json", root / "gh-log.jsonl"
        self.state: dict[str, Any] = {
            "repo": BASE,
            "pulls": [
                pull(3, BASE, "release-notes", OTHER_HEAD),  # a maintainer's PR
                pull(7, FORK, "patch-1", HEAD),  # the fork PR whose run this is
                pull(8, "eve/finetune", "patch-1", HEAD),  # same branch name, another fork
            ],
            "comments": {
                "3": [
                    {"id": 301, "body": "LGTM", "user": {"login": "alice", "type": "User"}},
                    {
                        "id": 302,
                        "body": "## ✔ mlgate: all passed\n\n" + MARKER,
                        "user": {"login": "github-actions[bot]", "type": "Bot"},
                    },
                ],
                "7": [],
            },
        }
        self.save()
        self.log_path.write_text("")
        bin_dir = root / "bin"
        bin_dir.mkdir()
        gh = bin_dir / "gh"
        gh.write_text(f'#!/bin/sh\nexec "{sys.executable}" "{FAKE_GH}" "$@"\n')
        gh.chmod(0o755)
        monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
        monkeypatch.setenv("FAKE_GH_STATE", str(self.state_path))
        monkeypatch.setenv("FAKE_GH_LOG", str(self.log_path))
        monkeypatch.setenv("GITHUB_REPOSITORY", BASE)

    def save(self) -> None:
        self.state_path.write_text(json.dumps(self.state))

    def comments(self, pr: int) -> list[dict[str, Any]]:
        data: dict[str, Any] = json.loads(self.state_path.read_text())
        return list(data["comments"].get(str(pr), []))

    def writes(self) -> list[dict[str, Any]]:
        calls = [json.loads(line) for line in self.log_path.read_text().splitlines()]
        return [c for c in calls if c["method"] != "GET"]


@pytest.fixture
def github(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> FakeGitHub:
    return FakeGitHub(tmp_path, monkeypatch)


def summary_for(sha: str | None, status: str = "fail") -> str:
    verdict = compared("mlgate_tr_mc", "acc", status, delta=-0.05, p_adjusted=0.01)
    run = outcome("r1", EvalRun({}), suite="fast", checkpoint="c", commit=sha, verdicts=[verdict])
    return render_markdown(run, baseline="r0")


def artifact(root: Path, summary: str, pr_file: str | None = None) -> Path:
    folder = root / "untrusted-artifact"
    folder.mkdir(exist_ok=True)
    (folder / "mlgate-summary.md").write_text(summary, encoding="utf-8")
    if pr_file is not None:
        (folder / "mlgate-pr.txt").write_text(pr_file)  # what the old workflow trusted
    return folder / "mlgate-summary.md"


def comment(root: Path, event: dict[str, Any], summary: Path) -> int:
    event_path = root / "event.json"
    event_path.write_text(json.dumps(event))
    return main(["comment", "--event", str(event_path), "--summary", str(summary)])


def test_the_pr_comes_from_the_event_not_the_artifact(
    github: FakeGitHub, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    summary = artifact(tmp_path, summary_for(HEAD), pr_file="3")
    assert comment(tmp_path, workflow_run(FORK, "patch-1", HEAD), summary) == 0
    assert "commented on PR #7" in capsys.readouterr().out
    (posted,) = github.comments(7)
    assert HEAD in posted["body"]
    assert posted["body"].endswith(MARKER + "\n")
    assert len(github.comments(3)) == 2  # the number in the artifact was never used
    assert [w["path"] for w in github.writes()] == [f"repos/{BASE}/issues/7/comments"]
    # The lookup was by head owner:branch, and PR 8 (same branch name, other fork) was not it.
    lookups = [
        json.loads(line)["fields"]
        for line in github.log_path.read_text().splitlines()
        if json.loads(line)["path"] == f"repos/{BASE}/pulls"
    ]
    assert lookups == [{"state": "open", "head": "mallory:patch-1", "per_page": "100"}]


def test_a_summary_for_another_commit_posts_nothing(
    github: FakeGitHub, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Replaying the passing summary of PR 3's head through a fork's run.
    summary = artifact(tmp_path, summary_for(OTHER_HEAD, status="pass"), pr_file="3")
    assert comment(tmp_path, workflow_run(FORK, "patch-1", HEAD), summary) == 1
    err = capsys.readouterr().err
    assert f"does not name the run's head commit {HEAD}" in err
    assert github.writes() == []
    # A summary that names no commit at all (written without MLGATE_HEAD_SHA) neither.
    summary = artifact(tmp_path, summary_for(None))
    assert comment(tmp_path, workflow_run(FORK, "patch-1", HEAD), summary) == 1
    assert github.writes() == []


def test_a_stale_run_posts_nothing(
    github: FakeGitHub, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    github.state["pulls"][1]["head"]["sha"] = "f" * 40  # pushed again since the run
    github.save()
    summary = artifact(tmp_path, summary_for(HEAD))
    assert comment(tmp_path, workflow_run(FORK, "patch-1", HEAD), summary) == 0
    assert "pushed again since this run): nothing posted" in capsys.readouterr().out
    assert github.writes() == []


def test_only_its_own_marked_comment_is_edited(
    github: FakeGitHub, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    summary = artifact(tmp_path, summary_for(OTHER_HEAD))
    event = workflow_run(BASE, "release-notes", OTHER_HEAD)
    # After the bot's marked comment: a human quoting the marker, a bot comment without it.
    github.state["comments"]["3"] += [
        {"id": 303, "body": f"> {MARKER}\nwhy?", "user": {"login": "bob", "type": "User"}},
        {"id": 304, "body": "deploy preview", "user": {"login": "github-actions[bot]"}},
    ]
    github.save()
    assert comment(tmp_path, event, summary) == 0
    assert "updated comment 302 on PR #3" in capsys.readouterr().out
    bodies = {c["id"]: c["body"] for c in github.comments(3)}
    assert OTHER_HEAD in bodies[302]
    assert bodies[301] == "LGTM"
    assert bodies[303] == f"> {MARKER}\nwhy?"
    assert bodies[304] == "deploy preview"
    assert [w["method"] for w in github.writes()] == ["PATCH"]


def test_the_artifact_is_data_capped_and_never_followed(
    github: FakeGitHub, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # A summary far over the limit, with markers of its own to confuse the next run.
    body = summary_for(HEAD) + (f"{MARKER} padding\n" * 20_000)
    summary = artifact(tmp_path, body)
    assert comment(tmp_path, workflow_run(FORK, "patch-1", HEAD), summary) == 0
    (posted,) = github.comments(7)
    assert len(posted["body"]) <= MAX_SUMMARY_CHARS + 200
    assert posted["body"].count(MARKER) == 1
    assert "summary cut at" in posted["body"]
    # A link in the artifact is not read (it could point at the runner's secrets).
    secret = tmp_path / "secret.md"
    secret.write_text(f"{HEAD} token=hunter2\n")
    link = tmp_path / "untrusted-artifact" / "mlgate-summary.md"
    link.unlink()
    link.symlink_to(secret)
    assert comment(tmp_path, workflow_run(FORK, "patch-1", HEAD), link) == 1
    assert "not a regular file" in capsys.readouterr().err
    assert len(github.comments(7)) == 1


def test_nothing_to_post_is_not_an_error(
    github: FakeGitHub, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "untrusted-artifact" / "mlgate-summary.md"
    assert comment(tmp_path, workflow_run(FORK, "patch-1", HEAD), missing) == 0
    assert "the eval did not get that far" in capsys.readouterr().out
    summary = artifact(tmp_path, summary_for(HEAD))
    assert comment(tmp_path, workflow_run(BASE, "main", HEAD, event="push"), summary) == 0
    assert "not a PR" in capsys.readouterr().out
    assert github.writes() == []


def test_a_malformed_event_is_a_clear_error(
    github: FakeGitHub, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    summary = artifact(tmp_path, summary_for(HEAD))
    event = workflow_run(FORK, "patch-1", HEAD)
    del event["workflow_run"]["head_repository"]
    assert comment(tmp_path, event, summary) == 1
    assert "lacks head_repository.full_name, head_repository.owner.login" in capsys.readouterr().err
    event = workflow_run(FORK, "patch-1", "not-a-sha")
    assert comment(tmp_path, event, summary) == 1
    assert "is not a commit SHA" in capsys.readouterr().err
    assert github.writes() == []


def test_a_gate_run_in_ci_writes_a_summary_the_comment_posts(
    github: FakeGitHub,
    pytester: pytest.Pytester,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The eval job's side: MLGATE_HEAD_SHA (the PR head, not the merge commit GitHub checks
    out) is recorded in the manifest and named by the summary the comment workflow checks."""
    pytester.makeconftest(
        "from pytest_mlgate.backend.fake import FakeBackend\n"
        "def pytest_mlgate_make_backend(spec):\n"
        "    return FakeBackend({'mc': {'acc': [1, 1, 0, 1]}})\n"
    )
    (pytester.path / "ckpt").mkdir()
    pytester.makefile(
        ".toml",
        thresholds='[model]\ncheckpoint = "ckpt"\n[suites.fast]\ntasks = ["mc"]\n'
        "[thresholds.mc]\nacc = 0.5\n",
    )
    monkeypatch.setenv("MLGATE_HEAD_SHA", HEAD)
    result = pytester.runpytest("-m", "eval", "--mlgate-markdown=s.md", "--mlgate-json=r.json")
    assert result.ret == 0
    record = json.loads((pytester.path / "r.json").read_text())
    assert record["manifest"]["git"]["head"] == HEAD
    summary = pytester.path / "s.md"
    assert f"commit `{HEAD}`" in summary.read_text()
    assert comment(pytester.path, workflow_run(FORK, "patch-1", HEAD), summary) == 0
    assert "commented on PR #7" in capsys.readouterr().out
    assert len(github.comments(7)) == 1
