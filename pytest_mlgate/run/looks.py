"""The sequential gate's look loop: evaluate each task's next look, judge every open item on
the documents so far (``gate/looks.py``), stop a task once all its items are decided, stop the
session once every task is.

The order of the documents is seeded and stratified (``sampling.look_documents``) and dealt by
the backend, as shards are; few-shot demonstrations do not depend on the look. Each look is its
own request, so the result cache answers a rerun look by look.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from pytest_mlgate.config.schema import GateConfig, MetricThreshold
from pytest_mlgate.gate.comparison import allowed_drop
from pytest_mlgate.gate.looks import (
    Observed,
    SequentialPlan,
    SequentialStop,
    bounds_state,
    observe,
)
from pytest_mlgate.gate.sequential import DEFAULT_GAMMA, HolmLooks, ItemDecision
from pytest_mlgate.results import EvalRun
from pytest_mlgate.run.evaluator import Evaluator
from pytest_mlgate.sampling import look_sizes


@dataclass(frozen=True)
class TaskStop:
    """Where a task's evaluation ended: after look ``look`` of ``looks``, ``evaluated`` of its
    ``total`` documents."""

    look: int
    looks: int
    evaluated: int
    total: int

    @property
    def early(self) -> bool:
        return self.evaluated < self.total

    def text(self, task: str) -> str:
        how = "stopped early" if self.early else "evaluated in full"
        return (
            f"{task}: decided after {self.evaluated:,} of {self.total:,} documents "
            f"(look {self.look} of {self.looks}, {how})"
        )


@dataclass(frozen=True)
class Looked:
    """What the look loop decided: each item's stop, each task's end, and notes (why the run
    could not stop early after all, when it could not)."""

    stops: Mapping[MetricThreshold, SequentialStop] = field(default_factory=dict)
    tasks: Mapping[str, TaskStop] = field(default_factory=dict)
    notes: tuple[str, ...] = ()

    @property
    def stopped_early(self) -> bool:
        return any(stop.early for stop in self.tasks.values())


def evaluate_looks(
    evaluator: Evaluator,
    plan: SequentialPlan,
    baseline: EvalRun,
    settings: GateConfig,
    looks: tuple[float, ...],
    gamma: float = DEFAULT_GAMMA,
) -> Looked:
    """Evaluate the plan's tasks look by look until every item it decides look by look is
    decided, spending its share of alpha (``SequentialPlan.share``); a task with a waiting item
    is evaluated to its last look."""
    items = plan.looked
    waiting = plan.waiting_tasks
    tasks = list(dict.fromkeys([*(item.task for item in items), *sorted(waiting)]))
    share = plan.share(settings)
    loop = _Loop(evaluator, list(items), baseline, settings, looks, gamma, share, waiting)
    open_tasks = tasks
    for number in range(1, len(looks) + 1):
        part = evaluator.evaluate_look(open_tasks, (number, looks))
        if number == 1:
            problem = loop.start(part, tasks)
            if problem is not None:
                return loop.finish_fixed(problem, tasks)
        problem = loop.judge(number)
        if problem is not None:
            return loop.finish_fixed(problem, tasks, after=number)
        open_tasks = [t for t in tasks if loop.open(t, number)]
        for task in tasks:
            if task not in loop.ended and not loop.open(task, number):
                loop.ended[task] = loop.task_stop(task, number)
        if not open_tasks:
            break
    return Looked(loop.stops, loop.ended)


@dataclass
class _Loop:
    evaluator: Evaluator
    items: list[MetricThreshold]
    baseline: EvalRun
    settings: GateConfig
    looks: tuple[float, ...]
    gamma: float
    share: float = 1.0
    waiting: frozenset[str] = frozenset()  #: tasks evaluated in full (an item waits for them)
    planned: dict[str, int] = field(default_factory=dict)
    holm: HolmLooks | None = None
    stops: dict[MetricThreshold, SequentialStop] = field(default_factory=dict)
    ended: dict[str, TaskStop] = field(default_factory=dict)

    def start(self, part: EvalRun, tasks: Sequence[str]) -> str | None:
        """After look 1: every task's size in all (from the backend), and the design."""
        missing = [t for t in tasks if t not in part.info.planned]
        if missing:
            backend = type(self.evaluator.backend()).__name__
            return (
                f"{backend} evaluated every document of {', '.join(missing)} at once (it does "
                "not deal EvalRequest.look)"
            )
        self.planned = {t: part.info.planned[t] for t in tasks}
        totals = [self.planned[item.task] for item in self.items]
        if min(totals) < 1:
            return "a task has no documents"
        shared = self.settings.correction != "none"
        alpha = self.settings.alpha * self.share
        self.holm = HolmLooks(totals, alpha, self.looks, self.gamma, shared)
        return None

    def sizes(self, task: str) -> tuple[int, ...]:
        return look_sizes(self.planned[task], self.looks)

    def open(self, task: str, number: int) -> bool:
        """Whether ``task`` has documents left and an item left undecided after look
        ``number``."""
        assert self.holm is not None
        if number >= len(self.sizes(task)):
            return False
        if task in self.waiting:
            return True
        return any(
            i not in self.holm.decided for i, item in enumerate(self.items) if item.task == task
        )

    def task_stop(self, task: str, number: int) -> TaskStop:
        sizes = self.sizes(task)
        look = min(number, len(sizes))
        return TaskStop(look, len(sizes), sizes[look - 1], self.planned[task])

    def judge(self, number: int) -> str | None:
        """Look ``number``: the open items' statistics, Holm across them, the new stops."""
        assert self.holm is not None
        run = self.evaluator.run
        observed: dict[int, Observed] = {}
        for i, item in enumerate(self.items):
            if i in self.holm.decided or number > len(self.sizes(item.task)):
                continue
            seen = observe(run, self.baseline, item, allowed_drop(item, self.settings))
            if seen is None:
                return f"{item.item_name}: not in the results"
            if seen.uncovered:
                return (
                    f"{item.item_name}: the baseline does not hold {seen.uncovered} of the "
                    "documents evaluated"
                )
            observed[i] = seen
        k = number - 1
        may_pass, broken = {}, []
        for i, seen in observed.items():
            design = self.holm.design(i)
            state = bounds_state(self.items[i], seen, design.looks[k].fail_z)
            may_pass[i] = state == "settled"
            if state == "broken" and k < len(design.looks) - 1:
                broken.append(i)
        before = set(self.holm.decided)
        self.holm.look(k, {i: seen.z for i, seen in observed.items()}, may_pass)
        for i in broken:  # a bound broken beyond doubt: no need to wait for the margin test
            self.holm.decided.setdefault(i, ItemDecision("fail", number))
        for i in set(self.holm.decided) - before:
            self.stops[self.items[i]] = self._stop(i, observed[i], i in broken)
        return None

    def _stop(self, i: int, seen: Observed, by_bound: bool) -> SequentialStop:
        assert self.holm is not None
        decided = self.holm.decided[i]
        design = self.holm.design(i)
        look = design.looks[decided.look - 1]
        bound = look.fail_z if decided.decision == "fail" or look.pass_z is None else look.pass_z
        return SequentialStop(
            decided.decision,
            decided.look,
            len(design.looks),
            seen.documents,
            self.planned[self.items[i].task],
            seen.z,
            bound,
            by_bound=by_bound and decided.decision == "fail",
        )

    def finish_fixed(self, problem: str, tasks: Sequence[str], after: int = 1) -> Looked:
        """The run cannot be decided look by look: evaluate the looks left for every task
        (each look still cached on its own) and gate at fixed n."""
        for number in range(after + 1, len(self.looks) + 1):
            left = [t for t in tasks if t not in self.planned or number <= len(self.sizes(t))]
            if self.planned and left:
                self.evaluator.evaluate_look(left, (number, self.looks))
        note = f"sequential: {problem}; every document evaluated, gated at fixed n"
        return Looked({}, {}, (note,))
