"""``mlgate init --dvc``: the gate as a stage of ``dvc.yaml``, merged into an existing file.

The stage runs the gate and declares its metrics file with ``cache: false`` (DVC reads it from
git, so ``dvc metrics diff`` compares commits without a remote). An existing ``dvc.yaml`` is
never rewritten from a parse: the stage's lines are inserted under its ``stages:`` (with the
file's own indentation), and the result is parsed back and checked to hold every stage it held
before, unchanged, plus the new one; a stage already called ``mlgate`` is left as it is.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

DVC_FILE = "dvc.yaml"
STAGE = "mlgate"
METRICS_FILE = "mlgate-metrics.json"


@dataclass(frozen=True)
class DvcMerge:
    """What ``mlgate init --dvc`` does to ``dvc.yaml``: the new text (None: left as it is) and
    what to tell the user."""

    text: str | None
    said: str


def stage_lines(indent: str, config: str = "thresholds.toml") -> list[str]:
    """The stage ``mlgate`` as YAML lines, each starting with ``indent`` (one level in)."""
    i = indent
    return [
        f"{i}{STAGE}:",
        f"{i}{i}# the eval gate; it decides on the checkpoint's fingerprint, not on DVC's deps,",
        f"{i}{i}# so it always runs (its result cache answers an unchanged checkpoint at once)",
        f"{i}{i}cmd: python -m pytest -m eval --mlgate-metrics {METRICS_FILE}",
        f"{i}{i}deps:",
        f"{i}{i}- {config}",
        f"{i}{i}always_changed: true",
        f"{i}{i}metrics:",
        f"{i}{i}- {METRICS_FILE}:",
        f"{i}{i}{i}{i}cache: false",
    ]


def _load(text: str, where: Path) -> dict[str, Any]:
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ValueError(f"{where} is not valid YAML ({exc}); fix it, then rerun") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ValueError(f"{where}: expected a mapping at the top (stages:, metrics:, ...)")
    return data


def merge_dvc(path: Path) -> DvcMerge:
    """The gate's stage added to ``path`` (created when missing); ValueError when the file
    cannot take it without rewriting what the user wrote."""
    if not path.exists():
        return DvcMerge("stages:\n" + "\n".join(stage_lines("  ")) + "\n", f"wrote {path.name}")
    text = path.read_text(encoding="utf-8")
    before = _load(text, path)
    stages = before.get("stages")
    if isinstance(stages, dict) and STAGE in stages:
        return DvcMerge(None, f"kept {path.name}: it has a stage {STAGE!r} already")
    lines = text.splitlines()
    if stages is None and "stages" not in before:
        ending = "" if not text or text.endswith("\n") else "\n"
        merged = text + ending + "stages:\n" + "\n".join(stage_lines("  ")) + "\n"
    else:
        merged = _insert(lines, path)
    after = _load(merged, path)
    expected = {**before, "stages": {**(before.get("stages") or {}), STAGE: _stage_value()}}
    if after != expected:
        raise ValueError(_by_hand(path))
    return DvcMerge(merged, f"added stage {STAGE!r} to {path.name}")


def _insert(lines: list[str], path: Path) -> str:
    """The stage's lines inserted right under the top-level ``stages:`` line."""
    at = next((n for n, line in enumerate(lines) if line.rstrip() == "stages:"), None)
    if at is None:
        raise ValueError(_by_hand(path))
    children = [
        line for line in lines[at + 1 :] if line.strip() and not line.lstrip().startswith("#")
    ]
    indent = "  "
    if children and children[0][:1] in (" ", "\t"):
        indent = children[0][: len(children[0]) - len(children[0].lstrip())]
    merged = [*lines[: at + 1], *stage_lines(indent), *lines[at + 1 :]]
    return "\n".join(merged) + "\n"


def _stage_value() -> Any:
    return yaml.safe_load("\n".join(stage_lines("  ")))[STAGE]


def _by_hand(path: Path) -> str:
    stage = "\n".join(stage_lines("  "))
    return (
        f"{path}: could not add the stage without rewriting the file (its stages: is not a "
        f"block mapping); add it under stages: by hand:\n{stage}"
    )
