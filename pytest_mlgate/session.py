"""The state of one gated run: config, chosen suite, the backend, memoized results, verdicts.

Stored in ``pytest.Config.stash`` by the plugin; plain Python so the CLI can drive it too.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from pytest_mlgate.backend import Backend, BackendSpec, EvalRequest
from pytest_mlgate.config import MlgateConfig, SuiteConfig
from pytest_mlgate.errors import CheckpointError, MlgateError
from pytest_mlgate.gate import Verdict
from pytest_mlgate.results import EvalRun

CHECKPOINT_ENV = "MLGATE_CHECKPOINT"


def resolve_checkpoint(cli_value: str | None, config: MlgateConfig, cwd: Path) -> str:
    """--mlgate-checkpoint, then $MLGATE_CHECKPOINT (both relative to cwd), then [model]."""
    for value, base in (
        (cli_value, cwd),
        (os.environ.get(CHECKPOINT_ENV) or None, cwd),
        (config.model.checkpoint, config.root),
    ):
        if value:
            local = (base / value).expanduser()
            return str(local.resolve()) if local.exists() else value
    raise CheckpointError(
        f"no checkpoint to evaluate: set [model] checkpoint in {config.path}, "
        f"pass --mlgate-checkpoint PATH_OR_ID, or set {CHECKPOINT_ENV}"
    )


@dataclass
class GateSession:
    config: MlgateConfig
    suite: SuiteConfig
    checkpoint: str
    make_backend: Callable[[BackendSpec], Backend]
    on_evaluated: Callable[[EvalRun], None] = lambda run: None
    needed_tasks: tuple[str, ...] = ()
    verdicts: dict[str, Verdict] = field(default_factory=dict)
    _backend: Backend | None = None
    _run: EvalRun = field(default_factory=lambda: EvalRun({}))
    _failed: dict[str, MlgateError] = field(default_factory=dict)

    @property
    def spec(self) -> BackendSpec:
        return BackendSpec(self.config.model, self.checkpoint, self.config.include)

    def backend(self) -> Backend:
        if self._backend is None:
            self._backend = self.make_backend(self.spec)
        return self._backend

    @property
    def run(self) -> EvalRun:
        """Everything evaluated so far in this session."""
        return self._run

    def evaluate(self, tasks: Iterable[str]) -> EvalRun:
        """Results for ``tasks``. The first call evaluates every task the session needs in one
        batch; a task outside that set costs one more batch. Failures are remembered, so a
        broken checkpoint is tried once, not once per item."""
        wanted = list(dict.fromkeys(tasks))
        for task in wanted:
            if task in self._failed:
                raise self._failed[task]
        todo = [t for t in wanted if t not in self._run]
        if todo:
            batch = list(dict.fromkeys([*self.needed_tasks, *todo]))

            batch = [t for t in batch if t not in self._run and t not in self._failed]
            request = EvalRequest(
                tuple(batch), self.suite.num_fewshot, self.suite.sample, self.suite.seed
            )
            try:
                run = self.backend().evaluate(request)
            except MlgateError as exc:
                self._failed.update(dict.fromkeys(batch, exc))
                raise
            self.on_evaluated(run)
            self._run = self._run.merged(run)
        return self._run.subset(wanted)

    def record(self, name: str, verdict: Verdict) -> None:
        self.verdicts[name] = verdict

    def close(self) -> None:
        if self._backend is not None:
            self._backend.close()
            self._backend = None


def needed_tasks(suite: SuiteConfig, marker_tasks: Sequence[Sequence[str]]) -> tuple[str, ...]:
    """The suite's tasks, then any extra task the selected eval-marked tests ask for."""
    return tuple(dict.fromkeys([*suite.tasks, *(t for tasks in marker_tasks for t in tasks)]))
