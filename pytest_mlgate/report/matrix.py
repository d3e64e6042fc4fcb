"""The regression matrix: rows = task / metric (and subgroups), columns = recorded runs.

Built with pandas from history records plus the current run. Plain data out (no HTML), so the
HTML and Markdown renderers and ``mlgate report`` share it.

Trend rule (stated in the report): the Mann-Kendall test for a monotone trend over the values
of the row's columns, oriented so that "up" is better: "down" when the one-sided test for a
decline has p < alpha, "up" likewise for a rise, "flat" otherwise, "few" under four values. A
gated row shows the gate's own trend instead: "down" when its CUSUM over the baseline branch's
comparable runs and this one alarmed at this run (``gate.trend``), "flat" otherwise.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from pytest_mlgate import stats
from pytest_mlgate.config.schema import GateConfig, MetricThreshold, ReportConfig, clean_task
from pytest_mlgate.errors import MetricNotFound, MlgateError, StoreError
from pytest_mlgate.gate.bounds import disparity
from pytest_mlgate.gate.comparison import BASELINE, comparison_margin
from pytest_mlgate.gate.pairing import Flips, paired_docs, task_flips
from pytest_mlgate.gate.verdicts import Anchor, GateOutcome, Reference, Verdict, trend_alarm
from pytest_mlgate.results import EvalRun, MetricResult, TaskResult
from pytest_mlgate.store import HistoryStore

TREND_MIN_VALUES = 4


@dataclass(frozen=True)
class ReportInput:
    """Everything a report shows; the live session and ``mlgate report`` both build one."""

    outcome: GateOutcome  #: the run reported
    baseline: GateOutcome | None
    history: Sequence[GateOutcome]  #: recorded runs before this one, oldest first
    settings: GateConfig = field(default_factory=GateConfig)
    report: ReportConfig = field(default_factory=ReportConfig)
    anchor: Anchor | None = None
    reference: Reference | None = None  #: the checkpoint evaluated head to head

    @property
    def run_id(self) -> str:
        return self.outcome.run_id

    @property
    def suite(self) -> str:
        return self.outcome.manifest.suite.name

    @property
    def checkpoint(self) -> str:
        return self.outcome.manifest.checkpoint.id

    @property
    def thresholds(self) -> tuple[MetricThreshold, ...]:
        return tuple(v.threshold for v in self.outcome.verdicts)


@dataclass(frozen=True)
class Column:
    run_id: str
    timestamp: str
    branch: str | None
    commit: str | None
    is_baseline: bool = False
    is_current: bool = False
    is_anchor: bool = False
    is_reference: bool = False

    @property
    def pinned(self) -> bool:
        """Kept in view at the right edge, however many history columns there are."""
        return self.is_baseline or self.is_current or self.is_anchor or self.is_reference

    @property
    def label(self) -> str:
        when = self.timestamp[5:16].replace("T", " ") if self.timestamp else ""
        return f"{when} {self.run_id[-8:]}".strip()

    @classmethod
    def of(cls, outcome: GateOutcome, **marks: bool) -> Column:
        manifest = outcome.manifest
        return cls(
            outcome.run_id, manifest.timestamp, manifest.git.branch, manifest.git.commit, **marks
        )


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
    disparity: float | None = None  # best minus worst subgroup in this run (gated rows)
    trend_p: float | None = None  # the trend test's one-sided p-value
    trend_cusum: tuple[float, float] | None = None  # a gated row's trend: (CUSUM, its h)
    #: the drop its comparison with the baseline detects with 80% power (NaN: none)
    detectable: float | None = None

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
    if run_id is None:
        newest = store.last(1, branch)
        if not newest:
            raise StoreError(f"no recorded run in {store.location}")
        run_id = newest[-1].run_id
    outcome = store.load(run_id)
    baseline_id = baseline_id or next(
        (v.baseline_run for v in outcome.verdicts if v.baseline_run), None
    )
    report = ReportConfig(history=history) if history else ReportConfig()
    window = []
    for entry in store.last(report.history, before=run_id):
        try:
            window.append(store.load(entry.run_id))
        except MlgateError:
            continue  # the store warned
    return ReportInput(
        outcome=outcome,
        baseline=store.load(baseline_id) if baseline_id else None,
        history=window,
        settings=settings,
        report=report,
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
                rows.extend(
                    {"run": run_id, "task": name, "metric": key, "subgroup": group, "value": mean}
                    for group, (mean, _) in task.subgroup_scores(key).items()
                )
    return rows


RowKey = tuple[str, str, str]  # task, full metric key, subgroup ("" for the whole task)


def _by_metric_key(run: EvalRun, verdicts: Sequence[Verdict]) -> dict[RowKey, Verdict]:
    """Each verdict under its (task, full ``metric,filter`` key, subgroup) in ``run``."""
    found = {}
    for verdict in verdicts:
        threshold = verdict.threshold
        if threshold.task in run:
            try:
                key = run[threshold.task].resolve(threshold.metric)
            except MetricNotFound:
                continue
            found[(threshold.task, key, threshold.subgroup or "")] = verdict
    return found


@dataclass
class _Builder:
    """The state shared while one matrix is built."""

    data: ReportInput
    columns: list[Column]
    values: Any  # the pivot: rows (task, metric, subgroup) x columns (run ids)
    gated: dict[RowKey, Verdict]
    statuses: dict[str, dict[RowKey, Verdict]]
    pairs: dict[tuple[str, str], list[tuple[int, float, float]]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.baseline_column = next((i for i, c in enumerate(self.columns) if c.is_baseline), None)

    def row(self, row_index: int, task: str, metric: str, subgroup: str) -> Row | None:
        current_tasks = self.data.outcome.run.tasks
        if task not in current_tasks or metric not in current_tasks[task].metrics:
            return None  # rows of the current run only: the matrix answers "did *this* regress"
        current_metric = current_tasks[task].metrics[metric]
        verdict = self.gated.get((task, metric, "")) or self.gated.get((task, metric, subgroup))
        threshold = verdict.threshold if verdict is not None else None
        direction = _direction(threshold, current_metric)
        cells = self._cells(row_index, task, metric, subgroup or None)
        oriented = 1.0 if direction else -1.0
        current = cells[-1]
        own = (
            verdict
            if verdict is not None and verdict.threshold.subgroup == (subgroup or None)
            else None
        )
        margin = self._margin(threshold, own, cells, direction)
        spread = None
        if not subgroup and threshold is not None and current_tasks[task].subgroups:
            found = disparity(current_tasks[task], current_metric, threshold.min_subgroup_n)
            spread = None if found is None else found[0]
        trend, trend_p = _trend(
            [c.value for c in cells], oriented, verdict, self.data.settings.alpha
        )
        return Row(
            task=task,
            metric=str(metric),
            subgroup=subgroup or None,
            higher_is_better=direction,
            gated=(task, metric, subgroup) in self.gated,
            margin=margin,
            cells=tuple(cells),
            trend=trend,
            alert=current.delta is not None and -oriented * current.delta > margin,
            n=current_metric.n if not subgroup else None,
            disparity=spread,
            trend_p=trend_p,
            trend_cusum=_cusum(verdict),
            detectable=None if own is None else own.detectable,
        )

    def _margin(
        self,
        threshold: MetricThreshold | None,
        verdict: Verdict | None,
        cells: Sequence[Cell],
        direction: bool,
    ) -> float:
        """The margin the alert uses: exactly the verdict's (``min_ratio`` where it applies, of the
        value the verdict compared with: its paired baseline mean, else the baseline column)."""
        if threshold is None:
            return self.data.settings.max_drop
        base_index = self.baseline_column
        compared = math.nan if base_index is None else cells[base_index].value
        if verdict is not None and verdict.comparison is not None:
            compared = verdict.comparison.baseline
        found = comparison_margin(
            BASELINE,
            threshold,
            self.data.settings,
            math.nan if compared is None else compared,
            direction,
            with_reference=self.data.reference is not None,
        )
        assert found is not None  # the baseline always has a margin
        return found.allowed

    def _cells(self, row_index: int, task: str, metric: str, subgroup: str | None) -> list[Cell]:
        base_index = self.baseline_column
        base_value = None if base_index is None else _number(self.values[row_index, base_index])
        cells = []
        for i, column in enumerate(self.columns):
            value = _number(self.values[row_index, i])
            delta = (
                None
                if value is None or base_value is None or column.is_baseline
                else value - base_value
            )
            verdict = self.statuses.get(column.run_id, {}).get((task, metric, subgroup or ""))
            cell = Cell(value, delta, status=None if verdict is None else verdict.status.value)
            if column.is_current:
                cell = self._current_cell(cell, verdict, task, metric, subgroup)
            cells.append(cell)
        return cells

    def _current_cell(
        self, cell: Cell, verdict: Verdict | None, task: str, metric: str, subgroup: str | None
    ) -> Cell:
        """This run's cell: the gate's own comparison where it gated the row; for a subgroup,
        a paired comparison of that subgroup's examples."""
        c = None if verdict is None else verdict.comparison
        if verdict is not None and c is not None and math.isfinite(c.delta):
            ci = None if any(math.isnan(x) for x in c.ci) else c.ci
            return Cell(cell.value, c.delta, ci, verdict.p, cell.status)
        baseline = self.data.baseline
        if subgroup is None or baseline is None or task not in baseline.run:
            return cell
        now_task: TaskResult = self.data.outcome.run[task]
        base_task: TaskResult = baseline.run[task]
        base_metric = base_task.metrics.get(metric)
        if base_metric is None:
            return cell
        if (task, metric) not in self.pairs:  # one pairing per metric, shared by its subgroups
            self.pairs[(task, metric)] = paired_docs(
                now_task.metrics[metric], now_task, base_metric, base_task
            )[0]
        mine = [
            (b, c)
            for doc, b, c in self.pairs[(task, metric)]
            if now_task.subgroups.get(doc) == subgroup
        ]
        if len(mine) < 2:
            return cell
        comparison = stats.compare(
            [b for b, _ in mine],
            [c for _, c in mine],
            paired=True,
            higher_is_better=now_task.metrics[metric].higher_is_better is not False,
        )
        return Cell(cell.value, comparison.delta, comparison.ci, comparison.p_value, None)


