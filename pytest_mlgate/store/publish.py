"""``mlgate history publish``: append a folder store's records to a git branch, safely at once.

Several runs on main can finish at the same time (a burst of merges). Each publisher fetches the
branch, adds the records it has and the branch lacks (``runs/<id>.json`` files are never
rewritten), merges the index (every run's line once, the branch's lines first), commits and
pushes without force. A push rejected because another publisher got there first is retried
from the fetch, with exponential backoff and jitter: every record lands, none twice.

All of it happens in a temporary clone that is removed afterwards; the remote changes only by an
atomic push. SIGTERM (how CI cancels a job) is handled like Ctrl-C: the temporary clone is
removed and nothing partial is pushed.
"""

from __future__ import annotations

import contextlib
import json
import random
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from pytest_mlgate.errors import StoreError
from pytest_mlgate.store.folder import INDEX, RUNS

AUTHOR = ("mlgate", "mlgate@users.noreply.github.com")


@dataclass(frozen=True)
class Published:
    added: tuple[str, ...]  #: run ids this publisher added to the branch
    attempts: int  #: pushes tried (1: no one else was publishing)
    commit: str | None  #: the branch's commit after the push (None: nothing to add)


def _git(args: list[str], cwd: Path, check: bool = True) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        ["git", *args], cwd=cwd, capture_output=True, text=True, timeout=300, check=False
    )
    if check and done.returncode != 0:
        raise StoreError(f"git {' '.join(args[:2])} failed: {done.stderr.strip() or done.stdout}")
    return done


def remote_url(remote: str, repo: Path) -> str:
    """``remote`` as a URL: a URL or path as given, else the named remote of ``repo``."""
    if "://" in remote or remote.startswith(("/", ".", "git@")) or Path(remote).exists():
        return remote
    done = _git(["remote", "get-url", remote], repo, check=False)
    if done.returncode != 0:
        raise StoreError(f"--remote {remote!r}: not a URL and not a remote of {repo}")
    return done.stdout.strip()


def _index_lines(path: Path) -> dict[str, str]:
    """run id -> index line, in file order; an unreadable line is kept under its own text."""
    lines: dict[str, str] = {}
    if not path.is_file():
        return lines
    for raw in path.read_text(encoding="utf-8").splitlines():
        if not raw.strip():
            continue
        try:
            key = str(json.loads(raw)["run_id"])
        except (ValueError, KeyError, TypeError):
            key = raw  # never dropped: the folder store warns about it when reading
        lines.setdefault(key, raw)
    return lines


@contextlib.contextmanager
def _terminable() -> Iterator[None]:
    """SIGTERM raises KeyboardInterrupt while publishing, so clean-up runs as for Ctrl-C."""

    def interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt(f"signal {signum}")

    try:
        previous = signal.signal(signal.SIGTERM, interrupt)
    except ValueError:  # not the main thread: leave signals alone
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def publish(
    store: Path,
    branch: str,
    remote: str,
    repo: Path,
    retries: int = 8,
    backoff: float = 0.5,
) -> Published:
    """Append the records of the folder store ``store`` to ``branch`` of ``remote``."""
    local = _index_lines(store / INDEX)
    records = {run_id: store / RUNS / f"{run_id}.json" for run_id in local}
    missing = [run_id for run_id, path in records.items() if not path.is_file()]
    if missing:
        raise StoreError(f"{store}: index names runs without a record file: {', '.join(missing)}")
    url = remote_url(remote, repo)
    with _terminable(), tempfile.TemporaryDirectory(prefix="mlgate-publish-") as folder:
        work = Path(folder)
        _git(["init", "-q"], work)
        _git(["remote", "add", "origin", url], work)
        for attempt in range(1, retries + 2):
            added = _prepare(work, branch, local, records)
            if not added:
                return Published((), attempt, _head(work))
            pushed = _git(["push", "-q", "origin", f"HEAD:refs/heads/{branch}"], work, check=False)
            if pushed.returncode == 0:
                return Published(tuple(added), attempt, _head(work))
            if attempt > retries:
                raise StoreError(
                    f"could not publish to {branch} after {attempt} attempts: "
                    f"{pushed.stderr.strip()}"
                )
            time.sleep(backoff * 2 ** (attempt - 1) * (0.5 + random.random()))
    raise AssertionError("unreachable")


def _prepare(work: Path, branch: str, local: dict[str, str], records: dict[str, Path]) -> list[str]:
    """The branch as fetched now, with this store's missing records added and the index
    merged, committed in ``work``; the run ids added (none: nothing to push)."""
    fetched = _git(["fetch", "-q", "origin", branch], work, check=False)
    if fetched.returncode == 0:
        _git(["checkout", "-q", "-B", branch, "FETCH_HEAD"], work)
        _git(["clean", "-qfdx"], work)
    elif "couldn't find remote ref" in fetched.stderr.lower() or "not found" in fetched.stderr:
        _git(["checkout", "-q", "--orphan", branch], work)
        _git(["rm", "-rqf", "--ignore-unmatch", "."], work)
    else:
        raise StoreError(f"git fetch {branch} failed: {fetched.stderr.strip()}")
    index = work / INDEX
    merged = _index_lines(index)
    added = [run_id for run_id in local if run_id not in merged]
    if not added:
        return []
    (work / RUNS).mkdir(exist_ok=True)
    for run_id in added:
        target = work / RUNS / f"{run_id}.json"
        if not target.exists():  # a record is never rewritten
            shutil.copyfile(records[run_id], target)
        merged[run_id] = local[run_id]
    index.write_text("".join(line + "\n" for line in merged.values()), encoding="utf-8")
    _git(["add", INDEX, RUNS], work)
    name, email = AUTHOR
    message = f"mlgate: record {', '.join(added)}"
    _git(["-c", f"user.name={name}", "-c", f"user.email={email}", "commit", "-qm", message], work)
    return added


def _head(work: Path) -> str | None:
    done = _git(["rev-parse", "HEAD"], work, check=False)
    return done.stdout.strip() if done.returncode == 0 else None
