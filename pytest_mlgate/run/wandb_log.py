"""Logging a gated run to Weights & Biases (``[report] wandb``, ``--mlgate-wandb PROJECT``).

One W&B run per gated run, named by the gate's run id: config = the manifest's settings; tags
branch, commit, suite and verdict (plus the configured ones); in the summary every gated
metric's value, CI, delta, p and verdict under lm-eval's ``TASK/METRIC`` layout (``acc,none`` is
``acc``; other filters stay: ``exact_match,strict-match``); the verdict table and the examples
that flipped right → wrong against the baseline (redacted like every stored text) as W&B Tables;
the HTML report and the record as an artifact. ``wandb`` is imported only here, only when
configured. Credentials come from the environment only (``WANDB_API_KEY``; ``WANDB_MODE=offline``
logs to local run files). A W&B failure never changes the verdict, the history or the exit
code: it is one warning (:class:`~pytest_mlgate.errors.WandbWarning`) that names it.
"""

from __future__ import annotations

import tempfile
import warnings
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from pytest_mlgate.config.schema import WandbConfig
from pytest_mlgate.errors import WandbWarning
from pytest_mlgate.gate.verdicts import GateOutcome, Verdict
from pytest_mlgate.report.metrics_file import VERDICT_CODES, metric_name

VERDICT_COLUMNS: list[str | int] = [
    "item", "task", "metric", "value", "ci_low", "ci_high", "n", "baseline", "delta",
    "p_value", "verdict", "reason",
]  # fmt: skip
FLIP_COLUMNS: list[str | int] = [
    "task",
    "metric",
    "doc_id",
    "baseline_score",
    "score",
    "prompt",
    "target",
    "response",
]


def _finite(value: float | None) -> float | None:
    return value if value is None or (value == value and abs(value) != float("inf")) else None


def _key(verdict: Verdict) -> str:
    threshold = verdict.threshold
    name = metric_name(threshold.metric)
    if threshold.subgroup is not None:
        name = f"{name}[{threshold.subgroup}]"
    return f"{threshold.task}/{name}"


def summary(outcome: GateOutcome) -> dict[str, Any]:
    """The W&B summary: ``TASK/METRIC`` and its ``/ci_low``, ``/ci_high``, ``/delta``,
    ``/p_value``, ``/verdict``, ``/verdict_code``; the run's own under ``mlgate/``."""
    found: dict[str, Any] = {
        "mlgate/run_id": outcome.run_id,
        "mlgate/verdict": "pass" if outcome.passed else "fail",
        "mlgate/failed": sum(not v.passed for v in outcome.verdicts),
    }
    for verdict in outcome.verdicts:
        key = _key(verdict)
        found[key] = _finite(verdict.value)
        if verdict.value_ci is not None:
            found[f"{key}/ci_low"], found[f"{key}/ci_high"] = map(_finite, verdict.value_ci)
        if verdict.comparison is not None:
            found[f"{key}/delta"] = _finite(verdict.comparison.delta)
            found[f"{key}/p_value"] = _finite(verdict.p)
        found[f"{key}/verdict"] = verdict.status.value
        found[f"{key}/verdict_code"] = VERDICT_CODES[verdict.status]
    return found


def verdict_rows(outcome: GateOutcome) -> list[Iterable[Any]]:
    rows: list[Iterable[Any]] = []
    for v in outcome.verdicts:
        low, high = v.value_ci if v.value_ci is not None else (None, None)
        comparison = v.comparison
        rows.append([
            v.threshold.item_name, v.threshold.task, metric_name(v.threshold.metric),
            _finite(v.value), _finite(low), _finite(high), v.n,
            None if comparison is None else _finite(comparison.baseline),
            None if comparison is None else _finite(comparison.delta),
            _finite(v.p), v.status.value, v.reason,
        ])  # fmt: skip
    return rows


