"""Running the gate as a user does: `python -m pytest -m eval` in a repo, offline."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

from pytest_mlgate.cli.demo import offline_env

GATE_COMMAND = [sys.executable, "-m", "pytest", "-m", "eval", "-p", "no:cacheprovider"]


def gate_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    return {**offline_env(), **(extra or {})}


def run_gate(
    repo: Path, *args: str, env: Mapping[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*GATE_COMMAND, *args],
        cwd=repo,
        env=gate_env(env),
        capture_output=True,
        text=True,
        check=False,
    )
