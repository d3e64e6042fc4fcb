"""The regression matrix: rows = task / metric (and subgroups), columns = recorded runs.

Built with pandas from history records plus the current run. Plain data out (no HTML), so the
HTML and Markdown renderers and ``mlgate report`` share it.

Trend rule (stated in the report): over the columns shown, the mean of the last three values is
compared with the mean of the earlier ones; oriented so that "up" is better, the row trends up
(down) when the difference exceeds half the metric's allowed drop, and is flat otherwise (or
with fewer than four values).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from pytest_mlgate import stats
from pytest_mlgate.config import GateConfig, MetricThreshold, ReportConfig
from pytest_mlgate.errors import MlgateError, StoreError
from pytest_mlgate.gate import Baseline, Flips, paired_docs, task_flips
from pytest_mlgate.results import EvalRun, MetricNotFound, TaskResult
from pytest_mlgate.store import HistoryStore, RunRecord

TREND_RECENT = 3


@dataclass(frozen=True)
class ReportInput:
    """Everything a report shows; the live session and ``mlgate report`` both build one."""

    run_id: str
    run: EvalRun
    manifest: Mapping[str, Any]
    verdicts: Sequence[Mapping[str, Any]]  # gate.Verdict.summary() dicts
    baseline: Baseline | None
    history: Sequence[RunRecord]  # recorded runs before this one, oldest first
    thresholds: Sequence[MetricThreshold]
    settings: GateConfig = field(default_factory=GateConfig)
    report: ReportConfig = field(default_factory=ReportConfig)
    suite: str = ""
    checkpoint: str = ""


@dataclass(frozen=True)
class Column:
    run_id: str
    timestamp: str
    branch: str | None
    commit: str | None
    is_baseline: bool = False
    is_current: bool = False

    @property
    def label(self) -> str:
        when = self.timestamp[5:16].replace("T", " ") if self.timestamp else ""
        return f"{when} {self.run_id[-8:]}".strip()


@dataclass(frozen=True)
class Cell:
    value: float | None
    delta: float | None = None  # against the baseline column
    ci: tuple[float, float] | None = None
    p: float | None = None
    status: str | None = None  # pass / warn / fail, where this run gated the row


@dataclass(frozen=True)
class Row:
    task: str
    metric: str
    subgroup: str | None
    higher_is_better: bool
    gated: bool
    margin: float
    cells: tuple[Cell, ...]
    trend: str  # up / flat / down, or "few" with fewer than four values
    alert: bool  # the current run dropped by more than the margin
    n: int | None = None

    @property
    def name(self) -> str:
        base = f"{self.task} / {self.metric}"
        return base if self.subgroup is None else f"{base} / {self.subgroup}"

    def sparkline(self, width: int = 120, height: int = 24) -> str:
        """SVG polyline points for the row's values (empty when fewer than two)."""
        values = [(i, c.value) for i, c in enumerate(self.cells) if c.value is not None]
        if len(values) < 2:
            return ""
        low = min(v for _, v in values)
        high = max(v for _, v in values)
        span = high - low or 1.0
        last = max(len(self.cells) - 1, 1)
        return " ".join(
            f"{2 + i * (width - 4) / last:.1f},{height - 2 - (v - low) / span * (height - 4):.1f}"
            for i, v in values
        )


@dataclass(frozen=True)
class Matrix:
    columns: tuple[Column, ...]
    rows: tuple[Row, ...]
    flips: tuple[Flips, ...]


def report_from_store(
    store: HistoryStore,
    settings: GateConfig,
    *,
    run_id: str | None = None,
    branch: str | None = None,
    baseline_id: str | None = None,
    history: int | None = None,
) -> ReportInput:
    """The report of a recorded run (default: the latest, or the latest on ``branch``) against
    ``baseline_id`` (default: the baseline it was gated against), with the runs before it."""
    entries = store.entries()
    candidates = [e for e in entries if branch in (None, e.branch)]
    if run_id is None:
        if not candidates:
            raise StoreError(f"no recorded run in {store.location}")
        run_id = candidates[-1].run_id
    record = store.load(run_id)
    key = (record.entry.timestamp, record.run_id)
    before = [e for e in entries if (e.timestamp, e.run_id) < key]
    baseline_id = baseline_id or next(
        (str(v["baseline_run"]) for v in record.verdicts if v.get("baseline_run")), None
    )
    baseline = None
    if baseline_id:
        base = store.load(baseline_id)
        baseline = Baseline(base.run_id, base.run, base.manifest)
    report = ReportConfig(history=history) if history else ReportConfig()
    window = []
    for entry in before[-report.history :]:
        try:
            window.append(store.load(entry.run_id))
        except MlgateError:
            continue  # the store warned
    thresholds = [
        MetricThreshold(
            str(v["task"]), str(v["metric"]), v.get("min"), v.get("max"), v.get("max_drop")
        )
        for v in record.verdicts
        if v.get("task") and v.get("metric")
    ]
    return ReportInput(
        run_id=record.run_id,
        run=record.run,
        manifest=record.manifest,
        verdicts=list(record.verdicts),
        baseline=baseline,
        history=window,
        thresholds=thresholds,
        settings=settings,
        report=report,
        suite=str((record.manifest.get("suite") or {}).get("name", "")),
        checkpoint=str((record.manifest.get("checkpoint") or {}).get("id", "")),
    )


