"""``mlgate comment``: post a run's Markdown summary on its PR, from a ``workflow_run`` event.

The comment workflow runs with a token that can write to every PR of the repository, on an
artifact the PR's own run uploaded: a fork PR controls every byte of it. So nothing in the
artifact decides *where* the comment goes:

- the PR is found from the event GitHub wrote (the run's head repository, branch and SHA),
  looked up through the API; the PR's current head must be that SHA (a stale run posts nothing);
- the summary is read as text, size-capped, and is posted only if it names that head SHA (a
  summary replayed from another run names another commit);
- only a comment this tool owns (its hidden marker, written by the bot) is ever edited.

Plain Python: the GitHub API is reached through the ``gh`` command, as the workflow's steps do.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pytest_mlgate.errors import MlgateError
from pytest_mlgate.report.markdown import COMMENT_LIMIT

__all__ = ["MARKER", "CommentError", "Posted", "find_pull_request", "post_summary"]

MARKER = "<!-- mlgate-comment -->"
# GitHub refuses comment bodies over 65,536 characters; room is left for the marker and a note.
MAX_SUMMARY_CHARS = COMMENT_LIMIT - 256
DEFAULT_AUTHOR = "github-actions[bot]"  # who GITHUB_TOKEN comments as
_SHA = re.compile(r"[0-9a-f]{40}")


class CommentError(MlgateError):
    """The API call failed, or the event is not one a comment can be posted for."""


@dataclass(frozen=True)
class RunHead:
    """What the ``workflow_run`` event says about the run (written by GitHub, not the PR)."""

    repository: str  #: the head repository, ``owner/name`` (a fork's for a fork PR)
    owner: str
    branch: str
    sha: str
    listed: tuple[int, ...]  #: PR numbers GitHub attached to the run (empty for forks)


@dataclass(frozen=True)
class Posted:
    """What ``post_summary`` did: ``action`` is created, updated or skipped."""

    action: str
    message: str
    pr: int | None = None


def run_head(event: Mapping[str, Any]) -> RunHead:
    run = event.get("workflow_run")
    if not isinstance(run, Mapping):
        raise CommentError("the event has no workflow_run: run this from a workflow_run workflow")
    head_repo = run.get("head_repository") or {}
    fields = {
        "head_repository.full_name": head_repo.get("full_name"),
        "head_repository.owner.login": (head_repo.get("owner") or {}).get("login"),
        "head_branch": run.get("head_branch"),
        "head_sha": run.get("head_sha"),
    }
    missing = [name for name, value in fields.items() if not isinstance(value, str) or not value]
    if missing:
        raise CommentError(f"the workflow_run event lacks {', '.join(missing)}")
    sha = str(fields["head_sha"])
    if not _SHA.fullmatch(sha):
        raise CommentError(f"workflow_run.head_sha {sha!r} is not a commit SHA")
    listed = tuple(
        pr["number"]
        for pr in run.get("pull_requests") or ()
        if isinstance(pr, Mapping) and isinstance(pr.get("number"), int)
    )
    return RunHead(
        str(fields["head_repository.full_name"]),
        str(fields["head_repository.owner.login"]),
        str(fields["head_branch"]),
        sha,
        listed,
    )


class GitHub:
    """The few REST calls this needs, through ``gh api`` (``GH_TOKEN`` from the environment)."""

    def __init__(self, repo: str, gh: str = "gh") -> None:
        if not re.fullmatch(r"[\w.-]+/[\w.-]+", repo):
            raise CommentError(f"--repo {repo!r}: expected OWNER/NAME")
        self.repo = repo
        self.gh = gh

    def _call(self, *args: str, body: Mapping[str, str] | None = None) -> list[Any]:
        """Every JSON value ``gh`` printed (``--paginate`` prints one array per page)."""
        with tempfile.TemporaryDirectory() as tmp:
            command = [self.gh, "api", *args]
            if body is not None:
                payload = Path(tmp) / "body.json"
                payload.write_text(json.dumps(body), encoding="utf-8")
                command += ["--input", str(payload)]
            try:
                out = subprocess.run(
                    command, capture_output=True, text=True, timeout=120, check=False
                )
            except (OSError, subprocess.SubprocessError) as exc:
                raise CommentError(f"{self.gh} api {args[-1]}: {exc}") from exc
        if out.returncode != 0:
            detail = out.stderr.strip() or out.stdout.strip()
            raise CommentError(f"gh api {' '.join(args)} failed: {detail}")
        return _json_values(out.stdout)

    def open_pulls(self, head: str) -> list[Mapping[str, Any]]:
        pages = self._call(
            "--method", "GET", "--paginate", f"repos/{self.repo}/pulls",
            "-f", "state=open", "-f", f"head={head}", "-F", "per_page=100",
        )  # fmt: skip
        return [pr for page in pages for pr in _items(page)]

    def comments(self, pr: int) -> list[Mapping[str, Any]]:
        pages = self._call(
            "--method", "GET", "--paginate", f"repos/{self.repo}/issues/{pr}/comments",
            "-F", "per_page=100",
        )  # fmt: skip
        return [c for page in pages for c in _items(page)]

    def create(self, pr: int, body: str) -> None:
        self._call(
            "--method", "POST", f"repos/{self.repo}/issues/{pr}/comments", body={"body": body}
        )

    def update(self, comment_id: int, body: str) -> None:
        self._call(
            "--method",
            "PATCH",
            f"repos/{self.repo}/issues/comments/{comment_id}",
            body={"body": body},
        )


def _json_values(text: str) -> list[Any]:
    decoder, at = json.JSONDecoder(), 0
    values: list[Any] = []
    while True:
        while at < len(text) and text[at].isspace():
            at += 1
        if at == len(text):
            return values
        try:
            value, at = decoder.raw_decode(text, at)
        except json.JSONDecodeError as exc:
            raise CommentError(f"gh printed something that is not JSON: {exc}") from None
        values.append(value)


def _items(page: object) -> list[Mapping[str, Any]]:
    if not isinstance(page, list):
        raise CommentError(f"expected a JSON array from the API, got {type(page).__name__}")
    return [item for item in page if isinstance(item, Mapping)]


def find_pull_request(api: GitHub, head: RunHead) -> tuple[int | None, str]:
    """The open PR of the base repository whose head is exactly this run's head, and why not."""
    matches = [
        pr
        for pr in api.open_pulls(f"{head.owner}:{head.branch}")
        if (pr.get("head") or {}).get("sha") == head.sha
        and ((pr.get("head") or {}).get("repo") or {}).get("full_name") == head.repository
        and ((pr.get("base") or {}).get("repo") or {}).get("full_name") == api.repo
        and isinstance(pr.get("number"), int)
    ]
    if len(matches) > 1 and head.listed:
        matches = [pr for pr in matches if pr["number"] in head.listed]
    if not matches:
        return None, (
            f"no open PR of {api.repo} has head {head.repository}@{head.branch} at {head.sha} "
            "(closed, or pushed again since this run): nothing posted"
        )
    if len(matches) > 1:
        numbers = ", ".join(f"#{pr['number']}" for pr in matches)
        return None, f"head {head.sha} is the head of several PRs ({numbers}): nothing posted"
    return int(matches[0]["number"]), ""


