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

from pytest_mlgate.config.load import ModelConfig

if TYPE_CHECKING:  # a plain `pytest` run imports this module: the results are not needed then
    from pytest_mlgate.results import EvalRun


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
    #: where to report progress (None: nowhere); never part of what is evaluated
    progress: Progress | None = field(default=None, compare=False, hash=False, repr=False)


@runtime_checkable
class Backend(Protocol):
    """What the gate needs from an evaluation engine.

    A backend may also set ``cacheable = True`` when its results depend on nothing but what the
    result cache keys on (checkpoint bytes, tasks, settings, versions); without it, results are
    never cached (a served model can change behind an unchanged name). And it may offer
    ``subgroups(request) -> {task: {subgroup: documents}}``, read from the data alone, which
    ``subgroups = true`` thresholds need to make an item per subgroup before the eval runs.
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
