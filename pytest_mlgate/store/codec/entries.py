"""Index entries ↔ JSON: one line of a store's index, coded from :class:`IndexEntry`'s fields.

Reading is tolerant of lines written before a field existed, or by a release that wrote it
otherwise: such a field reads as unknown, never as an error (only the run id and the timestamp
are required).
"""

from __future__ import annotations

import typing
from collections.abc import Mapping

from pytest_mlgate.errors import RecordError
from pytest_mlgate.store.codec.fields import FlatCodec, Json, Wire
from pytest_mlgate.store.protocol import IndexEntry


def _text_or_none(value: object, what: str) -> str | None:
    return value if isinstance(value, str) else None


def _tasks(value: object, what: str) -> tuple[str, ...] | None:
    return tuple(str(t) for t in value) if isinstance(value, list) else None


# Every optional text field reads as unknown when it is not text.
_TOLERANT = {
    name: Wire(decode=_text_or_none)
    for name, hint in typing.get_type_hints(IndexEntry).items()
    if hint == str | None
}
ENTRY = FlatCodec(IndexEntry, **{**_TOLERANT, "tasks": Wire(decode=_tasks)})


def encode_entry(entry: IndexEntry) -> Json:
    return ENTRY.encode(entry)


def decode_entry(data: object) -> IndexEntry:
    """One index line; tolerant of entries written before a field existed."""
    if not isinstance(data, Mapping) or not isinstance(data.get("run_id"), str):
        raise RecordError("index entry: expected an object with a run_id")
    if not isinstance(data.get("timestamp"), str):
        raise RecordError("index entry: expected a timestamp")
    return ENTRY.decode(data, "index entry")
