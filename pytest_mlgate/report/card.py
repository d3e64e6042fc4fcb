"""The model card's parts from a gated run: its ``model-index`` rows and its evaluation section.

Plain Python: ``run/card.py`` turns the rows into ``huggingface_hub`` ``EvalResult`` objects and
writes ``README.md``. The section sits between the markers ``<!-- mlgate -->`` and
``<!-- /mlgate -->``: the card's writer replaces only what lies between them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from pytest_mlgate.gate.verdicts import GateOutcome, Verdict
from pytest_mlgate.report.metrics_file import metric_name

START = "<!-- mlgate -->"
END = "<!-- /mlgate -->"
SOURCE_NAME = "pytest-mlgate"  #: the model-index ``source.name`` of every row the gate writes
SOURCE_URL = "https://pypi.org/project/pytest-mlgate/"
TASK_TYPE = "text-generation"  #: the Hub's task type for a language model's evaluations


@dataclass(frozen=True)
class CardResult:
    """One ``model-index`` row: a gated metric's value on one task."""

    task: str  #: the lm-eval task (also the row's dataset: lm-eval tasks name their data)
    metric: str  #: as lm-eval names it, the ``none`` filter left out
    value: float
    n: int | None


def card_results(outcome: GateOutcome) -> list[CardResult]:
    """A row per gated whole-task metric with a value (subgroups and missing metrics left out),
    in the order the gate judged them."""
    rows: dict[tuple[str, str], CardResult] = {}
    for verdict in outcome.verdicts:
        threshold = verdict.threshold
        if threshold.subgroup is not None or verdict.value is None:
            continue
        if not math.isfinite(verdict.value):
            continue
        key = (threshold.task, _metric(outcome, verdict))
        rows.setdefault(key, CardResult(key[0], key[1], verdict.value, verdict.n))
    return list(rows.values())


def _metric(outcome: GateOutcome, verdict: Verdict) -> str:
    task = outcome.run.tasks.get(verdict.threshold.task)
    if task is not None:
        try:
            return metric_name(task.resolve(verdict.threshold.metric))
        except KeyError:
            pass
    return metric_name(verdict.threshold.metric)


def _cell(text: str) -> str:
    """Text safe inside a Markdown table cell (model output never reaches here, but task and
    metric names might hold a pipe)."""
    return text.replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ")


def _ci(verdict: Verdict) -> str:
    if verdict.value_ci is None or not all(map(math.isfinite, verdict.value_ci)):
        return "—"
    low, high = verdict.value_ci
    return f"[{low:.4f}, {high:.4f}]"


def _value(value: float | None) -> str:
    return "missing" if value is None else f"{value:.4f}"


def card_section(outcome: GateOutcome) -> str:
    """The evaluation section, markers included."""
    manifest = outcome.manifest
    verdict = "passed" if outcome.passed else "failed"
    lines = [
        START,
        "## Evaluation (pytest-mlgate)",
        "",
        f"Gate run `{outcome.run_id}` ({manifest.timestamp}) {verdict}: suite "
        f"`{manifest.suite.name}`, commit `{manifest.git.commit or 'unknown'}`, lm-eval "
        f"{manifest.versions.lm_eval or 'unknown'}, pytest-mlgate "
        f"{manifest.versions.pytest_mlgate or 'unknown'}.",
        "",
        "| task | metric | value | 95% CI | n | verdict | against |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for v in outcome.verdicts:
        item = v.threshold.item_name.partition("::")[2]
        against = f"baseline `{v.baseline_run}`" if v.baseline_run else "thresholds only"
        lines.append(
            f"| {_cell(v.threshold.task)} | {_cell(item)} | {_value(v.value)} | {_ci(v)} | "
            f"{'—' if v.n is None else v.n} | {v.status.value}: {_cell(v.reason)} | {against} |"
        )
    lines += [
        "",
        "| task | version | task hash | data hash | n-shot |",
        "| --- | --- | --- | --- | --- |",
    ]
    for name, info in sorted(manifest.tasks.items()):
        lines.append(
            f"| {_cell(name)} | {info.version or '—'} | `{info.task_hash or '—'}` | "
            f"`{info.docs or '—'}` | {'—' if info.num_fewshot is None else info.num_fewshot} |"
        )
    pii = [v for v in outcome.verdicts if v.threshold.metric.partition(",")[0] == "pii_rate"]
    if pii:
        lines.append("")
        for v in pii:
            lines.append(
                f"Personal data (KVKK) on `{_cell(v.threshold.task)}`: pii_rate "
                f"{_value(v.value)}, {v.status.value}."
            )
    checkpoint = manifest.checkpoint
    lines += [
        "",
        f"Checkpoint fingerprint `{checkpoint.fingerprint or 'unknown'}`; reproduce with "
        f"`mlgate reproduce {outcome.run_id}`.",
        END,
    ]
    return "\n".join(lines) + "\n"
