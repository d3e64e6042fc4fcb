"""``--mlgate-metrics``: a gated run as the hierarchical JSON metrics file DVC reads.

Layout (``dvc metrics show`` flattens it on dots)::

    {"mlgate": {"run_id": …, "verdict": "pass", "verdict_code": 0, "items": 3, …},
     "TASK": {"METRIC": {"value": …, "ci_low": …, "ci_high": …, "n": …,
                         "baseline": …, "delta": …, "p_value": …,
                         "verdict": "pass", "verdict_code": 0,
                         "subgroups": {"SUBGROUP": {"value": …, "n": …, "verdict": …}}}}}

DVC splits keys on ``.``, so a ``.`` in a task, metric or subgroup name is written ``%2E`` (and
``%`` itself ``%25``; a task named ``mlgate`` is written ``%6Dlgate`` so it never meets the gate's
own key): ``urllib.parse.unquote`` reverses every key. lm-eval's ``none`` filter is left out of a
metric's name (``acc,none`` is ``acc``); any other filter stays (``exact_match,strict-match``).
DVC diffs numbers only, so the verdict is a number too: 0 pass, 1 warn, 2 fail. Keys come in a
fixed order (the gate's key first, then tasks, metrics and subgroups sorted by name), so two runs
with the same results write the same bytes.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from pytest_mlgate.atomic import write_atomic
from pytest_mlgate.gate.verdicts import GateOutcome, Status, Verdict
from pytest_mlgate.results import MetricResult, TaskResult

GATE_KEY = "mlgate"  #: the key that holds the run's own verdict and id
VERDICT_CODES = {Status.PASS: 0, Status.WARN: 1, Status.FAIL: 2}

#: a metric's (or subgroup's) fields, in the order they are written
ENTRY_FIELDS = (
    "value",
    "ci_low",
    "ci_high",
    "n",
    "baseline",
    "delta",
    "p_value",
    "verdict",
    "verdict_code",
)

Json = dict[str, Any]


def escape_key(name: str) -> str:
    """A name DVC keeps whole: ``%`` → ``%25``, ``.`` → ``%2E`` (reversed by ``unquote``)."""
    return name.replace("%", "%25").replace(".", "%2E")


def _task_key(name: str) -> str:
    key = escape_key(name)
    return "%6D" + key[1:] if key == GATE_KEY else key


def metric_name(key: str) -> str:
    """``acc,none`` -> ``acc``; ``exact_match,strict-match`` stays as it is."""
    base, _, applied = key.partition(",")
    return base if applied in ("", "none") else key


def _number(value: float | None) -> float | None:
    """A JSON number, or null for what DVC cannot diff (NaN, infinities, missing)."""
    if value is None or not math.isfinite(value):
        return None
    return float(value)


def _measured(metric: MetricResult) -> Json:
    low, high = metric.ci()
    return {
        "value": _number(metric.value),
        "ci_low": _number(low),
        "ci_high": _number(high),
        "n": metric.n,
    }


def _judged(verdict: Verdict) -> Json:
    """What the gate decided about one item, for its metric's (or subgroup's) entry."""
    entry: Json = {"value": _number(verdict.value)}
    if verdict.value_ci is not None:
        entry["ci_low"], entry["ci_high"] = map(_number, verdict.value_ci)
    if verdict.n is not None:
        entry["n"] = verdict.n
    comparison = verdict.comparison
    if comparison is not None:
        entry["baseline"] = _number(comparison.baseline)
        entry["delta"] = _number(comparison.delta)
        entry["p_value"] = _number(verdict.p)
    entry["verdict"] = verdict.status.value
    entry["verdict_code"] = VERDICT_CODES[verdict.status]
    return entry


def _metric_of(task: TaskResult | None, metric: str) -> str:
    """The metric's name as the run names it (``acc`` for a threshold on ``acc,none``)."""
    if task is not None:
        try:
            return metric_name(task.resolve(metric))
        except KeyError:
            pass  # a missing metric: listed under the name the threshold gave
    return metric_name(metric)


def _gate_summary(outcome: GateOutcome) -> Json:
    statuses = [v.status for v in outcome.verdicts]
    worst = max(statuses, key=VERDICT_CODES.__getitem__, default=Status.PASS)
    baselines = sorted({v.baseline_run for v in outcome.verdicts if v.baseline_run})
    return {
        "run_id": outcome.run_id,
        "verdict": "fail" if worst is Status.FAIL else "pass",
        "verdict_code": VERDICT_CODES[worst],
        "items": len(statuses),
        "failed": statuses.count(Status.FAIL),
        "warned": statuses.count(Status.WARN),
        "baseline": ", ".join(baselines) or None,
        "commit": outcome.manifest.git.commit,
        "suite": outcome.manifest.suite.name or None,
    }


def metrics_document(outcome: GateOutcome) -> Json:
    """The metrics file's content: every metric of the run, each gated one with its verdict."""
    tasks: dict[str, dict[str, Json]] = {}
    for task in outcome.run.tasks.values():
        metrics = tasks.setdefault(task.name, {})
        for key, metric in task.metrics.items():
            metrics[metric_name(key)] = _measured(metric)
    for verdict in outcome.verdicts:
        threshold = verdict.threshold
        gated = outcome.run.tasks.get(threshold.task)
        entry = tasks.setdefault(threshold.task, {}).setdefault(
            _metric_of(gated, threshold.metric), {}
        )
        if threshold.subgroup is None:
            entry.update(_judged(verdict))
        else:
            entry.setdefault("subgroups", {})[threshold.subgroup] = _judged(verdict)
    document: Json = {GATE_KEY: _gate_summary(outcome)}
    for task_name in sorted(tasks):
        document[_task_key(task_name)] = {
            escape_key(name): _ordered(entry) for name, entry in sorted(tasks[task_name].items())
        }
    return document


def _ordered(entry: Json) -> Json:
    """An entry's fields in one order; its subgroups sorted by name and keys escaped."""
    fields = ENTRY_FIELDS
    ordered = {name: entry[name] for name in fields if name in entry}
    subgroups: Json = entry.get("subgroups", {})
    if subgroups:
        ordered["subgroups"] = {
            escape_key(name): _ordered(subgroups[name]) for name in sorted(subgroups)
        }
    return ordered


def render_metrics(outcome: GateOutcome) -> str:
    return json.dumps(metrics_document(outcome), indent=2, ensure_ascii=False, allow_nan=False)


def write_metrics(path: Path, outcome: GateOutcome) -> None:
    """Write the metrics file atomically (DVC never reads half a file)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(path, render_metrics(outcome) + "\n")
