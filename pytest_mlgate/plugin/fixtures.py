"""Session fixtures: the loaded model and the memoized, batched evaluation (DESIGN §4)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import pytest

from pytest_mlgate.config.schema import MlgateConfig
from pytest_mlgate.errors import MlgateError

if TYPE_CHECKING:  # the session machinery (numpy, the store) loads only for -m eval
    from pytest_mlgate.results import EvalRun
    from pytest_mlgate.run.evaluator import Evaluator
    from pytest_mlgate.run.session import GateSession

CONFIG_KEY = pytest.StashKey[MlgateConfig]()
GATE_KEY = pytest.StashKey["GateSession"]()


class MlgateEval:
    """``mlgate_eval("task")`` / ``mlgate_eval(["a", "b"])`` -> :class:`EvalRun`.

    Every task the session needs (the suite's and those named by ``@pytest.mark.eval(tasks=...)``)
    is evaluated in one batched call the first time any is asked for; later calls are free.
    """

    def __init__(self, evaluator: Evaluator) -> None:
        self._evaluator = evaluator

    def __call__(self, tasks: str | Sequence[str]) -> EvalRun:
        names = [tasks] if isinstance(tasks, str) else list(tasks)
        try:
            return self._evaluator.evaluate(names)
        except MlgateError as exc:
            pytest.fail(f"evaluation failed: {exc}", pytrace=False)


@pytest.fixture(scope="session")
def mlgate_session(pytestconfig: pytest.Config) -> GateSession:
    """The gated run's state; set up only for tests selected with ``-m eval``."""
    gate = pytestconfig.stash.get(GATE_KEY, None)
    if gate is None:
        pytest.fail(
            "pytest-mlgate fixtures need an eval run: mark the test @pytest.mark.eval, run "
            "`pytest -m eval`, and have a thresholds.toml (`mlgate init` writes one)",
            pytrace=False,
        )
    return gate


@pytest.fixture(scope="session")
def mlgate_model(mlgate_session: GateSession) -> object:
    """The checkpoint loaded once per session, as an lm-eval model (``HFLM`` for hf)."""
    try:
        return mlgate_session.evaluator.backend().model()
    except MlgateError as exc:
        pytest.fail(f"cannot load the model: {exc}", pytrace=False)


@pytest.fixture(scope="session")
def mlgate_eval(mlgate_session: GateSession) -> MlgateEval:
    """Evaluate tasks on the session's model (batched, memoized)."""
    return MlgateEval(mlgate_session.evaluator)


@pytest.fixture(scope="session")
def mlgate_baseline(mlgate_session: GateSession) -> EvalRun | None:
    """The baseline run's results (with per-example scores), or None when none is recorded."""
    baseline = mlgate_session.baseline
    return None if baseline is None else baseline.run
