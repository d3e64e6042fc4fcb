"""pytest-mlgate's own hooks. Implement them in a ``conftest.py`` or a plugin.

Hooks only ever gain arguments; implementations may take any subset of them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from pytest_mlgate.backend import Backend, BackendSpec
    from pytest_mlgate.results import EvalRun


@pytest.hookspec(firstresult=True)
def pytest_mlgate_make_backend(spec: BackendSpec, config: pytest.Config) -> Backend | None:
    """Return the backend that evaluates this session's checkpoint, or None to pass.

    The first non-None result wins; the built-in lm-eval backend answers last. Example, a
    conftest that gates an already-served model through an API instead::

        def pytest_mlgate_make_backend(spec):
            from mypkg.gate import ServedModelBackend
            return ServedModelBackend(spec.checkpoint)
    """


@pytest.hookspec
def pytest_mlgate_evaluated(run: EvalRun, config: pytest.Config) -> None:
    """Called after each batched evaluation with its results (before any threshold is checked).

    Example, log every score to an experiment tracker::

        def pytest_mlgate_evaluated(run):
            for task in run.tasks.values():
                for key, metric in task.metrics.items():
                    tracker.log({f"{task.name}/{key}": metric.value})
    """
