"""`mlgate history publish`: five publishers pushing at the same instant against one bare
repository (a pre-push hook holds each first push until all five are ready), each record lands,
each index line once; a publisher cancelled (SIGTERM) just before its push, or just after the
remote took it, leaves nothing behind and the branch whole."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from pytest_mlgate.store.folder import FolderStore
from tests.test_store import make_record

BRANCH = "mlgate-history"


def git(cwd: Path, *args: str) -> str:
    command = ["git", "-c", "user.name=t", "-c", "user.email=t@t", *args]
    return subprocess.run(command, cwd=cwd, check=True, capture_output=True, text=True).stdout


def publisher(folder: Path, remote: Path, day: int) -> Path:
    """A CI job's checkout: the history it fetched (one shared run) plus the run it recorded."""
    folder.mkdir()
    store = FolderStore(folder / ".mlgate")
    store.append(SHARED)
    store.append(make_record("main", f"2026-11-{day:02d}T00:00:00+00:00"))
    return folder


SHARED = make_record("main", "2026-11-01T00:00:00+00:00")


# Held until every publisher is about to push: their first pushes race for one base commit.
BARRIER_HOOK = """#!/bin/sh
[ -e "$MLGATE_HOLD/pushed-$MLGATE_JOB" ] && exit 0
touch "$MLGATE_HOLD/pushed-$MLGATE_JOB"
for _ in $(seq 2400); do
  [ "$(ls "$MLGATE_HOLD" | grep -c '^pushed-')" -ge "$MLGATE_JOBS" ] && exit 0
  sleep 0.05
done
exit 1
"""
# Says it got here, then waits until the test releases it (bounded: never an orphan for long).
HOLD_HOOK = """#!/bin/sh
touch "$MLGATE_HOLD/reached"
for _ in $(seq 2400); do
  [ -e "$MLGATE_HOLD/release" ] && exit 0
  sleep 0.05
done
exit 1
"""


