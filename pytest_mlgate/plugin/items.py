"""thresholds.toml as pytest nodes: an item per gated metric, latency bound, determinism task."""

from __future__ import annotations

import warnings
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from pytest_mlgate.gate.verdicts import Verdict

from pytest_mlgate.config.schema import MetricThreshold
from pytest_mlgate.errors import (
    AnchorSkippedWarning,
    ChanceWarning,
    IncomparableBaselineWarning,
    MlgateWarning,
    NoiseExplainedDropWarning,
    TrendWarning,
    UsageProblem,
)
from pytest_mlgate.plugin.fixtures import CONFIG_KEY, GATE_KEY
from pytest_mlgate.plugin.startup import (
    MARKER,
    NOTES_KEY,
    PENDING_KEY,
    SUITE_ERROR_KEY,
    config_path,
    eval_requested,
    gated_suite,
    start_gate,
    subgroup_counts,
    suite_choice,
)

# The warning class of each caveat a verdict can carry (gate.Caveat's values).
CAVEAT_WARNINGS: dict[str, type[MlgateWarning]] = {
    "noise": NoiseExplainedDropWarning,
    "incomparable": IncomparableBaselineWarning,
    "chance": ChanceWarning,
    "anchor": AnchorSkippedWarning,
    "trend": TrendWarning,
}


def eval_items(items: Sequence[pytest.Item]) -> list[pytest.Item]:
    """The items marked ``eval`` (threshold items carry the mark too)."""
    return [item for item in items if item.get_closest_marker(MARKER) is not None]


def marker_suites(item: pytest.Item) -> tuple[str, ...] | None:
    """The suites ``@pytest.mark.eval(suite=...)`` names, or None when it names none."""
    marker = item.get_closest_marker(MARKER)
    suite = None if marker is None else marker.kwargs.get("suite")
    if suite is None:
        return None
    return (suite,) if isinstance(suite, str) else tuple(suite)


def marker_tasks(item: pytest.Item) -> tuple[str, ...]:
    """The tasks ``@pytest.mark.eval(tasks=...)`` asks for; a usage error when malformed."""
    marker = item.get_closest_marker(MARKER)
    tasks = () if marker is None else marker.kwargs.get("tasks", ())
    if isinstance(tasks, str):
        tasks = (tasks,)
    if not isinstance(tasks, (list, tuple)) or not all(isinstance(t, str) for t in tasks):
        raise pytest.UsageError(
            f"{item.nodeid}: @pytest.mark.eval(tasks=...) takes a task name or a list of them, "
            f"not {tasks!r}"
        )
    return tuple(tasks)


