"""Writing the model card ``DIR/README.md`` from a gated run (``mlgate card``, ``--mlgate-card``).

The metadata goes through ``huggingface_hub``'s ``ModelCard`` / ``EvalResult`` (imported only
here, only then): the ``model-index`` rows whose source is pytest-mlgate are replaced by this
run's, every other row and key is kept. The body is kept byte for byte outside the gate's
markers; the section between them is replaced (appended at the end the first time).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pytest_mlgate.atomic import write_atomic
from pytest_mlgate.errors import CheckpointError, ConfigError
from pytest_mlgate.gate.verdicts import GateOutcome
from pytest_mlgate.report.card import (
    END,
    SOURCE_NAME,
    SOURCE_URL,
    START,
    TASK_TYPE,
    card_results,
    card_section,
)

CARD_FILE = "README.md"


def _hub() -> Any:
    try:
        import huggingface_hub
    except ImportError:
        raise ConfigError(
            "writing a model card needs huggingface_hub: pip install 'pytest-mlgate[hf]'"
        ) from None
    return huggingface_hub


def with_section(body: str, section: str, where: Path) -> str:
    """``body`` with the gate's section replaced (or appended); everything else unchanged."""
    start, end = body.find(START), body.find(END)
    if start == -1 and end == -1:
        gap = "" if not body else "\n" if body.endswith("\n") else "\n\n"
        return body + gap + section
    if start == -1 or end < start or body.count(START) > 1 or body.count(END) > 1:
        raise ConfigError(
            f"{where}: the {START} … {END} markers are unpaired or repeated; leave one pair "
            "(or none: the section is then appended)"
        )
    # the markers and what lies between them become the new section; the bytes around stay
    return body[:start] + section.rstrip("\n") + body[end + len(END) :]


def check_checkpoint(folder: Path, outcome: GateOutcome) -> None:
    """CheckpointError unless ``folder`` holds the bytes the run evaluated (its fingerprint)."""
    from pytest_mlgate.checkpoint import fingerprint_checkpoint

    if not folder.is_dir():
        raise CheckpointError(f"model card: {folder} is not a checkpoint folder")
    recorded = outcome.manifest.checkpoint.fingerprint
    actual = fingerprint_checkpoint(str(folder)).fingerprint
    if recorded and actual != recorded:
        raise CheckpointError(
            f"model card: {folder} hashes to {actual}, but run {outcome.run_id} evaluated "
            f"{recorded} ({outcome.manifest.checkpoint.id}): its results would describe another "
            "model; point it at the bytes the run evaluated"
        )


def write_card(folder: Path, outcome: GateOutcome) -> str:
    """Write or update ``folder/README.md``; what was done, for the summary."""
    if not folder.is_dir():
        raise CheckpointError(f"model card: {folder} is not a checkpoint folder")
    hub = _hub()
    path = folder / CARD_FILE
    text = path.read_text(encoding="utf-8") if path.exists() else ""
    from huggingface_hub.repocard import REGEX_YAML_BLOCK

    if not REGEX_YAML_BLOCK.search(text):
        text = "---\n{}\n---\n" + text  # no metadata yet: an empty block, the body as it is
    try:
        card = hub.ModelCard(text)
    except ValueError as exc:  # huggingface_hub's word for metadata it cannot read
        raise ConfigError(f"model card {path}: {exc}") from None
    data = card.data
    kept = [r for r in (data.eval_results or []) if r.source_name != SOURCE_NAME]
    ours = [
        hub.EvalResult(
            task_type=TASK_TYPE,
            dataset_type=row.task,
            dataset_name=row.task,
            metric_type=row.metric,
            metric_value=row.value,
            metric_name=f"{row.metric} (n={row.n})" if row.n is not None else row.metric,
            source_name=SOURCE_NAME,
            source_url=SOURCE_URL,
        )
        for row in card_results(outcome)
    ]
    data.eval_results = [*kept, *ours] or None
    if data.eval_results and not data.model_name:
        data.model_name = folder.name
    card.text = with_section(card.text, card_section(outcome), path)
    write_atomic(path, str(card))
    return f"model card {path}: {len(ours)} results of run {outcome.run_id}"