def read_summary(path: Path, limit: int = MAX_SUMMARY_CHARS) -> str | None:
    """The summary as text, at most ``limit`` characters of it, cut at a line (``None``: there
    is none). Only a regular file is read (a link in an artifact could point anywhere on the
    runner), and never more than 4 bytes per allowed character of it."""
    if not path.exists() and not path.is_symlink():
        return None
    if path.is_symlink() or not path.is_file():
        raise CommentError(f"{path}: not a regular file; refusing to read it")
    with path.open("rb") as handle:
        data = handle.read(4 * limit + 1)
    text = data.decode("utf-8", errors="replace")
    if len(text) > limit:
        cut = text.rfind("\n", 0, limit)
        text = text[: cut if cut > 0 else limit]
        text += f"\n\n… (summary cut at {limit:,} characters; the full one is in the artifact)"
    return text


def comment_body(summary: str) -> str:
    """The posted text: the summary without any marker of its own, then this tool's marker."""
    return summary.replace(MARKER, "").rstrip() + "\n\n" + MARKER + "\n"


def _owned(comment: Mapping[str, Any], author: str) -> bool:
    user = comment.get("user") or {}
    return user.get("login") == author and MARKER in str(comment.get("body", ""))


def post_summary(
    event: Mapping[str, Any],
    summary_path: Path,
    api: GitHub,
    author: str = DEFAULT_AUTHOR,
) -> Posted:
    """Post (or update) the summary on the run's PR; every refusal says why."""
    run = event.get("workflow_run") or {}
    if isinstance(run, Mapping) and run.get("event") not in (None, "pull_request"):
        return Posted("skipped", f"the run was for a {run.get('event')} event, not a PR")
    head = run_head(event)
    summary = read_summary(summary_path)
    if summary is None:
        return Posted("skipped", f"no summary at {summary_path}: the eval did not get that far")
    if not re.search(rf"(?<![0-9a-f]){head.sha}(?![0-9a-f])", summary):
        raise CommentError(
            f"{summary_path} does not name the run's head commit {head.sha}: it was written for "
            "another run (or without MLGATE_HEAD_SHA); nothing posted"
        )
    pr, why = find_pull_request(api, head)
    if pr is None:
        return Posted("skipped", why)
    body = comment_body(summary)
    mine = [c for c in api.comments(pr) if _owned(c, author) and isinstance(c.get("id"), int)]
    if mine:
        api.update(int(mine[-1]["id"]), body)
        return Posted("updated", f"updated comment {mine[-1]['id']} on PR #{pr}", pr)
    api.create(pr, body)
    return Posted("created", f"commented on PR #{pr}", pr)


def load_event(path: str | None) -> Mapping[str, Any]:
    """The event payload: ``path``, else ``$GITHUB_EVENT_PATH``."""
    where = path or os.environ.get("GITHUB_EVENT_PATH")
    if not where:
        raise CommentError("no event: pass --event PATH or set GITHUB_EVENT_PATH")
    try:
        data = json.loads(Path(where).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CommentError(f"{where}: cannot read the event: {exc}") from None
    if not isinstance(data, Mapping):
        raise CommentError(f"{where}: the event is not a JSON object")
    return data