def hooks(folder: Path, name: str, script: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    hook = folder / name
    hook.write_text(script, encoding="utf-8")
    hook.chmod(0o755)
    return folder


def with_hooks(hooks_path: Path, hold: Path, **extra: str) -> dict[str, str]:
    """The environment of a publisher whose git runs the hooks in ``hooks_path``."""
    return {
        **os.environ,
        "GIT_CONFIG_COUNT": "1",
        "GIT_CONFIG_KEY_0": "core.hooksPath",
        "GIT_CONFIG_VALUE_0": str(hooks_path),
        "MLGATE_HOLD": str(hold),
        **extra,
    }


def wait_for(path: Path, process: subprocess.Popen[bytes]) -> None:
    """Until ``path`` exists (the hook got there); fails if the publisher ended first."""
    deadline = time.monotonic() + 120
    while not path.exists():
        assert process.poll() is None, "the publisher ended before reaching the hook"
        assert time.monotonic() < deadline, f"{path} never appeared"
        time.sleep(0.05)


def publish_command(remote: Path) -> list[str]:
    return [
        sys.executable, "-m", "pytest_mlgate.cli.main", "history", "publish",
        "--store", ".mlgate", "--git-branch", BRANCH, "--remote", str(remote),
    ]  # fmt: skip


def branch_contents(tmp: Path, remote: Path, name: str = "check") -> tuple[list[str], list[str]]:
    check = tmp / name
    git(tmp, "clone", "-q", "--branch", BRANCH, str(remote), str(check))
    runs = sorted(p.stem for p in (check / "runs").glob("*.json"))
    index = [
        json.loads(line)["run_id"] for line in (check / "index.jsonl").read_text().splitlines()
    ]
    return runs, index


def test_five_publishers_at_once_all_land_each_index_line_once(tmp_path: Path) -> None:
    remote = tmp_path / "remote.git"
    git(tmp_path, "init", "-q", "--bare", str(remote))
    jobs = [publisher(tmp_path / f"job{i}", remote, 10 + i) for i in range(5)]
    hold = tmp_path / "hold"
    hold.mkdir()
    hooks_path = hooks(tmp_path / "hooks", "pre-push", BARRIER_HOOK)
    started = [
        subprocess.Popen(
            publish_command(remote), cwd=job, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            text=True, env=with_hooks(hooks_path, hold, MLGATE_JOB=str(i), MLGATE_JOBS="5"),
        )
        for i, job in enumerate(jobs)
    ]  # fmt: skip
    outputs = [process.communicate(timeout=300)[0] for process in started]
    transcript = "\n".join(f"job{i}: {out.strip()}" for i, out in enumerate(outputs))
    print("\n" + transcript)
    assert all(p.returncode == 0 for p in started), transcript
    runs, index = branch_contents(tmp_path, remote)
    expected = {SHARED.run_id} | {
        e.run_id for job in jobs for e in FolderStore(job / ".mlgate").entries()
    }
    assert set(runs) == expected
    assert len(runs) == 6  # the shared run and five new ones
    assert sorted(index) == sorted(expected)  # every line once
    # All five fetched the same (empty) branch before any pushed: exactly one first push wins,
    # the other four are rejected and retried from a fresh fetch.
    assert sum("after 1 attempt(s)" in out for out in outputs) == 1, transcript
    assert len(list(hold.glob("pushed-*"))) == 5
    # Publishing again adds nothing.
    again = subprocess.run(publish_command(remote), cwd=jobs[0], capture_output=True, text=True)
    assert again.returncode == 0
    assert "nothing to publish" in again.stdout
    # The branch the folder store reads is valid history.
    reader = FolderStore(tmp_path / "check")
    assert {e.run_id for e in reader.entries()} == expected


@pytest.mark.parametrize("when", ["before-the-push", "after-the-remote-took-it"])
def test_a_cancelled_publisher_leaves_nothing_behind(tmp_path: Path, when: str) -> None:
    """SIGTERM at a point a hook fixes: just before the push (the remote is unchanged), or
    once the remote has updated the branch (it is whole); either way no temporary clone is left
    and a second publish completes the branch."""
    remote = tmp_path / "remote.git"
    git(tmp_path, "init", "-q", "--bare", str(remote))
    job = publisher(tmp_path / "job", remote, 20)
    temp, hold = tmp_path / "tmp", tmp_path / "hold"
    temp.mkdir()
    hold.mkdir()
    if when == "before-the-push":  # the publisher's own git runs the hook
        env = with_hooks(hooks(tmp_path / "hooks", "pre-push", HOLD_HOOK), hold)
    else:  # the remote runs it after updating the ref, while the push waits for it
        hooks(remote / "hooks", "post-receive", HOLD_HOOK)
        env = {**os.environ, "MLGATE_HOLD": str(hold)}
    process = subprocess.Popen(publish_command(remote), cwd=job, env={**env, "TMPDIR": str(temp)})
    try:
        wait_for(hold / "reached", process)
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=60)
    finally:
        (hold / "release").touch()  # the hook, orphaned by the signal, ends too
    assert process.returncode != 0
    assert list(temp.iterdir()) == []  # the temporary clone is gone
    listed = subprocess.run(
        ["git", "ls-remote", str(remote)], capture_output=True, text=True, check=True
    ).stdout
    if when == "before-the-push":
        assert BRANCH not in listed  # nothing partial reached the remote
    else:
        assert BRANCH in listed
        runs, index = branch_contents(tmp_path, remote)
        assert sorted(runs) == sorted(index)
        assert len(runs) == 2
    (remote / "hooks" / "post-receive").unlink(missing_ok=True)
    done = subprocess.run(publish_command(remote), cwd=job, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
    runs, index = branch_contents(tmp_path, remote, "after")
    assert len(runs) == 2
    assert sorted(runs) == sorted(index)
