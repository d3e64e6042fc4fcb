"""The built-in backend as a plugin: registered by pytest-mlgate, consulted last, so any
conftest or plugin that returns a backend from ``pytest_mlgate_make_backend`` wins."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pluggy

if TYPE_CHECKING:  # registered at every start-up: the protocol module loads when a gate runs
    from pytest_mlgate.backend import Backend, BackendSpec

hookimpl = pluggy.HookimplMarker("pytest")


@hookimpl(trylast=True)
def pytest_mlgate_make_backend(spec: BackendSpec) -> Backend:
    from pytest_mlgate.backend.lmeval import LmEvalBackend

    return LmEvalBackend(spec)
