"""A fake ``gh`` for ``mlgate comment``: the REST calls it makes, against a JSON file.

``$FAKE_GH_STATE`` holds ``{"pulls": [...], "comments": {"7": [...]}}`` in the shapes the
GitHub REST API returns; every call is appended to ``$FAKE_GH_LOG`` (one JSON line each).
Lists come back as ``gh api --paginate`` prints them: one JSON array per page, two items a
page. Like the real API, ``head=OWNER:BRANCH`` filters pulls by ``head.label``.
"""

from __future__ import annotations

import json
import os
import re
import sys
from pathlib import Path
from typing import Any, NoReturn

BOT = {"login": "github-actions[bot]", "id": 41898282, "type": "Bot"}


def fail(status: int, message: str) -> NoReturn:
    print(f"gh: {message} (HTTP {status})", file=sys.stderr)
    sys.exit(1)


def pages(items: list[Any]) -> str:
    chunks = [items[i : i + 2] for i in range(0, len(items), 2)] or [[]]
    return "".join(json.dumps(chunk) for chunk in chunks)


def parse(argv: list[str]) -> tuple[str, str, dict[str, str], Any]:
    """(method, path, fields, body) of a ``gh api`` command line."""
    if not argv or argv[0] != "api":
        fail(400, f"unsupported command {argv[:1]}")
    method, path, fields, body = "GET", None, {}, None
    args = iter(argv[1:])
    for arg in args:
        if arg in ("--method", "-X"):
            method = next(args)
        elif arg in ("-f", "-F", "--raw-field", "--field"):
            key, _, value = next(args).partition("=")
            fields[key] = value
        elif arg == "--input":
            body = json.loads(Path(next(args)).read_text())
        elif arg.startswith("-") and arg != "--paginate":
            fail(400, f"unsupported flag {arg}")
        elif not arg.startswith("-"):
            path = arg
    if path is None:
        fail(400, "no endpoint")
    assert path is not None
    return method, path, fields, body


def issue_comments(state: dict[str, Any], number: str, method: str, body: Any) -> Any:
    if not any(str(pr["number"]) == number for pr in state["pulls"]):
        fail(404, "Not Found")
    comments = state["comments"].setdefault(number, [])
    if method == "GET":
        return comments
    if method != "POST" or body is None:
        fail(404, "Not Found")
    state["next_id"] = state.get("next_id", 9000) + 1
    comment = {"id": state["next_id"], "body": body["body"], "user": BOT}
    comments.append(comment)
    return comment


def edit_comment(state: dict[str, Any], comment_id: int, body: Any) -> Any:
    for comments in state["comments"].values():
        for comment in comments:
            if comment["id"] == comment_id:
                if comment["user"]["login"] != BOT["login"]:
                    fail(403, "Resource not accessible by integration")
                comment["body"] = body["body"]
                return comment
    return fail(404, "Not Found")


def main(argv: list[str]) -> None:
    state_path = Path(os.environ["FAKE_GH_STATE"])
    state = json.loads(state_path.read_text())
    method, path, fields, body = parse(argv)
    with Path(os.environ["FAKE_GH_LOG"]).open("a") as log:
        log.write(json.dumps({"method": method, "path": path, "fields": fields, "body": body}))
        log.write("\n")
    repo = re.escape(state["repo"])
    listing = re.fullmatch(rf"repos/{repo}/issues/(\d+)/comments", path)
    editing = re.fullmatch(rf"repos/{repo}/issues/comments/(\d+)", path)
    if method == "GET" and path == f"repos/{state['repo']}/pulls":
        answer: Any = [
            pr
            for pr in state["pulls"]
            if pr["state"] == fields.get("state", "open")
            and ("head" not in fields or pr["head"]["label"] == fields["head"])
        ]
    elif listing:
        answer = issue_comments(state, listing.group(1), method, body)
    elif editing and method == "PATCH" and body is not None:
        answer = edit_comment(state, int(editing.group(1)), body)
    else:
        fail(404, "Not Found")
    state_path.write_text(json.dumps(state))
    print(pages(answer) if isinstance(answer, list) else json.dumps(answer))


if __name__ == "__main__":
    main(sys.argv[1:])
