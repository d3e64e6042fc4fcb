"""The trigger matrix: what changed decides how deep the eval goes (``--mlgate-suite auto``).

Each changed path gets a change kind from the first glob that matches it (the user's
``[triggers.paths]`` first, then the defaults); each kind maps to a suite (``[triggers.suites]``,
defaults: code and prompt -> fast, data / model / config -> full). The deepest suite needed wins,
depth being the order of ``[triggers] order`` (default: the order suites are declared in, so
``fast`` before ``full``). Plain Python: git is asked through subprocess.
"""

from __future__ import annotations

import fnmatch
import subprocess
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from pytest_mlgate.errors import GitError

__all__ = ["GitError", "Plan", "TriggerConfig", "changed_paths", "kind_of", "plan"]

KINDS = ("code", "data", "model", "prompt", "config")

# Checked in this order; the user's globs come before all of these.
DEFAULT_PATHS: tuple[tuple[str, str], ...] = (
    ("thresholds.toml", "config"),
    ("**/thresholds.toml", "config"),
    ("pyproject.toml", "config"),
    # A chat template changes the prompt, not the weights, even inside a checkpoint folder.
    ("**/chat_template.jinja", "prompt"),
    ("**/chat_template.json", "prompt"),
    ("**/additional_chat_templates/*.jinja", "prompt"),
    ("**/*.safetensors", "model"),
    ("**/*.bin", "model"),
    ("**/*.gguf", "model"),
    ("checkpoints/**", "model"),
    ("**/prompts/**", "prompt"),
    ("**/*.jinja", "prompt"),
    ("**/*.j2", "prompt"),
    ("**/templates/**", "prompt"),
    ("**/*.jsonl", "data"),
    ("**/*.parquet", "data"),
    ("**/*.csv", "data"),
    ("**/data/**", "data"),
    ("**/tasks/**/*.yaml", "data"),
    ("**/*.yaml", "config"),
    ("**/*.yml", "config"),
    ("**/*.toml", "config"),
    ("**/*.py", "code"),
)
DEFAULT_SUITES: Mapping[str, str] = {
    "code": "fast",
    "prompt": "fast",
    "data": "full",
    "model": "full",
    "config": "full",
}


@dataclass(frozen=True)
class TriggerConfig:
    paths: tuple[tuple[str, str], ...] = ()  # the user's (glob, kind), before the defaults
    suites: Mapping[str, str] = field(default_factory=lambda: dict(DEFAULT_SUITES))
    order: tuple[str, ...] = ()  # shallow to deep; empty: the order suites are declared in
    other: str = "code"  # the kind of a path no glob matches


@dataclass(frozen=True)
class Plan:
    suite: str
    changes: tuple[tuple[str, str, str], ...]  # (path, kind, suite it asks for)
    reason: str

    def explain(self) -> str:
        lines = [f"suite: {self.suite} ({self.reason})"]
        for path, kind, suite in self.changes:
            lines.append(f"  {path}: {kind} -> {suite}")
        return "\n".join(lines)


def match(path: str, pattern: str) -> bool:
    """Glob matching with ``**`` spanning folders (``**/x`` also matches ``x`` at the root)."""
    if fnmatch.fnmatchcase(path, pattern):
        return True
    return pattern.startswith("**/") and fnmatch.fnmatchcase(path, pattern[3:])


def kind_of(path: str, triggers: TriggerConfig) -> str:
    for pattern, kind in (*triggers.paths, *DEFAULT_PATHS):
        if match(path, pattern):
            return kind
    return triggers.other


def plan(changed: Sequence[str], triggers: TriggerConfig, suites: Sequence[str]) -> Plan:
    """The deepest suite the changes ask for (the shallowest suite when nothing changed)."""
    order = [s for s in (triggers.order or tuple(suites)) if s in suites]
    if not order:
        raise ValueError("no suite declared: add a [suites.NAME] table")
    changes = []
    for path in changed:
        kind = kind_of(path, triggers)
        wanted = triggers.suites.get(kind, order[0])
        changes.append((path, kind, wanted if wanted in order else order[-1]))
    if not changes:
        return Plan(order[0], (), "nothing changed: the shallowest suite")
    deepest = max(changes, key=lambda c: order.index(c[2]))
    kinds = sorted({c[1] for c in changes if c[2] == deepest[2]})
    reason = f"{len(changes)} changed path(s); {', '.join(kinds)} change(s) need {deepest[2]}"
    return Plan(deepest[2], tuple(changes), reason)


def changed_paths(ref: str, cwd: Path) -> list[str]:
    """Paths changed since the merge base of ``ref`` and HEAD, working tree included."""

    def git(*args: str) -> str:
        try:
            out = subprocess.run(
                ["git", *args], cwd=cwd, capture_output=True, text=True, timeout=60, check=False
            )
        except (OSError, subprocess.SubprocessError) as exc:
            raise GitError(f"git {' '.join(args)} failed: {exc}") from exc
        if out.returncode != 0:
            raise GitError(f"git {' '.join(args)}: {out.stderr.strip() or out.stdout.strip()}")
        return out.stdout

    base = git("merge-base", ref, "HEAD").strip()
    tracked = git("diff", "--name-only", base).splitlines()
    untracked = git("ls-files", "--others", "--exclude-standard").splitlines()
    return sorted({p for p in (*tracked, *untracked) if p})


def parse_triggers(data: Mapping[str, object], known_suites: Iterable[str]) -> TriggerConfig:
    """Validate ``[triggers]`` (already checked to be tables by the config loader)."""
    suites = set(known_suites)
    paths_table = data.get("paths", {})
    suites_table = data.get("suites", {})
    order = data.get("order", [])
    other = data.get("other", "code")
    if not isinstance(paths_table, Mapping) or not isinstance(suites_table, Mapping):
        raise ValueError("[triggers] paths and suites must be tables")
    for glob, kind in paths_table.items():
        if kind not in KINDS:
            raise ValueError(f"[triggers.paths] {glob!r} = {kind!r}: kind must be one of {KINDS}")
    mapping = dict(DEFAULT_SUITES)
    for kind, suite in suites_table.items():
        if kind not in KINDS:
            raise ValueError(f"[triggers.suites] {kind!r}: not a change kind ({', '.join(KINDS)})")
        if suite not in suites:
            raise ValueError(f"[triggers.suites] {kind} = {suite!r}: no such suite")
        mapping[kind] = str(suite)
    if not isinstance(order, list) or not all(o in suites for o in order):
        raise ValueError(f"[triggers] order = {order!r}: a list of declared suites")
    if other not in KINDS:
        raise ValueError(f"[triggers] other = {other!r}: kind must be one of {KINDS}")
    return TriggerConfig(
        tuple((str(g), str(k)) for g, k in paths_table.items()),
        mapping,
        tuple(str(o) for o in order),
        str(other),
    )
