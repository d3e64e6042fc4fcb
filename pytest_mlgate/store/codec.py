"""History records <-> results: plain JSON, compact per-example scores, strict decoding.

A record is data only (JSON; no pickle, no eval). Per-example scores are stored so that two runs
can be paired example by example: 0/1 scores as packed bits, other scores as float64, doc ids as
int32 and lm-eval's document hashes truncated to 64 bits, each base64 in one string. Decoding
checks every field and raises :class:`RecordError` (naming what is wrong) on anything off.
"""

from __future__ import annotations

import base64
import binascii
import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from pytest_mlgate.errors import RecordError
from pytest_mlgate.results import DOC_HASH_CHARS, EvalRun, Example, MetricResult, TaskResult

SCHEMA_VERSION = 1
HASH_BYTES = DOC_HASH_CHARS // 2


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _unb64(text: object, what: str) -> bytes:
    if not isinstance(text, str):
        raise RecordError(f"{what}: expected a base64 string")
    try:
        return base64.b64decode(text.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError) as exc:
        raise RecordError(f"{what}: not valid base64 ({exc})") from None


def encode_scores(scores: tuple[float, ...]) -> dict[str, Any]:
    array = np.asarray(scores, dtype=np.float64)
    if array.size and np.isin(array, (0.0, 1.0)).all():
        return {
            "encoding": "bits",
            "count": int(array.size),
            "data": _b64(np.packbits(array > 0.5).tobytes()),
        }
    # float64, not float32: rounding would make an identical rerun differ by ~1e-9 on every
    # example, all the same way, and a zero-tolerance gate would call that a significant drop.
    return {
        "encoding": "f64",
        "count": int(array.size),
        "data": _b64(array.astype("<f8").tobytes()),
    }


def decode_scores(blob: object, what: str) -> tuple[float, ...]:
    if not isinstance(blob, Mapping):
        raise RecordError(f"{what}: expected an object")
    count = blob.get("count")
    if not isinstance(count, int) or count < 0:
        raise RecordError(f"{what}.count: expected a non-negative integer")
    raw = _unb64(blob.get("data"), f"{what}.data")
    if blob.get("encoding") == "bits":
        if len(raw) != (count + 7) // 8:
            raise RecordError(f"{what}: {len(raw)} bytes cannot hold {count} bits")
        bits = np.unpackbits(np.frombuffer(raw, dtype=np.uint8))[:count]
        return tuple(float(b) for b in bits.tolist())
    if blob.get("encoding") == "f64":
        if len(raw) != 8 * count:
            raise RecordError(f"{what}: {len(raw)} bytes are not {count} float64 values")
        return tuple(float(v) for v in np.frombuffer(raw, dtype="<f8").tolist())
    raise RecordError(f"{what}.encoding: expected 'bits' or 'f64'")


def _encode_ids(ids: tuple[int, ...]) -> str:
    return _b64(np.asarray(ids, dtype="<i4").tobytes())


def _decode_ids(text: object, what: str) -> tuple[int, ...]:
    raw = _unb64(text, what)
    if len(raw) % 4:
        raise RecordError(f"{what}: length {len(raw)} is not a multiple of 4")
    return tuple(int(v) for v in np.frombuffer(raw, dtype="<i4").tolist())


def _task_doc_ids(task: TaskResult) -> tuple[int, ...]:
    if task.doc_hashes:
        return tuple(sorted(task.doc_hashes))
    for metric in task.metrics.values():
        if metric.doc_ids:
            return metric.doc_ids
    return ()


def encode_run(run: EvalRun, keep_examples: int | None = None) -> dict[str, Any]:
    """``keep_examples``: how many example texts per task to keep (None: all the run has; a
    recorded run passes only the examples that flipped against its baseline)."""
    tasks: dict[str, Any] = {}
    for name, task in run.tasks.items():
        doc_ids = _task_doc_ids(task)
        hashes = None
        if task.doc_hashes and len(task.doc_hashes) == len(doc_ids):
            packed = b"".join(bytes.fromhex(task.doc_hashes[i][: 2 * HASH_BYTES]) for i in doc_ids)
            hashes = _b64(packed)
        metrics = {}
        for key, metric in task.metrics.items():
            entry: dict[str, Any] = {
                "value": _finite(metric.value),
                "stderr": None if metric.stderr is None else _finite(metric.stderr),
                "n": metric.n,
                "higher_is_better": metric.higher_is_better,
            }
            if metric.scores:
                entry["scores"] = encode_scores(metric.scores)
                if metric.doc_ids != doc_ids:
                    entry["doc_ids"] = _encode_ids(metric.doc_ids)
            metrics[key] = entry
        tasks[name] = {
            "n": task.n,
            "version": task.version,
            "num_fewshot": task.num_fewshot,
            "task_hash": task.task_hash,
            "doc_ids": _encode_ids(doc_ids),
            "doc_hashes": hashes,
            "metrics": metrics,
            "subgroups": _encode_subgroups(task, doc_ids),
            "examples": {
                str(doc): [ex.prompt, ex.target, ex.response]
                for doc, ex in list(sorted(task.examples.items()))[:keep_examples]
            },
        }
    return tasks


def _encode_subgroups(task: TaskResult, doc_ids: tuple[int, ...]) -> dict[str, Any] | None:
    """Subgroup names once, then one uint16 code per doc (0xFFFF: none)."""
    if not task.subgroups:
        return None
    names = sorted(set(task.subgroups.values()))
    code = {name: i for i, name in enumerate(names)}
    codes = [code.get(task.subgroups.get(doc, ""), 0xFFFF) for doc in doc_ids]
    return {"names": names, "codes": _b64(np.asarray(codes, dtype="<u2").tobytes())}


