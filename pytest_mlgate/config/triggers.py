"""The trigger matrix: what changed decides how deep the eval goes (``--mlgate-suite auto``).

Each changed path gets a change kind from the first glob that matches it (the user's
``[triggers.paths]`` first, then the defaults); each kind maps to a suite (``[triggers.suites]``,
defaults: code and prompt -> fast, data / model / config -> full). The deepest suite needed wins,
depth being the order of ``[triggers] order`` (default: the order suites are declared in, so
``fast`` before ``full``). Plain Python: git is asked through subprocess.

DVC pointers are read, not matched by name: a changed ``*.dvc`` file or ``dvc.lock`` is a
``data`` change, or a ``model`` change when an output it changed lies under a model folder
(``[triggers] model_folders``, the ``[model] checkpoint`` folder, or a path the globs call
``model``). With DVC the weights and the corpus live outside git; the pointer is what a PR changes.
"""

from __future__ import annotations

import fnmatch
import json
import posixpath
import subprocess
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pytest_mlgate.config.schema import DEFAULT_MODEL_FOLDERS, DEFAULT_SUITES, TriggerConfig
from pytest_mlgate.errors import GitError

__all__ = [
    "Changes",
    "GitError",
    "Plan",
    "TriggerConfig",
    "changed_paths",
    "changes_since",
    "dvc_outputs",
    "kind_of",
    "plan",
]

KINDS = ("code", "data", "model", "prompt", "config")