def _column(record: RunRecord, **marks: bool) -> Column:
    git = record.manifest.get("git") or {}
    return Column(
        record.run_id,
        str(record.manifest.get("timestamp", "")),
        git.get("branch"),
        git.get("commit"),
        **marks,
    )


def _long_rows(run_id: str, run: EvalRun, gated_keys: set[tuple[str, str]]) -> list[dict[str, Any]]:
    """One row per (task, metric[, subgroup]) value of one run, for the pandas pivot."""
    rows: list[dict[str, Any]] = []
    for name, task in run.tasks.items():
        for key, metric in task.metrics.items():
            rows.append(
                {"run": run_id, "task": name, "metric": key, "subgroup": "", "value": metric.value}
            )
            if (name, key) in gated_keys and task.subgroups and metric.scores:
                for group, (mean, _) in task.subgroup_scores(key).items():
                    rows.append(
                        {
                            "run": run_id,
                            "task": name,
                            "metric": key,
                            "subgroup": group,
                            "value": mean,
                        }
                    )
    return rows


def _gated_keys(
    run: EvalRun, thresholds: Sequence[MetricThreshold]
) -> dict[tuple[str, str], MetricThreshold]:
    keys = {}
    for threshold in thresholds:
        if threshold.task in run:
            try:
                keys[(threshold.task, run[threshold.task].resolve(threshold.metric))] = threshold
            except MetricNotFound:
                continue
    return keys


def _statuses(
    run: EvalRun, verdicts: Sequence[Mapping[str, Any]]
) -> dict[tuple[str, str], Mapping[str, Any]]:
    found = {}
    for verdict in verdicts:
        task, metric = str(verdict.get("task")), str(verdict.get("metric"))
        if task in run:
            try:
                found[(task, run[task].resolve(metric))] = verdict
            except MetricNotFound:
                continue
    return found


def build_matrix(data: ReportInput) -> Matrix:
    import pandas as pd

    window = list(data.history)[-data.report.history :]
    baseline_id = data.baseline.run_id if data.baseline else None
    if baseline_id and all(r.run_id != baseline_id for r in window):
        window = [r for r in data.history if r.run_id == baseline_id] + window
    columns = [_column(r, is_baseline=r.run_id == baseline_id) for r in window]
    columns.append(
        Column(
            data.run_id,
            str(data.manifest.get("timestamp", "")),
            (data.manifest.get("git") or {}).get("branch"),
            (data.manifest.get("git") or {}).get("commit"),
            is_current=True,
        )
    )
    gated = _gated_keys(data.run, data.thresholds)
    long = [row for r in window for row in _long_rows(r.run_id, r.run, set(gated))]
    long += _long_rows(data.run_id, data.run, set(gated))
    frame = pd.DataFrame(long, columns=["run", "task", "metric", "subgroup", "value"])
    order = [c.run_id for c in columns]
    wide = frame.pivot_table(
        index=["task", "metric", "subgroup"], columns="run", values="value", aggfunc="first"
    ).reindex(columns=order)
    statuses = {r.run_id: _statuses(r.run, r.verdicts) for r in window}
    statuses[data.run_id] = _statuses(data.run, data.verdicts)
    current_tasks = data.run.tasks
    position = {run_id: i for i, run_id in enumerate(order)}
    matrix_values = wide.to_numpy(dtype=float, na_value=math.nan)
    pairs: dict[tuple[str, str], list[tuple[int, float, float]]] = {}
    rows = []
    for row_index, (task, metric, subgroup) in enumerate(wide.index):
        values = {run_id: matrix_values[row_index, i] for run_id, i in position.items()}
        if task not in current_tasks or metric not in current_tasks[task].metrics:
            continue  # rows of the current run only: the matrix answers "did *this* regress"
        current_metric = current_tasks[task].metrics[metric]
        threshold = gated.get((task, metric))
        margin = (
            data.settings.max_drop
            if threshold is None or threshold.max_drop is None
            else threshold.max_drop
        )
        base_value = None if baseline_id is None else _number(values.get(baseline_id))
        cells = []
        for column in columns:
            value = _number(values.get(column.run_id))
            delta = (
                None
                if value is None or base_value is None or column.is_baseline
                else value - base_value
            )
            verdict = statuses.get(column.run_id, {}).get((task, metric)) if not subgroup else None
            cell = Cell(
                value, delta, status=None if verdict is None else str(verdict.get("status"))
            )
            if column.is_current:
                cell = _current_cell(cell, verdict, data, task, metric, subgroup or None, pairs)
            cells.append(cell)
        oriented = 1.0 if current_metric.higher_is_better else -1.0
        current = cells[-1]
        alert = current.delta is not None and -oriented * current.delta > margin
        rows.append(
            Row(
                task,
                str(metric),
                subgroup or None,
                current_metric.higher_is_better is not False,
                threshold is not None and not subgroup,
                margin,
                tuple(cells),
                _trend([c.value for c in cells], oriented, margin),
                alert,
                current_metric.n if not subgroup else None,
            )
        )
    rows.sort(
        key=lambda r: (not r.gated and r.subgroup is None, r.task, r.metric, r.subgroup or "")
    )
    flips = task_flips(data.run, data.baseline, data.thresholds)
    return Matrix(tuple(columns), tuple(_group_rows(rows)), tuple(flips))


