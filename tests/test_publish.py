"""`mlgate history publish`: five publishers at once against one bare repository, each record
lands, each index line once; a cancelled publisher (SIGTERM) leaves nothing behind."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

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
    started = [
        subprocess.Popen(
            publish_command(remote), cwd=job, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            text=True,
        )
        for job in jobs
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
    assert sum("after 1 attempt(s)" in out for out in outputs) >= 1
    # Publishing again adds nothing.
    again = subprocess.run(publish_command(remote), cwd=jobs[0], capture_output=True, text=True)
    assert again.returncode == 0
    assert "nothing to publish" in again.stdout
    # The branch the folder store reads is valid history.
    reader = FolderStore(tmp_path / "check")
    assert {e.run_id for e in reader.entries()} == expected


def test_a_cancelled_publisher_leaves_nothing_behind(tmp_path: Path) -> None:
    """SIGTERM while publishing: the remote unchanged or whole, no temporary clone left."""
    remote = tmp_path / "remote.git"
    git(tmp_path, "init", "-q", "--bare", str(remote))
    job = publisher(tmp_path / "job", remote, 20)
    temp = tmp_path / "tmp"
    temp.mkdir()
    env = {**os.environ, "TMPDIR": str(temp)}
    process = subprocess.Popen(publish_command(remote), cwd=job, env=env)
    time.sleep(0.4)  # inside the import or the git work
    process.send_signal(signal.SIGTERM)
    process.wait(timeout=60)
    assert list(temp.iterdir()) == []  # the temporary clone is gone
    listed = subprocess.run(
        ["git", "ls-remote", str(remote)], capture_output=True, text=True, check=True
    ).stdout
    if BRANCH in listed:  # the push happened before the signal: then it is whole
        runs, index = branch_contents(tmp_path, remote)
        assert sorted(runs) == sorted(index)
        assert len(runs) == 2
    done = subprocess.run(publish_command(remote), cwd=job, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
    runs, index = branch_contents(tmp_path, remote, "after")
    assert len(runs) == 2
    assert sorted(runs) == sorted(index)
