"""Where a checkpoint is, which of its files define what it computes, and their fingerprint.

Plain Python (no torch): the plugin checks a checkpoint before loading it, the result cache keys
on its fingerprint, and the manifest records it.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

from pytest_mlgate.errors import CheckpointError

WEIGHT_PATTERNS = ("*.safetensors", "*.bin", "*.pt", "*.gguf")
# Files besides the weights that change what a checkpoint computes (or the prompt it is given:
# transformers 5 saves a tokenizer's chat templates as Jinja files of their own).
DEFINING_FILES = (
    "config.json",
    "generation_config.json",
    "tokenizer.json",
    "tokenizer_config.json",
    "chat_template.jinja",
    "chat_template.json",
    "additional_chat_templates/*.jinja",
)
CHUNK = 1 << 20


@dataclass(frozen=True)
class CheckpointInfo:
    """What the manifest records of a checkpoint."""

    id: str  #: the resolved local path, or the hub id
    kind: str  #: "local" or "hub"
    fingerprint: str  #: "sha256:<hex>" of the defining files, or "hub:<revision>"
    files: tuple[str, ...] | None = None  #: the files hashed (local; None when not listed)


def weight_files(folder: Path) -> list[Path]:
    return sorted(p for pattern in WEIGHT_PATTERNS for p in folder.glob(pattern) if p.is_file())


def defining_files(folder: Path) -> list[Path]:
    """The weights and the files that change what the weights compute, sorted by name."""
    return sorted(
        {p for pattern in (*WEIGHT_PATTERNS, *DEFINING_FILES) for p in folder.glob(pattern)}
    )


def is_local(checkpoint: str) -> bool:
    return Path(checkpoint).expanduser().is_dir()


def check_checkpoint(checkpoint: str) -> None:
    """Fail early and clearly on a local checkpoint that cannot be loaded (no torch needed)."""
    path = Path(checkpoint).expanduser()
    if path.exists():
        if not path.is_dir():
            raise CheckpointError(f"checkpoint {checkpoint!r} is a file; give its folder")
        if not (path / "config.json").is_file():
            raise CheckpointError(f"checkpoint {str(path)!r} has no config.json")
        if not weight_files(path):
            raise CheckpointError(
                f"checkpoint {str(path)!r} has no weight files (*.safetensors, *.bin)"
            )
        return
    looks_local = checkpoint.startswith((".", "/", "~")) or checkpoint.count("/") > 1
    if looks_local or os.sep in checkpoint.strip("/").split("/", 1)[-1]:
        raise CheckpointError(
            f"checkpoint {checkpoint!r} does not exist (resolved to {path.resolve()}); "
            "set [model] checkpoint, --mlgate-checkpoint or MLGATE_CHECKPOINT"
        )


def fingerprint_checkpoint(checkpoint: str, revision: str | None = None) -> CheckpointInfo:
    """A local folder: a streamed sha256 of its weight and defining files (names, sizes, bytes).
    A hub id: the revision it resolves to in the local cache (or the one asked for)."""
    path = Path(checkpoint).expanduser()
    if path.is_dir():
        digest = hashlib.sha256()
        files = defining_files(path)
        for file in files:
            name = file.relative_to(path).as_posix()
            digest.update(f"{name}\0{file.stat().st_size}\0".encode())
            with file.open("rb") as handle:
                while chunk := handle.read(CHUNK):
                    digest.update(chunk)
        return CheckpointInfo(
            str(path.resolve()),
            "local",
            f"sha256:{digest.hexdigest()}",
            tuple(f.name for f in files),
        )
    return CheckpointInfo(checkpoint, "hub", f"hub:{_hub_revision(checkpoint, revision or 'main')}")


def known_checkpoint(checkpoint: str, fingerprint: str) -> CheckpointInfo:
    """The manifest's entry for a checkpoint whose fingerprint is already known (memoized)."""
    path = Path(checkpoint).expanduser()
    if path.is_dir():
        return CheckpointInfo(str(path.resolve()), "local", fingerprint)
    return CheckpointInfo(checkpoint, "hub", fingerprint)


def _hub_revision(repo_id: str, revision: str) -> str:
    """The commit a hub revision resolves to, from the local cache (no network needed)."""
    cache = Path(
        os.environ.get("HF_HUB_CACHE")
        or Path(os.environ.get("HF_HOME", Path.home() / ".cache" / "huggingface")) / "hub"
    )
    ref = cache / f"models--{repo_id.replace('/', '--')}" / "refs" / revision
    try:
        return ref.read_text().strip()
    except OSError:
        return revision  # unresolved: the name itself (a commit sha when the user pinned one)
