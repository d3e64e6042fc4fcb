"""``--mlgate-json``: results, verdicts and what produced them, as one JSON document."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pytest_mlgate.atomic import write_atomic
from pytest_mlgate.session import GateSession

SCHEMA_VERSION = 1


def gate_document(gate: GateSession) -> dict[str, Any]:
    return {
        "schema_version": SCHEMA_VERSION,
        "suite": gate.suite.name,
        "checkpoint": gate.checkpoint,
        "config": str(gate.config.path),
        "passed": all(v.passed for v in gate.verdicts.values()),
        "verdicts": [{"item": item, **v.summary()} for item, v in gate.verdicts.items()],
        "manifest": gate.manifest() if gate.run.tasks else None,
        "results": gate.run.to_dict(),
    }


def write_json(path: Path, gate: GateSession) -> None:
    text = json.dumps(gate_document(gate), indent=2, ensure_ascii=False, allow_nan=False)
    write_atomic(path, text + "\n")
