"""Per-example arrays packed into base64 strings: scores, doc ids, document hashes, subgroups.

0/1 scores are packed bits and other scores float64; doc ids are int32 and lm-eval's document
hashes are truncated to 64 bits; a task's subgroups are their names once, then a uint16 code per
document. Each array is checked against the document count when it is read.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping

import numpy as np

from pytest_mlgate.errors import RecordError
from pytest_mlgate.results import DOC_HASH_CHARS, TaskResult
from pytest_mlgate.store.codec.fields import Json

HASH_BYTES = DOC_HASH_CHARS // 2
NO_SUBGROUP = 0xFFFF


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _unb64(text: object, what: str) -> bytes:
    if not isinstance(text, str):
        raise RecordError(f"{what}: expected a base64 string")
    try:
        return base64.b64decode(text.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError) as exc:
        raise RecordError(f"{what}: not valid base64 ({exc})") from None


def encode_scores(scores: tuple[float, ...]) -> Json:
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
        return tuple(bits.astype(np.float64).tolist())
    if blob.get("encoding") == "f64":
        if len(raw) != 8 * count:
            raise RecordError(f"{what}: {len(raw)} bytes are not {count} float64 values")
        return tuple(np.frombuffer(raw, dtype="<f8").tolist())
    raise RecordError(f"{what}.encoding: expected 'bits' or 'f64'")


def encode_ids(ids: tuple[int, ...]) -> str:
    return _b64(np.asarray(ids, dtype="<i4").tobytes())


def decode_ids(text: object, what: str) -> tuple[int, ...]:
    raw = _unb64(text, what)
    if len(raw) % 4:
        raise RecordError(f"{what}: length {len(raw)} is not a multiple of 4")
    return tuple(np.frombuffer(raw, dtype="<i4").tolist())


def encode_hashes(hashes: Mapping[int, str], doc_ids: tuple[int, ...]) -> str | None:
    """One hex hash per doc, truncated to 64 bits and packed (None unless every doc has one)."""
    if not hashes or len(hashes) != len(doc_ids) or any(d not in hashes for d in doc_ids):
        return None
    return _b64(b"".join(bytes.fromhex(hashes[d][: 2 * HASH_BYTES]) for d in doc_ids))


def decode_hashes(blob: object, doc_ids: tuple[int, ...], what: str) -> dict[int, str]:
    if blob is None:
        return {}
    raw = _unb64(blob, what)
    if len(raw) != HASH_BYTES * len(doc_ids):
        raise RecordError(f"{what}: {len(raw)} bytes for {len(doc_ids)} docs")
    return {doc: raw[i * HASH_BYTES : (i + 1) * HASH_BYTES].hex() for i, doc in enumerate(doc_ids)}


def encode_subgroups(task: TaskResult, doc_ids: tuple[int, ...]) -> Json | None:
    """Subgroup names once, then one uint16 code per doc (0xFFFF: none)."""
    if not task.subgroups:
        return None
    names = sorted(set(task.subgroups.values()))
    code = {name: i for i, name in enumerate(names)}
    codes = [code.get(task.subgroups.get(doc, ""), NO_SUBGROUP) for doc in doc_ids]
    return {"names": names, "codes": _b64(np.asarray(codes, dtype="<u2").tobytes())}


def decode_subgroups(blob: object, doc_ids: tuple[int, ...], what: str) -> dict[int, str]:
    if blob is None:
        return {}
    if not isinstance(blob, Mapping) or not isinstance(blob.get("names"), list):
        raise RecordError(f"{what}: expected an object with names and codes")
    names = [str(n) for n in blob["names"]]
    raw = _unb64(blob.get("codes"), f"{what}.codes")
    if len(raw) != 2 * len(doc_ids):
        raise RecordError(f"{what}.codes: {len(raw)} bytes for {len(doc_ids)} docs")
    found = {}
    for doc, code in zip(doc_ids, np.frombuffer(raw, dtype="<u2").tolist(), strict=True):
        if code != NO_SUBGROUP:
            if code >= len(names):
                raise RecordError(f"{what}.codes: code {code} names no subgroup")
            found[doc] = names[code]
    return found