def select_eval_items(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Deselect the eval items this run must not run, then start the gate of the rest."""
    if SUITE_ERROR_KEY in config.stash:  # an eval run whose suite cannot be resolved
        raise pytest.UsageError(str(config.stash[SUITE_ERROR_KEY]))
    evals = eval_items(items)
    if not evals:
        return
    if not eval_requested(config):
        # Plain `pytest`: evaluations are opt-in (`pytest -m eval`), unit tests run alone.
        deselect(config, items, evals)
        return
    cfg = config.stash.get(CONFIG_KEY, None)
    if cfg is None:
        path, _ = config_path(config)
        raise pytest.UsageError(
            f"{len(evals)} eval test(s) selected but there is no {path}: "
            "create one with `mlgate init` or pass --mlgate-config PATH"
        )
    choice = suite_choice(config, cfg)
    suite = choice.suite.name
    other_suite = [i for i in evals if (s := marker_suites(i)) is not None and suite not in s]
    if other_suite:
        deselect(config, items, other_suite)
        evals = [i for i in evals if i not in other_suite]
    if evals:
        try:
            thresholds = [i.threshold for i in evals if isinstance(i, ThresholdItem)]
            asked = [marker_tasks(i) for i in evals]
            config.stash[GATE_KEY] = start_gate(config, cfg, choice, thresholds, asked)
        except UsageProblem as exc:
            raise pytest.UsageError(f"{type(exc).__name__}: {exc}") from None


def deselect(config: pytest.Config, items: list[pytest.Item], drop: list[pytest.Item]) -> None:
    """Drop ``drop`` from ``items`` and tell pytest they were deselected."""
    config.hook.pytest_deselected(items=drop)
    dropped = set(map(id, drop))
    items[:] = [item for item in items if id(item) not in dropped]


class GateFailed(Exception):
    """A gated metric failed its threshold; the message is the one-line reason."""


class ThresholdsFile(pytest.File):
    """``thresholds.toml`` as a test file: a node per task, an item per gated metric, so node
    ids read ``thresholds.toml::<task>::<metric>`` and --lf / node-id selection work."""

    def collect(self) -> Iterator[pytest.Collector]:
        gated = gated_suite(self.config)
        if gated is None:
            return
        cfg, choice = gated
        thresholds = cfg.thresholds_for(choice.suite.all_tasks)
        for task in dict.fromkeys(t.task for t in thresholds):
            mine = tuple(t for t in thresholds if t.task == task)
            yield ThresholdTask.from_parent(self, name=task, thresholds=mine)
        if cfg.latency and choice.suite.latency is not None:
            yield LatencyNode.from_parent(self, name="latency")
        if cfg.gate.determinism is not None:
            yield DeterminismNode.from_parent(
                self, name="determinism", tasks=choice.suite.all_tasks
            )


class GateItem(pytest.Item):
    """An item the gate judges: failing with its one-line reason, no traceback. Under
    ``--mlgate-shard`` nothing is judged: the shard's part is evaluated and the item skipped
    (``mlgate merge`` gates the joined shards)."""

    label = ""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.add_marker(MARKER)

    def setup(self) -> None:
        gate = self.config.stash[GATE_KEY]
        evaluator = gate.evaluator
        if evaluator.partial is not None:
            evaluator.evaluate(gate.plan.tasks)
            k, n = evaluator.partial
            pytest.skip(f"shard {k}/{n}: gated when `mlgate merge` joins the shards")
        if not evaluator.leader:
            evaluator.evaluate(gate.plan.tasks)  # this rank's shard, gathered with the others
            assert evaluator.group is not None
            pytest.skip(f"rank {evaluator.group.rank} of {evaluator.group.size}: gated on rank 0")

    def repr_failure(
        self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None
    ) -> str | Any:
        if isinstance(excinfo.value, GateFailed):
            return str(excinfo.value)
        return super().repr_failure(excinfo, style=style)

    def reportinfo(self) -> tuple[Path, int | None, str]:
        return self.path, None, self.label


class LatencyNode(pytest.Collector):
    """``thresholds.toml::latency::p50_ms`` / ``p99_ms`` ([latency], on a suite that measures)."""

    def collect(self) -> Iterator[pytest.Item]:
        cfg = self.config.stash[CONFIG_KEY]
        for bound in cfg.latency:
            yield LatencyItem.from_parent(self, name=bound.name)


class LatencyItem(GateItem):
    """``thresholds.toml::latency::<bound>``: fails when the measured latency exceeds it."""

    @property
    def label(self) -> str:  # type: ignore[override]
        return f"latency::{self.name}"

    def runtest(self) -> None:
        gate = self.config.stash[GATE_KEY]
        judged = gate.latency_verdicts()
        if isinstance(judged, str):
            raise GateFailed(f"latency {self.name}: {judged}")
        verdict = judged[self.name]
        gate.messages.append(f"latency {self.name}: {verdict.reason}")  # in the summary
        self.user_properties += [
            ("mlgate_status", verdict.status.value),
            ("mlgate_value", verdict.value),
            ("mlgate_ratio", verdict.ratio),
            ("mlgate_p_adjusted", verdict.p),
        ]
        if verdict.status.value == "warn":
            warnings.warn(f"latency {self.name}: {verdict.reason}", NoiseExplainedDropWarning, 1)
        if not verdict.passed:
            raise GateFailed(f"latency {self.name}: {verdict.reason}")


class DeterminismNode(pytest.Collector):
    """``thresholds.toml::determinism::<task>``: an item per suite task ([gate] determinism)."""

    def __init__(self, *, tasks: tuple[str, ...], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.tasks = tasks

    def collect(self) -> Iterator[pytest.Item]:
        for task in self.tasks:
            yield DeterminismItem.from_parent(self, name=task, task=task)


class DeterminismItem(GateItem):
    """Fails when fewer than ``min_agreement`` of the re-evaluated documents gave the same
    answer at every batch size."""

    def __init__(self, *, task: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.task = task
        self.label = f"determinism::{task}"

    def runtest(self) -> None:
        gate = self.config.stash[GATE_KEY]
        settings = gate.plan.history.settings.determinism
        assert settings is not None  # collected only when configured
        gate.verdicts()  # measured with the evaluation, before the manifest is written
        figures = gate.determinism().get(self.task, f"not measured: {self.task} was not evaluated")
        if isinstance(figures, str):
            raise GateFailed(f"determinism {self.task}: {figures}")
        self.user_properties += [
            ("mlgate_agreement", figures.agreement),
            ("mlgate_n", figures.n),
            ("mlgate_max_loglik_diff", figures.max_loglik_diff),
        ]
        text = f"determinism {self.task}: {figures.describe()}"
        if not figures.n or figures.agreement < settings.min_agreement:
            raise GateFailed(f"{text} < min_agreement {settings.min_agreement:g}")


class ThresholdTask(pytest.Collector):
    """``thresholds.toml::<task>``: an item per gated metric, and per subgroup when gated."""

    def __init__(self, *, thresholds: tuple[MetricThreshold, ...], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.thresholds = thresholds

    def collect(self) -> Iterator[pytest.Item]:
        for threshold in self.thresholds:
            yield ThresholdItem.from_parent(self, name=threshold.metric, threshold=threshold)
            if threshold.gates_subgroups:
                yield from self._subgroup_items(threshold)

    def _subgroup_items(self, threshold: MetricThreshold) -> Iterator[pytest.Item]:
        sizes = subgroup_counts(self.config).get(threshold.task, {})
        if not sizes:
            self.config.stash.setdefault(NOTES_KEY, []).append(
                f"{threshold.task} {threshold.metric}: no document has a subgroup field "
                "(category, subject or metadata.subgroup_field): no subgroup item"
            )
        for group, size in sorted(sizes.items()):
            if size >= threshold.min_subgroup_n:
                yield ThresholdItem.from_parent(
                    self,
                    name=f"{threshold.metric}[{group}]",
                    threshold=threshold.for_subgroup(group),
                )
            else:
                self.config.stash.setdefault(NOTES_KEY, []).append(
                    f"{threshold.task} {threshold.metric}[{group}]: {size} examples "
                    f"(< min_subgroup_n {threshold.min_subgroup_n}): reported, not gated"
                )


class ThresholdItem(GateItem):
    """``thresholds.toml::<task>::<metric>``: the verdict of one gated metric."""

    def __init__(self, *, threshold: MetricThreshold, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.threshold = threshold
        self.label = threshold.item_name

    def runtest(self) -> None:

        gate = self.config.stash[GATE_KEY]
        pending = self.config.stash.get(PENDING_KEY, [])
        while pending:
            category, message = pending.pop(0)
            warnings.warn(message, category, stacklevel=1)
        verdict = gate.judge(self.nodeid, self.threshold)
        self.user_properties.extend(properties(verdict))
        for kind, message in verdict.caveats:
            warnings.warn(message, CAVEAT_WARNINGS[kind.value], stacklevel=1)
        if not verdict.passed:
            raise GateFailed(verdict.reason)


def properties(verdict: Verdict) -> list[tuple[str, object]]:
    """JUnit properties: value, n and CI; baseline, delta, its CI and p when compared."""
    props: list[tuple[str, object]] = [("mlgate_status", verdict.status.value)]
    if verdict.value is not None:
        props += [("mlgate_value", verdict.value), ("mlgate_n", verdict.n)]
        if verdict.value_ci is not None:
            props += [
                ("mlgate_ci_low", verdict.value_ci[0]),
                ("mlgate_ci_high", verdict.value_ci[1]),
            ]
    c = verdict.comparison
    if c is not None:
        props += [
            ("mlgate_baseline_run", verdict.baseline_run),
            ("mlgate_baseline", c.baseline),
            ("mlgate_delta", c.delta),
            ("mlgate_delta_ci_low", c.ci[0]),
            ("mlgate_delta_ci_high", c.ci[1]),
            ("mlgate_p", c.p_value),
            ("mlgate_p_adjusted", verdict.p_adjusted),
            ("mlgate_test", c.test),
        ]
    return props
