"""A history record (a :class:`GateOutcome`) ↔ its JSON text, and the ``--mlgate-json`` document.

A record is data only (JSON; no pickle, no eval), written with sorted keys so equal records are
equal bytes. Decoding checks every field and raises :class:`RecordError` naming what is wrong.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence

from pytest_mlgate.errors import RecordError
from pytest_mlgate.gate.verdicts import GateOutcome
from pytest_mlgate.store.codec.fields import Json
from pytest_mlgate.store.codec.manifest import decode_manifest, encode_manifest
from pytest_mlgate.store.codec.results import decode_run, encode_run, plain_run
from pytest_mlgate.store.codec.verdicts import decode_verdict, encode_verdict

SCHEMA_VERSION = 1


def encode_outcome(outcome: GateOutcome) -> Json:
    return {
        "schema_version": SCHEMA_VERSION,
        "run_id": outcome.run_id,
        "manifest": encode_manifest(outcome.manifest),
        "verdicts": [encode_verdict(v) for v in outcome.verdicts],
        "tasks": encode_run(outcome.run),
    }


def dumps_outcome(outcome: GateOutcome) -> str:
    """A history record's text: sorted keys, so equal records are equal bytes."""
    return json.dumps(encode_outcome(outcome), ensure_ascii=False, allow_nan=False, sort_keys=True)


def decode_outcome(data: object) -> GateOutcome:
    if not isinstance(data, Mapping):
        raise RecordError("expected a JSON object")
    version = data.get("schema_version")
    if not isinstance(version, int) or isinstance(version, bool):
        raise RecordError("schema_version: missing")
    if version > SCHEMA_VERSION:
        raise RecordError(
            f"schema_version {version} is newer than this pytest-mlgate reads "
            f"({SCHEMA_VERSION}): upgrade pytest-mlgate"
        )
    run_id = data.get("run_id")
    if not isinstance(run_id, str):
        raise RecordError("run_id: missing")
    manifest = decode_manifest(data.get("manifest"), run_id)
    verdicts = data.get("verdicts", [])
    if not isinstance(verdicts, list):
        raise RecordError("verdicts: expected a list of objects")
    return GateOutcome(
        run=decode_run(data.get("tasks")),
        verdicts=tuple(decode_verdict(v, f"verdicts[{i}]") for i, v in enumerate(verdicts)),
        manifest=manifest,
    )


def loads_outcome(text: str) -> GateOutcome:
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise RecordError(f"not valid JSON: {exc}") from None
    return decode_outcome(data)


def gate_document(
    outcome: GateOutcome, items: Sequence[str], *, suite: str, checkpoint: str, config: str
) -> Json:
    """``--mlgate-json``: verdicts (each with its item's node id), manifest and results."""
    return {
        "schema_version": SCHEMA_VERSION,
        "suite": suite,
        "checkpoint": checkpoint,
        "config": config,
        "passed": outcome.passed,
        "verdicts": [
            {"item": item, **encode_verdict(v)}
            for item, v in zip(items, outcome.verdicts, strict=True)
        ],
        "manifest": encode_manifest(outcome.manifest) if outcome.run.tasks else None,
        "results": plain_run(outcome.run),
    }
