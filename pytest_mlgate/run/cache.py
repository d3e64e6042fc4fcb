"""A result cache keyed by everything that moves a score, so an unchanged rerun costs nothing.

The key covers the checkpoint's bytes (its fingerprint), the task sources (shipped task
templates and data, every file under ``[tasks] include``; lm-eval's built-in tasks through its
version; the metric code they call), the subset (sample, seed), n-shot, the model settings
(backend, dtype, device, batch size, model_args, chat template, system instruction, few-shot
turns, gen_kwargs, scoring path; the template's text is a defining file of the checkpoint, so in its
fingerprint), the lm-eval / torch / transformers / pytest-mlgate versions, and the GPUs.
It never keys on request text alone, as lm-eval's own ``use_cache`` does (which returns old
answers after the weights change).

Plain Python: a hit is answered without importing lm-eval or torch. Weight fingerprints are
memoized by file name, size and mtime, so a 15 GB checkpoint is hashed once, not on every run.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

from pytest_mlgate import manifest
from pytest_mlgate.atomic import write_atomic
from pytest_mlgate.backend import BackendSpec, EvalRequest
from pytest_mlgate.checkpoint import defining_files, fingerprint_checkpoint
from pytest_mlgate.errors import RecordError
from pytest_mlgate.results import EvalRun
from pytest_mlgate.store.codec import decode_info, decode_run, encode_info, encode_run
from pytest_mlgate.tasks import HELPERS, TASKS_DIR, shipped_task_names
from pytest_mlgate.text.pii import DETECTOR_VERSION

CACHE_FORMAT = 1
FINGERPRINTS = "fingerprints.json"


def _hash_files(files: Iterable[Path], root: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted(files):
        digest.update(path.relative_to(root).as_posix().encode() + b"\0")
        digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()


def task_sources(tasks: Iterable[str], include: Iterable[Path]) -> dict[str, str]:
    """A hash of what defines each task's documents and prompts, read from disk."""
    sources = {}
    shipped = set(shipped_task_names())
    for task in sorted(set(tasks) & shipped):
        folder = TASKS_DIR / task
        sources[task] = _hash_files((p for p in folder.iterdir() if p.is_file()), folder)
    if sources:  # the Python the shipped YAMLs call with `!function` (the Turkish metric)
        sources["helpers"] = _hash_files(HELPERS.values(), TASKS_DIR.parent)
    for folder in include:
        files = (p for p in folder.rglob("*") if p.is_file() and "__pycache__" not in p.parts)
        sources[f"include:{folder}"] = _hash_files(files, folder)
    return sources


def cache_key(
    spec: BackendSpec,
    request: EvalRequest,
    fingerprint: str,
    pii: tuple[tuple[str, ...], bool] = ((), True),
) -> str:
    """``pii``: the tasks ``pii_rate`` is computed for and whether texts are redacted (a run
    cached redacted never answers one that needs raw texts, nor one without the rate)."""
    model = spec.model
    material = {
        "format": CACHE_FORMAT,
        "pii": {
            "rate": sorted(set(pii[0]) & set(request.tasks)),
            "redact": pii[1],
            "detector": DETECTOR_VERSION,  # a run masked and rated by an older detector: a miss
        },
        "checkpoint": fingerprint,
        "tasks": sorted(request.tasks),
        "sources": task_sources(request.tasks, spec.include),
        "sample": request.sample,
        "seed": request.seed,
        "shard": request.shard,
        **({"look": request.look} if request.look is not None else {}),  # each look its own
        "typo_rate": request.typo_rate if any("@typo" in t for t in request.tasks) else None,
        "num_fewshot": request.num_fewshot,
        "model": {
            "backend": model.backend,
            "dtype": model.dtype,
            "device": model.device,
            "batch_size": model.batch_size,
            "model_args": dict(model.model_args),
            "chat_template": model.chat_template,  # the template's text is in the fingerprint
            "system_instruction": model.system_instruction,
            "fewshot_as_multiturn": model.multiturn,
            "gen_kwargs": dict(model.gen_kwargs),
            # the path that scores log-likelihoods (only the hf backend has two)
            "scoring": model.scoring if model.backend == "hf" else None,
            "threads": model.threads,
        },
        "versions": manifest.package_versions(),
        "accelerators": manifest.accelerators(),
    }
    text = json.dumps(material, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


class ResultCache:
    """Cached evaluations in a folder: ``<key>.json`` (the codec's format, examples included)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def fingerprint(self, checkpoint: str) -> str:
        """The checkpoint fingerprint, rehashing only when a file's size or mtime changed."""
        path = Path(checkpoint).expanduser()
        if not path.is_dir():
            return fingerprint_checkpoint(checkpoint).fingerprint
        files = defining_files(path)
        stamp = [[f.name, f.stat().st_size, f.stat().st_mtime_ns] for f in files]
        memo_path = self.folder / FINGERPRINTS
        try:
            memo: dict[str, Any] = json.loads(memo_path.read_text())
        except (OSError, ValueError):
            memo = {}
        entry = memo.get(str(path.resolve()))
        if isinstance(entry, Mapping) and entry.get("files") == stamp:
            return str(entry["fingerprint"])
        value = fingerprint_checkpoint(checkpoint).fingerprint
        memo[str(path.resolve())] = {"files": stamp, "fingerprint": value}
        with contextlib.suppress(OSError):  # read-only cache folder: a rehash next time
            write_atomic(memo_path, json.dumps(memo, indent=1))
        return value

    def get(self, key: str) -> EvalRun | None:
        try:
            data = json.loads((self.folder / f"{key}.json").read_text(encoding="utf-8"))
            info = replace(decode_info(data.get("info")), from_cache=True)
            return decode_run(data.get("tasks"), info)
        except (OSError, ValueError, AttributeError, RecordError):
            return None  # absent or unreadable: evaluate again

    def put(self, key: str, run: EvalRun) -> None:
        document = {"format": CACHE_FORMAT, "info": encode_info(run.info), "tasks": encode_run(run)}
        text = json.dumps(document, ensure_ascii=False, allow_nan=False, default=str)
        with contextlib.suppress(OSError):  # an unwritable cache is a miss next time, no more
            write_atomic(self.folder / f"{key}.json", text)
