"""The manifest ↔ JSON: every part a flat record coded from its fields.

Parts added after schema 1 was first written (``git.head``, ``checkpoint.files``, ``suite.shard``,
``prompt``, ``determinism``, ``throughput``, ``latency``) are left out while they hold their
defaults, so a record of an earlier release re-encodes to the same bytes.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from typing import Any

from pytest_mlgate.checkpoint import CheckpointInfo
from pytest_mlgate.errors import RecordError
from pytest_mlgate.manifest import (
    ConfigInfo,
    GitState,
    Manifest,
    ModelInfo,
    Seeds,
    SuiteInfo,
    TaskInfo,
    Versions,
)
from pytest_mlgate.results import Determinism, Latency
from pytest_mlgate.store.codec.fields import (
    FlatCodec,
    Json,
    Wire,
    encode_groups,
    groups,
    json_object,
    optional_int,
    plain,
    required_text,
)
from pytest_mlgate.store.codec.results import PROMPT, THROUGHPUT, list_of


def _fewshot(value: object, what: str) -> int | dict[str, int] | None:
    if isinstance(value, Mapping):
        if not all(isinstance(v, int) and not isinstance(v, bool) for v in value.values()):
            raise RecordError(f"{what}: expected integers")
        return {str(k): int(v) for k, v in value.items()}
    return optional_int(value, what)


def _shard(value: object, what: str) -> tuple[int, int] | None:
    if value is None:
        return None
    if not (isinstance(value, list) and len(value) == 2 and all(type(x) is int for x in value)):
        raise RecordError(f"{what}: expected [K, N]")
    return (value[0], value[1])


def _batch_size(value: object, what: str) -> int | str | None:
    if value is not None and (isinstance(value, bool) or not isinstance(value, (int, str))):
        raise RecordError(f"{what}: expected an integer, a string or null")
    return value


def _samples(value: object, what: str) -> tuple[float, ...]:
    if not isinstance(value, list) or not all(
        isinstance(x, (int, float)) and not isinstance(x, bool) for x in value
    ):
        raise RecordError(f"{what}: expected a list of numbers")
    return tuple(float(x) for x in value)


def _any_text(value: object, what: str) -> str | None:
    """A version as lm-eval gives it (a number in some task YAMLs), kept as text."""
    return None if value is None else str(value)


def _platform(value: object, what: str) -> str:
    return value if isinstance(value, str) else ""


GIT = FlatCodec(GitState, head=Wire(sparse=True))
CHECKPOINT = FlatCodec(CheckpointInfo, files=Wire(sparse=True))
CONFIG = FlatCodec(ConfigInfo)
SUITE = FlatCodec(
    SuiteInfo,
    num_fewshot=Wire(encode=plain, decode=_fewshot),
    shard=Wire(encode=lambda shard: list(shard), decode=_shard, sparse=True),
)
TASK = FlatCodec(
    TaskInfo,
    version=Wire(decode=_any_text),
    scoring=Wire(sparse=True),
    planned=Wire(sparse=True),
    look=Wire(encode=lambda look: list(look), decode=_shard, sparse=True),
)
MODEL = FlatCodec(
    ModelInfo,
    batch_size=Wire(decode=_batch_size),
    threads=Wire(sparse=True),
    model_args=Wire(
        encode=lambda args: plain(dict(args)),
        decode=lambda value, what: dict(json_object(value, what)),
    ),
)
VERSIONS = FlatCodec(Versions)
SEEDS = FlatCodec(Seeds)
LATENCY = FlatCodec(
    Latency,
    samples_ms=Wire(encode=lambda samples: [round(x, 4) for x in samples], decode=_samples),
)
DETERMINISM = FlatCodec(Determinism, task=Wire(decode=required_text))


def _encode_tasks(tasks: Mapping[str, TaskInfo]) -> Json:
    return {name: TASK.encode(task) for name, task in tasks.items()}


def _decode_tasks(value: object, what: str) -> dict[str, TaskInfo]:
    return {
        str(name): TASK.decode(json_object(task, f"{what}.{name}"), f"{what}.{name}")
        for name, task in json_object(value, what).items()
    }


def _decode_latency(value: object, what: str) -> Latency | None:
    return None if value is None else LATENCY.decode(json_object(value, what), what)


def _encode_list(codec: FlatCodec[Any]) -> Any:
    return lambda values: [codec.encode(v) for v in values]


MANIFEST = FlatCodec(
    Manifest,
    tasks=Wire(encode=_encode_tasks, decode=_decode_tasks),
    platform=Wire(decode=_platform),
    groups=Wire(encode=encode_groups, decode=groups),
    prompt=Wire(encode=PROMPT.encode, sparse=True),
    determinism=Wire(encode=_encode_list(DETERMINISM), decode=list_of(DETERMINISM), sparse=True),
    throughput=Wire(encode=_encode_list(THROUGHPUT), decode=list_of(THROUGHPUT), sparse=True),
    latency=Wire(encode=LATENCY.encode, decode=_decode_latency, sparse=True),
    evaluation_seconds=Wire(sparse=True),
)


def encode_manifest(manifest: Manifest) -> Json:
    return MANIFEST.encode(manifest)


def decode_manifest(data: object, run_id: str) -> Manifest:
    """A record's manifest; ``run_id`` is the record's (a manifest must not name another)."""
    manifest = json_object(data, "manifest")
    if not isinstance(manifest.get("timestamp"), str):
        raise RecordError("manifest.timestamp: missing")
    named = manifest.get("run_id", run_id)
    if named != run_id:
        raise RecordError(f"manifest.run_id: {named!r} is not the record's run id {run_id!r}")
    return dataclasses.replace(MANIFEST.decode(manifest, "manifest"), run_id=run_id)


def manifest_text(manifest: Manifest) -> str:
    """The manifest as the report shows it: indented JSON, sorted keys."""
    return json.dumps(encode_manifest(manifest), indent=2, sort_keys=True, ensure_ascii=False)