# Checked in this order; the user's globs come before all of these.
DEFAULT_PATHS: tuple[tuple[str, str], ...] = (
    ("thresholds.toml", "config"),
    ("**/thresholds.toml", "config"),
    ("pyproject.toml", "config"),
    ("dvc.yaml", "config"),
    ("**/dvc.yaml", "config"),
    (".dvc/**", "config"),
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


@dataclass(frozen=True)
class Change:
    path: str
    kind: str
    suite: str  #: the suite this change asks for
    why: str = ""  #: how the kind was found, when not by a glob (DVC pointers)


@dataclass(frozen=True)
class Changes:
    """What changed since the merge base: the paths, and for each DVC pointer among them the
    outputs whose recorded hash changed (``None``: the pointer could not be read)."""

    paths: tuple[str, ...]
    pointers: Mapping[str, tuple[str, ...] | None] = field(default_factory=dict)


@dataclass(frozen=True)
class Plan:
    suite: str
    changes: tuple[Change, ...]
    reason: str

    def explain(self) -> str:
        lines = [f"suite: {self.suite} ({self.reason})"]
        for change in self.changes:
            why = f" ({change.why})" if change.why else ""
            lines.append(f"  {change.path}: {change.kind} -> {change.suite}{why}")
        return "\n".join(lines)


def match(path: str, pattern: str) -> bool:
    """Glob matching with ``**`` spanning folders (``**/x`` also matches ``x`` at the root)."""
    if fnmatch.fnmatchcase(path, pattern):
        return True
    return pattern.startswith("**/") and fnmatch.fnmatchcase(path, pattern[3:])


def kind_of(path: str, triggers: TriggerConfig) -> str:
    """The kind the globs give ``path`` (the user's first, then the defaults)."""
    for pattern, kind in (*triggers.paths, *DEFAULT_PATHS):
        if match(path, pattern):
            return kind
    return triggers.other


def is_dvc_pointer(path: str) -> bool:
    return path.endswith(".dvc") or posixpath.basename(path) == "dvc.lock"


def _user_kind(path: str, triggers: TriggerConfig) -> str | None:
    return next((kind for pattern, kind in triggers.paths if match(path, pattern)), None)


def _under(path: str, folder: str) -> bool:
    folder = folder.strip("/")
    return bool(folder) and (path == folder or path.startswith(folder + "/"))


def pointer_kind(
    path: str, outputs: tuple[str, ...] | None, triggers: TriggerConfig
) -> tuple[str, str]:
    """A DVC pointer's kind and why: ``model`` when an output it changed is weights."""
    if outputs is None:
        return "data", "DVC pointer that could not be read"
    weights = [
        out
        for out in outputs
        if kind_of(out, triggers) == "model"
        or any(_under(out, folder) for folder in triggers.model_folders)
    ]
    if weights:
        return "model", f"DVC pointer to {', '.join(weights)}"
    listed = ", ".join(outputs) if outputs else "no output hash changed"
    return "data", f"DVC pointer to {listed}"


def classify(
    path: str, triggers: TriggerConfig, pointers: Mapping[str, tuple[str, ...] | None]
) -> tuple[str, str]:
    """(kind, why) for one changed path: the user's globs, then DVC pointers, then defaults."""
    user = _user_kind(path, triggers)
    if user is not None:
        return user, ""
    if is_dvc_pointer(path):
        return pointer_kind(path, pointers.get(path, ()), triggers)
    return kind_of(path, triggers), ""


def plan(changed: Sequence[str] | Changes, triggers: TriggerConfig, suites: Sequence[str]) -> Plan:
    """The deepest suite the changes ask for (the shallowest suite when nothing changed)."""
    if not isinstance(changed, Changes):
        changed = Changes(tuple(changed))
    order = [s for s in (triggers.order or tuple(suites)) if s in suites]
    if not order:
        raise ValueError("no suite declared: add a [suites.NAME] table")
    changes = []
    for path in changed.paths:
        kind, why = classify(path, triggers, changed.pointers)
        wanted = triggers.suites.get(kind, order[0])
        changes.append(Change(path, kind, wanted if wanted in order else order[-1], why))
    if not changes:
        return Plan(order[0], (), "nothing changed: the shallowest suite")
    deepest = max(changes, key=lambda c: order.index(c.suite)).suite
    kinds = sorted({c.kind for c in changes if c.suite == deepest})
    reason = f"{len(changes)} changed path(s); {', '.join(kinds)} change(s) need {deepest}"
    return Plan(deepest, tuple(changes), reason)


def _git(cwd: Path, *args: str, ok: bool = False) -> str | None:
    """git's stdout; on failure a GitError, or None when ``ok`` (a path absent at a commit)."""
    try:
        out = subprocess.run(
            ["git", *args], cwd=cwd, capture_output=True, text=True, timeout=60, check=False
        )
    except (OSError, subprocess.SubprocessError) as exc:
        raise GitError(f"git {' '.join(args)} failed: {exc}") from exc
    if out.returncode != 0:
        if ok:
            return None
        raise GitError(f"git {' '.join(args)}: {out.stderr.strip() or out.stdout.strip()}")
    return out.stdout


def changes_since(ref: str, cwd: Path) -> Changes:
    """Paths changed since the merge base of ``ref`` and HEAD (working tree included), with
    the outputs each changed DVC pointer moved."""
    base = (_git(cwd, "merge-base", ref, "HEAD") or "").strip()
    top = Path((_git(cwd, "rev-parse", "--show-toplevel") or "").strip() or cwd)
    # Every path relative to the repository's top, wherever the config sits in it.
    tracked = (_git(cwd, "diff", "--name-only", base) or "").splitlines()
    untracked = (_git(top, "ls-files", "--others", "--exclude-standard") or "").splitlines()
    paths = tuple(sorted({p for p in (*tracked, *untracked) if p}))
    pointers: dict[str, tuple[str, ...] | None] = {}
    for path in filter(is_dvc_pointer, paths):
        before = _git(top, "show", f"{base}:{path}", ok=True)
        try:
            after: str | None = (top / path).read_text(encoding="utf-8")
        except FileNotFoundError:
            after = None  # deleted
        except (OSError, UnicodeDecodeError):
            pointers[path] = None
            continue
        pointers[path] = moved_outputs(path, before, after)
    return Changes(paths, pointers)


def changed_paths(ref: str, cwd: Path) -> list[str]:
    """Paths changed since the merge base of ``ref`` and HEAD, working tree included."""
    return list(changes_since(ref, cwd).paths)


def moved_outputs(path: str, before: str | None, after: str | None) -> tuple[str, ...] | None:
    """The outputs (repository-relative) whose hash differs between two versions of a pointer;
    ``None`` when either version is not a DVC file."""
    try:
        old = dvc_outputs(path, before) if before is not None else {}
        new = dvc_outputs(path, after) if after is not None else {}
    except ValueError:
        return None
    return tuple(sorted(out for out in {*old, *new} if old.get(out) != new.get(out)))


def dvc_outputs(path: str, text: str) -> dict[str, str]:
    """Output path (repository-relative) -> its recorded hash, from a ``.dvc`` file or a
    ``dvc.lock``. Raises ValueError for a file that is not one."""
    import yaml

    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ValueError(f"{path}: not YAML: {exc}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ValueError(f"{path}: not a DVC file")
    folder = posixpath.dirname(path)
    if posixpath.basename(path) == "dvc.lock":
        stages = data.get("stages", {})
        if not isinstance(stages, dict):
            raise ValueError(f"{path}: stages is not a mapping")
        found: dict[str, str] = {}
        for stage in stages.values():
            if isinstance(stage, dict):
                wdir = posixpath.join(folder, str(stage.get("wdir", ".")))
                found.update(_outs(stage.get("outs"), wdir, path))
        return found
    return _outs(data.get("outs"), folder, path)


def _outs(entries: Any, folder: str, source: str) -> dict[str, str]:
    if entries is None:
        return {}
    if not isinstance(entries, list):
        raise ValueError(f"{source}: outs is not a list")
    found = {}
    for entry in entries:
        if not isinstance(entry, dict) or not isinstance(entry.get("path"), str):
            raise ValueError(f"{source}: an outs entry has no path")
        name = posixpath.normpath(posixpath.join(folder, entry["path"]))
        # Everything but the path (md5 or etag, size, nfiles, hash algorithm) is the version.
        found[name] = json.dumps({k: v for k, v in entry.items() if k != "path"}, sort_keys=True)
    return found


def parse_triggers(data: Mapping[str, object], known_suites: Iterable[str]) -> TriggerConfig:
    """Validate ``[triggers]`` (already checked to be tables by the config loader)."""
    suites = set(known_suites)
    paths_table = data.get("paths", {})
    suites_table = data.get("suites", {})
    order = data.get("order", [])
    other = data.get("other", "code")
    folders = data.get("model_folders", list(DEFAULT_MODEL_FOLDERS))
    if not isinstance(paths_table, Mapping) or not isinstance(suites_table, Mapping):
        raise ValueError("[triggers] paths and suites must be tables")
    for glob, kind in paths_table.items():
        if kind not in KINDS:
            raise ValueError(f"[triggers.paths] {glob!r} = {kind!r}: kind must be one of {KINDS}")
    mapping = dict(DEFAULT_SUITES)
    for kind, suite in suites_table.items():
        if kind not in KINDS:
            raise ValueError(f"[triggers.suites] {kind!r}: not a change kind ({', '.join(KINDS)})")
        if not isinstance(suite, str) or suite not in suites:  # (a list is not hashable)
            raise ValueError(f"[triggers.suites] {kind} = {suite!r}: no such suite")
        mapping[kind] = str(suite)
    if not isinstance(order, list) or not all(isinstance(o, str) and o in suites for o in order):
        raise ValueError(f"[triggers] order = {order!r}: a list of declared suites")
    if other not in KINDS:
        raise ValueError(f"[triggers] other = {other!r}: kind must be one of {KINDS}")
    if not isinstance(folders, list) or not all(isinstance(f, str) and f for f in folders):
        raise ValueError(f"[triggers] model_folders = {folders!r}: a list of folder paths")
    return TriggerConfig(
        tuple((str(g), str(k)) for g, k in paths_table.items()),
        mapping,
        tuple(str(o) for o in order),
        str(other),
        tuple(f.strip("/") for f in folders),
    )
