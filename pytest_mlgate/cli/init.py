"""``mlgate init``: thresholds.toml, eval workflows and constraints written into a repo."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from pytest_mlgate.cli.common import USAGE_ERROR, Commands, command, positive
from pytest_mlgate.cli.pins import warn_unpinned
from pytest_mlgate.config.schema import DEFAULT_CONFIG_NAME


def run(args: argparse.Namespace) -> int:
    """Write thresholds.toml, the eval workflows and their constraints file into a repository;
    never overwrite silently."""
    from pytest_mlgate.cli.pins import CONSTRAINTS_PATH, constraints

    templates = Path(__file__).resolve().parents[1] / "templates"
    root = Path(args.dir).resolve()
    pinned, missing = constraints()
    config = (templates / "thresholds.toml").read_text(encoding="utf-8")
    workflows = {w.name: w for w in sorted((templates / "workflows").glob("*.yml"))}
    if args.store == "mlflow":  # the history in MLflow: no history branch, no writer job
        gate = (templates / "mlflow" / "gate.toml").read_text(encoding="utf-8")
        config = config.replace("[gate]\n", f"[gate]\n{gate}", 1)
        workflows["mlgate-eval.yml"] = templates / "mlflow" / "mlgate-eval.yml"
    files = {
        root / DEFAULT_CONFIG_NAME: config,
        **{
            root / ".github" / "workflows" / name: with_shards(
                workflow.read_text(encoding="utf-8"), args.shards
            )
            for name, workflow in workflows.items()
        },
        root / CONSTRAINTS_PATH: pinned,
    }
    existing = [path for path in files if path.exists()]
    if args.dvc:
        return _with_dvc(root, files, args.force)
    if existing and not args.force:
        listed = ", ".join(str(p.relative_to(root)) for p in existing)
        print(
            f"mlgate: error: {listed} already exist(s) in {root}; pass --force to overwrite",
            file=sys.stderr,
        )
        return USAGE_ERROR
    for target, text in files.items():
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
        print(f"wrote {target.relative_to(root)}")
    warn_unpinned(missing)
    print(
        "next: set [model] checkpoint, then `pytest -m eval`; the workflows need a self-hosted "
        "runner labelled `gpu`"
        + (
            "; add the repository secret MLFLOW_TRACKING_URI (and MLFLOW_TRACKING_USERNAME / "
            "_PASSWORD or _TOKEN if the server asks), and pip install 'pytest-mlgate[mlflow]'"
            if args.store == "mlflow"
            else ""
        )
    )
    return 0


def _with_dvc(root: Path, files: dict[Path, str], force: bool) -> int:
    """``--dvc``: the gate's stage merged into dvc.yaml; the other files written where they do
    not exist yet (kept where they do, unless --force)."""
    from pytest_mlgate.cli.init_dvc import DVC_FILE, merge_dvc

    try:
        merged = merge_dvc(root / DVC_FILE)
    except ValueError as exc:
        print(f"mlgate: error: {exc}", file=sys.stderr)
        return USAGE_ERROR
    for target, text in files.items():
        if target.exists() and not force:
            print(f"kept {target.relative_to(root)} (it exists)")
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
        print(f"wrote {target.relative_to(root)}")
    if merged.text is not None:
        (root / DVC_FILE).write_text(merged.text, encoding="utf-8")
    print(merged.said)
    print(
        "next: `dvc repro mlgate` runs the gate; commit dvc.yaml and dvc.lock, then "
        "`dvc metrics diff main` shows each gated metric's change"
    )
    return 0


SHARD_MARK = "  # mlgate init --shards N"


def with_shards(workflow: str, shards: int) -> str:
    """The eval workflow's full-suite matrix set to ``shards`` jobs (the lines marked for it)."""
    lines = []
    for line in workflow.splitlines(keepends=True):
        if line.rstrip("\n").endswith(SHARD_MARK):
            key, _, _ = line.partition(":")
            value = f"[{', '.join(map(str, range(1, shards + 1)))}]" if "shard:" in line else shards
            line = f"{key}: {value}{SHARD_MARK}\n"
        lines.append(line)
    return "".join(lines)


def add_parser(commands: Commands) -> None:
    """Declare ``mlgate init [--dir] [--force] [--dvc] [--shards N] [--store folder|mlflow]``."""
    init = command(
        commands,
        "init",
        "write thresholds.toml and the GitHub Actions eval workflows into a repo",
        run,
    )
    init.add_argument("--dir", default=".", help="the repository root (default: .)")
    init.add_argument("--force", action="store_true", help="overwrite existing files")
    init.add_argument(
        "--dvc",
        action="store_true",
        help="also add a dvc.yaml stage that runs the gate with its metrics file (merged into "
        "an existing dvc.yaml; files that exist already are kept unless --force)",
    )
    init.add_argument(
        "--shards",
        type=positive,
        default=2,
        help="GPU jobs the full suite is split across (default: 2; 1: unsharded in one job)",
    )
    init.add_argument(
        "--store",
        choices=("folder", "mlflow"),
        default="folder",
        help="where the history lives: a git branch of folder records (default) or MLflow",
    )
