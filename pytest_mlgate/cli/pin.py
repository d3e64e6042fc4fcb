"""``mlgate pin``: the constraints file rewritten from this environment, saying which pins moved."""

from __future__ import annotations

import argparse
from pathlib import Path

from pytest_mlgate.cli.common import Commands, command
from pytest_mlgate.cli.pins import warn_unpinned


def run(args: argparse.Namespace) -> int:
    """Rewrite the constraints file from this environment, saying which pins moved."""
    from pytest_mlgate.cli.pins import CONSTRAINTS_PATH, constraints

    target = Path(args.dir).resolve() / CONSTRAINTS_PATH

    def pins(text: str) -> dict[str, str]:
        pairs = (ln.split("==", 1) for ln in text.splitlines() if "==" in ln and ln[0] != "#")
        return {name.strip(): version.strip() for name, version in pairs}

    before = pins(target.read_text(encoding="utf-8")) if target.is_file() else {}
    text, missing = constraints()
    after = pins(text)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(text, encoding="utf-8")
    print(f"wrote {target}")
    moved = sorted(n for n in {*before, *after} if before.get(n) != after.get(n))
    for name in moved:
        print(f"  {name}: {before.get(name, 'unpinned')} -> {after.get(name, 'unpinned')}")
    if before and moved:
        print(
            "pins moved: scores may move with them. Gate this change with the full suite (label "
            "the PR `full-eval`) and record a new baseline on main after the merge."
        )
    warn_unpinned(missing)
    return 0


def add_parser(commands: Commands) -> None:
    """Declare ``mlgate pin [--dir]``."""
    pin = command(
        commands,
        "pin",
        "write .github/mlgate-constraints.txt: exact versions from this environment",
        run,
    )
    pin.add_argument("--dir", default=".", help="the repository root (default: .)")