def _direction(threshold: MetricThreshold | None, metric: MetricResult) -> bool:
    declared = None if threshold is None else threshold.higher_is_better
    return (metric.higher_is_better if declared is None else declared) is not False


def _columns(data: ReportInput) -> tuple[list[GateOutcome], list[Column]]:
    """The runs shown and their columns: the history window, then the anchor, the reference,
    the baseline and this run (kept at the right, pinned in view)."""
    pinned = {r.run_id for r in (data.baseline, data.anchor.outcome if data.anchor else None) if r}
    window = [r for r in list(data.history)[-data.report.history :] if r.run_id not in pinned]
    columns = [Column.of(r) for r in window]
    if data.anchor is not None and data.anchor.outcome.run_id != getattr(
        data.baseline, "run_id", None
    ):
        window.append(data.anchor.outcome)
        columns.append(Column.of(data.anchor.outcome, is_anchor=True))
    if data.reference is not None:
        window.append(data.reference.outcome)
        columns.append(Column.of(data.reference.outcome, is_reference=True))
    if data.baseline is not None:
        window.append(data.baseline)
        columns.append(Column.of(data.baseline, is_baseline=True))
    columns.append(Column.of(data.outcome, is_current=True))
    return window, columns


def build_matrix(data: ReportInput) -> Matrix:
    import pandas as pd

    window, columns = _columns(data)
    current = data.outcome
    gated = _by_metric_key(current.run, current.verdicts)
    parents = {(task, metric) for task, metric, _ in gated}
    long = [row for r in window for row in _long_rows(r.run_id, r.run, parents)]
    long += _long_rows(current.run_id, current.run, parents)
    frame = pd.DataFrame(long, columns=["run", "task", "metric", "subgroup", "value"])
    wide = frame.pivot_table(
        index=["task", "metric", "subgroup"], columns="run", values="value", aggfunc="first"
    ).reindex(columns=[c.run_id for c in columns])
    statuses = {r.run_id: _by_metric_key(r.run, r.verdicts) for r in window}
    statuses[current.run_id] = gated
    builder = _Builder(
        data, columns, wide.to_numpy(dtype=float, na_value=math.nan), gated, statuses
    )
    rows = [
        row
        for i, (task, metric, subgroup) in enumerate(wide.index)
        if (row := builder.row(i, task, metric, subgroup)) is not None
    ]
    rows.sort(
        key=lambda r: (
            not r.gated and r.subgroup is None,
            clean_task(r.task),  # a variant (TASK@KIND) right after its clean task
            r.task,
            r.metric,
            r.subgroup or "",
        )
    )
    baseline = None if data.baseline is None else data.baseline.run
    flips = task_flips(current.run, baseline, data.thresholds)
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