def _decode_subgroups(blob: object, doc_ids: tuple[int, ...], what: str) -> dict[int, str]:
    if blob is None:
        return {}
    if not isinstance(blob, Mapping) or not isinstance(blob.get("names"), list):
        raise RecordError(f"{what}: expected an object with names and codes")
    names = [str(n) for n in blob["names"]]
    raw = _unb64(blob.get("codes"), f"{what}.codes")
    if len(raw) != 2 * len(doc_ids):
        raise RecordError(f"{what}.codes: {len(raw)} bytes for {len(doc_ids)} docs")
    groups = {}
    for doc, code in zip(doc_ids, np.frombuffer(raw, dtype="<u2").tolist(), strict=True):
        if code != 0xFFFF:
            if code >= len(names):
                raise RecordError(f"{what}.codes: code {code} names no subgroup")
            groups[doc] = names[code]
    return groups


def _decode_examples(blob: object, what: str) -> dict[int, Example]:
    if blob is None:
        return {}
    if not isinstance(blob, Mapping):
        raise RecordError(f"{what}: expected an object")
    examples = {}
    for doc, texts in blob.items():
        if (
            not isinstance(texts, list)
            or len(texts) != 3
            or not all(isinstance(t, str) for t in texts)
            or not str(doc).lstrip("-").isdigit()
        ):
            raise RecordError(f"{what}.{doc}: expected [prompt, target, response]")
        examples[int(doc)] = Example(*texts)
    return examples


def _optional_bool(value: object) -> bool | None:
    return value if isinstance(value, bool) else None


def _finite(value: float) -> float | None:
    return None if math.isnan(value) or math.isinf(value) else float(value)


def _field(data: Mapping[str, Any], key: str, kinds: tuple[type, ...], what: str) -> Any:
    value = data.get(key)
    if not isinstance(value, kinds) or (isinstance(value, bool) and bool not in kinds):
        names = " or ".join(k.__name__ for k in kinds)
        raise RecordError(f"{what}.{key}: expected {names}, got {type(value).__name__}")
    return value


def decode_run(tasks: object, info: Mapping[str, Any], what: str = "tasks") -> EvalRun:
    if not isinstance(tasks, Mapping):
        raise RecordError(f"{what}: expected an object")
    decoded = {}
    for name, data in tasks.items():
        where = f"{what}.{name}"
        if not isinstance(data, Mapping):
            raise RecordError(f"{where}: expected an object")
        doc_ids = _decode_ids(data.get("doc_ids", ""), f"{where}.doc_ids")
        doc_hashes: dict[int, str] = {}
        if data.get("doc_hashes") is not None:
            raw = _unb64(data["doc_hashes"], f"{where}.doc_hashes")
            if len(raw) != HASH_BYTES * len(doc_ids):
                raise RecordError(f"{where}.doc_hashes: {len(raw)} bytes for {len(doc_ids)} docs")
            doc_hashes = {
                doc: raw[i * HASH_BYTES : (i + 1) * HASH_BYTES].hex()
                for i, doc in enumerate(doc_ids)
            }
        metrics_data = _field(data, "metrics", (dict,), where)
        metrics = {}
        for key, entry in metrics_data.items():
            at = f"{where}.metrics.{key}"
            if not isinstance(entry, Mapping):
                raise RecordError(f"{at}: expected an object")
            value = entry.get("value")
            if value is not None and (
                isinstance(value, bool) or not isinstance(value, (int, float))
            ):
                raise RecordError(f"{at}.value: expected a number or null")
            stderr = entry.get("stderr")
            if stderr is not None and (
                isinstance(stderr, bool) or not isinstance(stderr, (int, float))
            ):
                raise RecordError(f"{at}.stderr: expected a number or null")
            scores: tuple[float, ...] = ()
            ids: tuple[int, ...] = ()
            if "scores" in entry:
                scores = decode_scores(entry["scores"], f"{at}.scores")
                ids = (
                    _decode_ids(entry["doc_ids"], f"{at}.doc_ids")
                    if "doc_ids" in entry
                    else doc_ids
                )
                if len(ids) != len(scores):
                    raise RecordError(f"{at}: {len(scores)} scores for {len(ids)} doc ids")
            metrics[key] = MetricResult(
                task=name,
                key=key,
                value=math.nan if value is None else float(value),
                stderr=None if stderr is None else float(stderr),
                n=_field(entry, "n", (int,), at),
                higher_is_better=_optional_bool(entry.get("higher_is_better")),
                doc_ids=ids,
                scores=scores,
            )
        version = data.get("version")
        n_shot = data.get("num_fewshot")
        task_hash = data.get("task_hash")
        decoded[name] = TaskResult(
            name=name,
            metrics=metrics,
            n=_field(data, "n", (int,), where),
            version=None if version is None else str(version),
            num_fewshot=n_shot if isinstance(n_shot, int) else None,
            task_hash=task_hash if isinstance(task_hash, str) else None,
            doc_hashes=doc_hashes,
            subgroups=_decode_subgroups(data.get("subgroups"), doc_ids, f"{where}.subgroups"),
            examples=_decode_examples(data.get("examples"), f"{where}.examples"),
        )
    return EvalRun(decoded, dict(info))