def _group_rows(rows: list[Row]) -> list[Row]:
    """Each task / metric row followed by its subgroup rows."""
    parents = [r for r in rows if r.subgroup is None]
    children: dict[tuple[str, str], list[Row]] = {}
    for row in rows:
        if row.subgroup is not None:
            children.setdefault((row.task, row.metric), []).append(row)
    ordered = []
    for parent in parents:
        ordered.append(parent)
        ordered.extend(children.get((parent.task, parent.metric), []))
    return ordered


def _number(value: Any) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(number) else number


def _current_cell(
    cell: Cell,
    verdict: Mapping[str, Any] | None,
    data: ReportInput,
    task: str,
    metric: str,
    subgroup: str | None,
    pairs_cache: dict[tuple[str, str], list[tuple[int, float, float]]],
) -> Cell:
    """This run's cell: the gate's own comparison where it gated the row; for a subgroup, a
    paired comparison of that subgroup's examples."""
    if verdict is not None and verdict.get("delta") is not None:
        ci = verdict.get("delta_ci") or [None, None]
        return Cell(
            cell.value,
            float(verdict["delta"]),
            None if None in ci else (float(ci[0]), float(ci[1])),
            verdict.get("p_adjusted")
            if verdict.get("p_adjusted") is not None
            else verdict.get("p_value"),
            cell.status,
        )
    if subgroup is None or data.baseline is None or task not in data.baseline.run:
        return cell
    now_task: TaskResult = data.run[task]
    base_task: TaskResult = data.baseline.run[task]
    base_metric = base_task.metrics.get(metric)
    if base_metric is None:
        return cell
    if (task, metric) not in pairs_cache:  # one pairing per metric, shared by its subgroups
        pairs_cache[(task, metric)] = paired_docs(
            now_task.metrics[metric], now_task, base_metric, base_task
        )[0]
    pairs = pairs_cache[(task, metric)]
    mine = [(b, c) for doc, b, c in pairs if now_task.subgroups.get(doc) == subgroup]
    if len(mine) < 2:
        return cell
    comparison = stats.compare(
        [b for b, _ in mine],
        [c for _, c in mine],
        paired=True,
        higher_is_better=now_task.metrics[metric].higher_is_better is not False,
    )
    return Cell(cell.value, comparison.delta, comparison.ci, comparison.p_value, None)


def _trend(values: Sequence[float | None], oriented: float, margin: float) -> str:
    known = [v for v in values if v is not None]
    if len(known) < TREND_RECENT + 1:
        return "few"
    recent = sum(known[-TREND_RECENT:]) / TREND_RECENT
    earlier = sum(known[:-TREND_RECENT]) / (len(known) - TREND_RECENT)
    change = (recent - earlier) * oriented
    if change > margin / 2:
        return "up"
    if change < -margin / 2:
        return "down"
    return "flat"
