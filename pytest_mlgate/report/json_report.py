"""``--mlgate-json``: results, verdicts and what produced them, as one JSON document."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

from pytest_mlgate.atomic import write_atomic
from pytest_mlgate.gate.verdicts import GateOutcome
from pytest_mlgate.store.codec import gate_document


def write_json(
    path: Path,
    outcome: GateOutcome,
    items: Sequence[str],
    *,
    suite: str,
    checkpoint: str,
    config: str,
) -> None:
    """``items``: the node id of each verdict's test item, in the verdicts' order."""
    document = gate_document(outcome, items, suite=suite, checkpoint=checkpoint, config=config)
    text = json.dumps(document, indent=2, ensure_ascii=False, allow_nan=False)
    write_atomic(path, text + "\n")
