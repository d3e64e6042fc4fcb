"""Typed objects ↔ JSON, one module per record type: the only place objects become dicts.

NaN and infinity become ``null`` here and nowhere else. Flat records are coded from their
dataclasses' fields (``fields``); the names below are what the rest of the package imports.
"""

from __future__ import annotations

from pytest_mlgate.store.codec.entries import decode_entry, encode_entry
from pytest_mlgate.store.codec.fields import finite_or_none
from pytest_mlgate.store.codec.manifest import manifest_text
from pytest_mlgate.store.codec.records import dumps_outcome, gate_document, loads_outcome
from pytest_mlgate.store.codec.results import decode_info, decode_run, encode_info, encode_run

__all__ = [
    "decode_entry",
    "decode_info",
    "decode_run",
    "dumps_outcome",
    "encode_entry",
    "encode_info",
    "encode_run",
    "finite_or_none",
    "gate_document",
    "loads_outcome",
    "manifest_text",
]
