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
    missing = missing_local_checkpoint(checkpoint, Path.cwd())
    if missing is not None:
        raise missing


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


def hub_cache() -> Path:
    """The local Hugging Face hub cache (``$HF_HUB_CACHE``, else ``$HF_HOME/hub``)."""
    return Path(
        os.environ.get("HF_HUB_CACHE")
        or Path(os.environ.get("HF_HOME", Path.home() / ".cache" / "huggingface")) / "hub"
    )


def _hub_offline() -> bool:
    return os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in ("1", "true", "yes", "on")


def missing_local_checkpoint(location: str, base: Path) -> CheckpointError | None:
    """The error for ``location``, a name of no existing folder, when it must be a local
    checkpoint that is missing rather than a hub id (None: it may be a hub id).

    It is local when written as a path (``./x``, ``/x``, ``~/x``, two slashes or more), when its
    first path component exists here (``checkpoints/latest`` beside a ``checkpoints`` folder:
    the checkpoint was not built or copied yet), or when the hub is offline and the hub cache
    does not hold it (it could not be loaded as a hub id either). Sending such a name to the hub
    fails only after torch loads, with a misleading "couldn't connect" or "corrupt" message.
    """
    folder = (base / location).expanduser()
    first = Path(location).parts[0] if Path(location).parts else location
    written_as_path = location.startswith((".", "/", "~")) or location.count("/") > 1
    beside = [root for root in dict.fromkeys((base, Path.cwd())) if (root / first).exists()]
    cached = (hub_cache() / f"models--{location.replace('/', '--')}").is_dir()
    if written_as_path:
        why = "it is written as a path"
    elif beside:
        why = f"{first!r} exists in {beside[0]}, so this names a folder in it"
    elif _hub_offline() and not cached:
        why = f"the hub is offline (HF_HUB_OFFLINE) and its cache {hub_cache()} does not hold it"
    else:
        return None
    return CheckpointError(
        f"checkpoint {location!r} does not exist: no folder {folder} ({why}). As a hub id it "
        f"would be downloaded from huggingface.co/{location}. Build or copy the checkpoint "
        "there, or point [model] checkpoint, --mlgate-checkpoint or MLGATE_CHECKPOINT at it"
    )


def _hub_revision(repo_id: str, revision: str) -> str:
    """The commit a hub revision resolves to, from the local cache (no network needed)."""
    ref = hub_cache() / f"models--{repo_id.replace('/', '--')}" / "refs" / revision
    try:
        return ref.read_text().strip()
    except OSError:
        return revision  # unresolved: the name itself (a commit sha when the user pinned one)