def _cusum(verdict: Verdict | None) -> tuple[float, float] | None:
    """A gated row's CUSUM and threshold (None: no trend, or a record from before the CUSUM)."""
    if verdict is None or verdict.trend is None or verdict.threshold.subgroup is not None:
        return None
    statistic, threshold, _ = verdict.trend
    return (statistic, threshold) if threshold > 1.0 else None


def _trend(
    values: Sequence[float | None], oriented: float, verdict: Verdict | None, alpha: float
) -> tuple[str, float | None]:
    """(up / flat / down / few, the p-value of the direction shown)."""
    if verdict is not None and verdict.trend is not None and verdict.threshold.subgroup is None:
        alarmed, p = trend_alarm(verdict.trend, alpha)
        return ("down" if alarmed else "flat", p)
    known = [v * oriented for v in values if v is not None]
    if len(known) < TREND_MIN_VALUES:
        return ("few", None)
    _, p_down = stats.mann_kendall_down(known)
    _, p_up = stats.mann_kendall_down([-v for v in known])
    if p_down < alpha:
        return ("down", p_down)
    if p_up < alpha:
        return ("up", p_up)
    return ("flat", min(p_down, p_up))


@dataclass(frozen=True)
class ThroughputRow:
    """One request type's speed in each column's run (None: not measured, or a cache hit)."""

    kind: str
    cells: tuple[tuple[float, float] | None, ...]  #: (requests/s, tokens/s) per column


def throughput_rows(data: ReportInput, columns: Sequence[Column]) -> list[ThroughputRow]:
    """Throughput per request type across the report's columns: reported, not gated."""
    runs = {
        r.run_id: r.manifest.throughput
        for r in (
            *data.history,
            data.baseline,
            data.anchor.outcome if data.anchor else None,
            data.reference.outcome if data.reference else None,
            data.outcome,
        )
        if r is not None
    }
    kinds = list(dict.fromkeys(t.kind for figures in runs.values() for t in figures))
    rows = []
    for kind in kinds:
        cells = []
        for column in columns:
            figure = next((t for t in runs.get(column.run_id, ()) if t.kind == kind), None)
            cells.append(None if figure is None else (figure.requests_per_s, figure.tokens_per_s))
        rows.append(ThroughputRow(kind, tuple(cells)))
    return rows
