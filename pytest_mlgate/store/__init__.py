"""Run history behind one Protocol (:class:`HistoryStore`). The default backend is a folder
(``[gate] store``, ``--mlgate-store``); other backends are chosen by URI scheme (only
``file://`` is built in)."""

from __future__ import annotations

from pathlib import Path

from pytest_mlgate.errors import StoreError
from pytest_mlgate.store.folder import FolderStore
from pytest_mlgate.store.protocol import HistoryStore, IndexEntry, new_run_id

__all__ = ["FolderStore", "HistoryStore", "IndexEntry", "new_run_id", "open_store"]


def open_store(location: str, root: Path) -> HistoryStore:
    """A store from ``[gate] store`` / ``--mlgate-store``: a folder path (relative to ``root``)
    or a ``file://`` URI."""
    if "://" in location:
        scheme, _, rest = location.partition("://")
        if scheme != "file":
            raise StoreError(
                f"store {location!r}: unsupported scheme {scheme!r} (supported: a folder path "
                "or file://PATH)"
            )
        location = rest
    return FolderStore((root / location).expanduser().resolve())
