"""pytest-mlgate's own hooks. Implement them in a ``conftest.py`` or a plugin.

Hooks only ever gain arguments; implementations may take any subset of them. The ``mlgate``
command calls them too: it loads the installed pytest11 plugins and the rootdir's
``conftest.py`` into a plugin manager of its own, where ``config`` is None.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from pytest_mlgate.backend import Backend, BackendSpec
    from pytest_mlgate.results import EvalRun
    from pytest_mlgate.store.protocol import HistoryStore

#: the project name of every pytest_mlgate_* hook (pytest's: a conftest needs no marker)
PROJECT = "pytest"


@pytest.hookspec(firstresult=True)
def pytest_mlgate_make_backend(spec: BackendSpec, config: pytest.Config | None) -> Backend | None:
    """Return the backend that evaluates this session's checkpoint, or None to pass
    (``config`` is None under the ``mlgate`` command, e.g. ``mlgate prompts``).

    The first non-None result wins; the built-in lm-eval backend answers last. Example, a
    conftest that gates an already-served model through an API instead::

        def pytest_mlgate_make_backend(spec):
            from mypkg.gate import ServedModelBackend
            return ServedModelBackend(spec.checkpoint)
    """


@pytest.hookspec(firstresult=True)
def pytest_mlgate_make_store(uri: str, root: Path, experiment: str) -> HistoryStore | None:
    """Return the history store ``uri`` names (``[gate] store`` / ``--mlgate-store`` /
    ``--store``), or None to pass; relative paths are relative to ``root``, ``experiment``
    is ``[gate] experiment``.

    The first non-None result wins; the built-in stores (a folder, ``file://``, ``mlflow+...``)
    answer last. The store must implement :class:`pytest_mlgate.store.HistoryStore`. Example,
    a conftest that keeps the history in a service of its own::

        def pytest_mlgate_make_store(uri):
            if uri.startswith("myhist://"):
                from mypkg.history import ServiceStore
                return ServiceStore(uri)
    """


@pytest.hookspec
def pytest_mlgate_evaluated(run: EvalRun, config: pytest.Config | None) -> None:
    """Called after each batched evaluation with its results (before any threshold is checked).

    Example, log every score to an experiment tracker::

        def pytest_mlgate_evaluated(run):
            for task in run.tasks.values():
                for key, metric in task.metrics.items():
                    tracker.log({f"{task.name}/{key}": metric.value})
    """
