"""Evaluation backends behind one Protocol.

:mod:`pytest_mlgate.backend.lmeval` is the only code that imports lm_eval / torch / transformers,
and only when a method that needs them runs. :mod:`pytest_mlgate.backend.fake` serves plugin
tests. A conftest supplies another backend by implementing the ``pytest_mlgate_make_backend``
hook (see :mod:`pytest_mlgate.hookspec`); :mod:`pytest_mlgate.backend.builtin` is the plugin
that provides the default, registered so that it is consulted last.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from pytest_mlgate.config.schema import ModelConfig

if TYPE_CHECKING:  # a plain `pytest` run imports this module: the results are not needed then
    from pytest_mlgate.backend.lmeval_prompts import RenderedRequest
    from pytest_mlgate.config.schema import LatencyConfig
    from pytest_mlgate.results import EvalRun

__all__ = [
    "Backend",
    "BackendSpec",
    "Cacheable",
    "EvalRequest",
    "ListsSubgroups",
    "MeasuresLatency",
    "OwnClock",
    "Progress",
    "RendersPrompts",
    "has_capability",
]


@dataclass(frozen=True)
class BackendSpec:
    """Everything a backend needs to know to load the model and find tasks."""

    model: ModelConfig
    checkpoint: str
    include: tuple[Path, ...] = ()


# Told how far an evaluation got: (request type or task, done, total).
Progress = Callable[[str, int, int], None]


@dataclass(frozen=True)
class EvalRequest:
    """One batched evaluation: all these tasks in one call."""

    tasks: tuple[str, ...]
    num_fewshot: int | Mapping[str, int] | None = None  # one n for all, or per task
    sample: int | None = None  # per task, stratified, seeded
    seed: int = 1234
    typo_rate: float = 0.05  # TASK@typo: the share of letters hit by a neighbouring key
    batch_size: int | None = None  # another batch size than the configured one (determinism)
    shard: tuple[int, int] | None = None  # (K, N): only shard K of N of every task's documents
    #: (L, looks): a sequential run's look L (1-based) of the look fractions: only the documents
    #: that look adds (``sampling.look_documents``), dealt before the shard; the backend then
    #: says in ``RunInfo.planned`` how many documents each task holds in all
    look: tuple[int, tuple[float, ...]] | None = None
    #: where to report progress (None: nowhere); never part of what is evaluated
    progress: Progress | None = field(default=None, compare=False, hash=False, repr=False)


@runtime_checkable
class Backend(Protocol):
    """What the gate needs from an evaluation engine.

    A backend may offer more, each a method of its own Protocol below (a capability is a
    method, never a flag: ``cacheable = False`` as an attribute does not count, nor does
    ``cacheable = True``): :class:`Cacheable`, :class:`ListsSubgroups`,
    :class:`MeasuresLatency` (with :class:`OwnClock`) and :class:`RendersPrompts`. The gate asks
    with :func:`has_capability`.
    """

    def check(self, tasks: Sequence[str]) -> None:
        """Preflight before any item runs, without loading the model: raise a
        :class:`~pytest_mlgate.errors.UsageProblem` (a missing checkpoint, an unknown task)."""

    def model(self) -> object:
        """The loaded model handle (loaded on first call, then reused)."""

    def evaluate(self, request: EvalRequest) -> EvalRun:
        """Evaluate all tasks of ``request`` in one batch."""

    def close(self) -> None:
        """Release the model and any temporary files."""


@runtime_checkable
class Cacheable(Protocol):
    """A backend whose results may be kept in the result cache."""

    def cacheable(self) -> bool:
        """True when the results depend on nothing but what the cache keys on (checkpoint
        bytes, tasks, settings, versions); False for a served model, which can change behind
        an unchanged name."""


@runtime_checkable
class ListsSubgroups(Protocol):
    """A backend that can count a task's subgroups from its data, before any evaluation."""

    def subgroups(self, request: EvalRequest) -> dict[str, dict[str, int]]:
        """Per task of ``request``, the documents of each subgroup the evaluation will hold
        (``subgroups = true`` thresholds make an item per subgroup from it)."""


@runtime_checkable
class MeasuresLatency(Protocol):
    """A backend that can time single requests (``[suites.NAME] latency``)."""

    def latency(
        self, request: EvalRequest, settings: LatencyConfig, clock: Callable[[], float]
    ) -> list[float]:
        """Milliseconds per timed request (after ``settings.warmup`` untimed ones), timed
        with ``clock`` (seconds)."""


@runtime_checkable
class OwnClock(Protocol):
    """A backend that times latency by a clock of its own (tests give theirs)."""

    def clock(self) -> float:
        """Seconds, from any fixed origin."""


@runtime_checkable
class RendersPrompts(Protocol):
    """A backend that can show its requests as the model is given them (``mlgate prompts``)."""

    def render(self, task: str, request: EvalRequest, limit: int) -> list[RenderedRequest]:
        """The first ``limit`` documents' requests of ``task``, rendered and tokenized."""


def has_capability(backend: object, kind: type) -> bool:
    """Whether ``backend`` has every method of ``kind`` (one of the capability Protocols).

    ``isinstance(backend, kind)`` alone only asks whether each name exists, so a flag such as
    ``cacheable = False`` would count; here each member must be callable. The gate writes
    ``isinstance(backend, kind) and has_has_capability(backend, kind)``: the first narrows the
    type, the second refuses flags."""
    methods = [n for n, v in vars(kind).items() if callable(v) and not n.startswith("_")]
    return all(callable(getattr(backend, name, None)) for name in methods)