def flip_rows(outcome: GateOutcome, baseline: GateOutcome | None) -> list[Iterable[Any]]:
    """The documents a gated whole-task metric got right in the baseline and wrong now, with
    the example's (already redacted) texts where the run kept them."""
    if baseline is None:
        return []
    rows: list[Iterable[Any]] = []
    for verdict in outcome.verdicts:
        threshold = verdict.threshold
        task, old_task = (
            outcome.run.tasks.get(threshold.task),
            baseline.run.tasks.get(threshold.task),
        )
        if threshold.subgroup is not None or task is None or old_task is None:
            continue
        try:
            metric, old = task.metric(threshold.metric), old_task.metric(threshold.metric)
        except KeyError:
            continue
        before = dict(zip(old.doc_ids, old.scores, strict=True))
        for doc, score in zip(metric.doc_ids, metric.scores, strict=True):
            was = before.get(doc)
            # worse in the metric's own direction (higher is better unless it says otherwise)
            higher = metric.higher_is_better is not False
            if was is None or not (score < was if higher else score > was):
                continue
            example = task.examples.get(doc)
            texts = [example.prompt, example.target, example.response] if example else [None] * 3
            rows.append([threshold.task, metric_name(metric.key), doc, was, score, *texts])
    return rows


def log_run(
    settings: WandbConfig,
    outcome: GateOutcome,
    baseline: GateOutcome | None,
    files: Mapping[str, Path],
    record: str,
) -> str:
    """Log ``outcome`` to W&B; what was done, or the warning that says why it was not (never
    raises: a W&B failure must not change the gate)."""
    try:
        return _log(settings, outcome, baseline, files, record)
    except BaseException as exc:
        if isinstance(exc, KeyboardInterrupt):
            raise
        message = (
            f"W&B: run {outcome.run_id} NOT logged to project {settings.project!r}: "
            f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''} (the verdict, "
            "history and exit code are unchanged)"
        )
        warnings.warn(message, WandbWarning, stacklevel=2)
        return message


def _config(outcome: GateOutcome) -> dict[str, Any]:
    m = outcome.manifest
    return {
        "run_id": m.run_id, "suite": m.suite.name, "sample": m.suite.sample,
        "seed": m.suite.seed, "num_fewshot": m.suite.num_fewshot,
        "checkpoint": m.checkpoint.id, "fingerprint": m.checkpoint.fingerprint,
        "backend": m.model.backend, "dtype": m.model.dtype, "batch_size": m.model.batch_size,
        "device": m.model.device, "model_args": dict(m.model.model_args),
        "commit": m.git.commit, "branch": m.git.branch, "dirty": m.git.dirty,
        "lm_eval": m.versions.lm_eval, "torch": m.versions.torch,
        "transformers": m.versions.transformers, "pytest_mlgate": m.versions.pytest_mlgate,
        "tasks": {name: {"task_hash": t.task_hash, "version": t.version, "n": t.n}
                  for name, t in m.tasks.items()},
    }  # fmt: skip


def _log(
    settings: WandbConfig,
    outcome: GateOutcome,
    baseline: GateOutcome | None,
    files: Mapping[str, Path],
    record: str,
) -> str:
    import wandb

    manifest = outcome.manifest
    tags = [
        f"branch:{manifest.git.branch or 'unknown'}",
        f"commit:{(manifest.git.commit or 'unknown')[:10]}",
        f"suite:{manifest.suite.name}",
        f"verdict:{'pass' if outcome.passed else 'fail'}",
        *settings.tags,
    ]
    run = wandb.init(
        project=settings.project,
        entity=settings.entity,
        name=outcome.run_id,
        config=_config(outcome),
        tags=[t[:64] for t in tags],  # W&B's limit on a tag's length
        reinit="create_new",
        settings=wandb.Settings(init_timeout=settings.timeout, silent=True),
    )
    try:
        run.summary.update(summary(outcome))
        run.log({
            "mlgate/verdicts": wandb.Table(columns=VERDICT_COLUMNS, data=verdict_rows(outcome)),
            "mlgate/flipped": wandb.Table(columns=FLIP_COLUMNS, data=flip_rows(outcome, baseline)),
        })  # fmt: skip
        artifact = wandb.Artifact(f"mlgate-{outcome.run_id}", type="mlgate-run")
        with tempfile.TemporaryDirectory(prefix="mlgate-wandb-") as folder:
            path = Path(folder) / "record.json"
            path.write_text(record, encoding="utf-8")
            artifact.add_file(str(path), name="record.json")
            for name, file in files.items():
                if file.is_file():
                    artifact.add_file(str(file), name=name)
            run.log_artifact(artifact)
            where = getattr(run, "url", None) or getattr(run.settings, "sync_dir", "")
            run.finish()
    except BaseException:
        run.finish(exit_code=1)
        raise
    return f"W&B: logged run {outcome.run_id} to {settings.project} ({where})"
