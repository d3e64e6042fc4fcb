"""The built-in stores as a plugin, consulted last: a plugin's pytest_mlgate_make_store wins."""

from __future__ import annotations

from pathlib import Path

import pluggy

from pytest_mlgate.store.protocol import HistoryStore

hookimpl = pluggy.HookimplMarker("pytest")


@hookimpl(trylast=True)
def pytest_mlgate_make_store(uri: str, root: Path, experiment: str) -> HistoryStore:
    """A folder, ``file://`` or MLflow store; a ``StoreError`` for any other scheme."""
    from pytest_mlgate.store import builtin_store

    return builtin_store(uri, root, experiment)
