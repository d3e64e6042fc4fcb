"""``--mlgate-json``: results, verdicts and what produced them, as one JSON document."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

from pytest_mlgate.session import GateSession

SCHEMA_VERSION = 1


def gate_document(gate: GateSession) -> dict[str, Any]:
    return {
        "schema_version": SCHEMA_VERSION,
        "suite": gate.suite.name,
        "checkpoint": gate.checkpoint,
        "config": str(gate.config.path),
        "passed": all(v.passed for v in gate.verdicts.values()),
        "verdicts": [
            {
                "item": item,
                "task": v.threshold.task,
                "metric": v.threshold.metric,
                "status": v.status.value,
                "reason": v.reason,
                "value": v.value,
                "n": v.n,
                "min": v.threshold.min,
                "max": v.threshold.max,
            }
            for item, v in gate.verdicts.items()
        ],
        "results": gate.run.to_dict(),
    }


def write_json(path: Path, gate: GateSession) -> None:
    """Write atomically: a reader never sees half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(gate_document(gate), indent=2, ensure_ascii=False, allow_nan=False)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text + "\n")
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
