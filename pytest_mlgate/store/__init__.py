"""Run history behind one Protocol (:class:`HistoryStore`), chosen by ``[gate] store`` /
``--mlgate-store``: a folder (the default), ``file://PATH``, or MLflow (``mlflow``,
``mlflow+http(s)://…``, ``mlflow+sqlite:///…``: :mod:`pytest_mlgate.store.mlflow.store`, whose
``mlflow`` import happens only here, when such a store is opened)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from pytest_mlgate.errors import StoreError
from pytest_mlgate.store.folder import FolderStore
from pytest_mlgate.store.protocol import HistoryStore, IndexEntry, new_run_id

if TYPE_CHECKING:
    import pluggy

__all__ = [
    "FolderStore",
    "HistoryStore",
    "IndexEntry",
    "builtin_store",
    "is_mlflow",
    "new_run_id",
    "open_store",
]


def is_mlflow(location: str) -> bool:
    """Whether ``location`` names an MLflow store (``mlflow`` or ``mlflow+URI``)."""
    return location == "mlflow" or location.startswith("mlflow+")


def open_store(
    location: str,
    root: Path,
    experiment: str = "mlgate",
    plugins: pluggy.PluginManager | None = None,
) -> HistoryStore:
    """The store ``[gate] store`` / ``--mlgate-store`` names. With ``plugins`` (pytest's plugin
    manager, or the ``mlgate`` command's), through the ``pytest_mlgate_make_store`` hook: the
    first plugin that returns a store wins, the built-in stores answer last. Without, the
    built-in stores alone (:func:`builtin_store`)."""
    if plugins is None:
        return builtin_store(location, root, experiment)
    made: HistoryStore | None = plugins.hook.pytest_mlgate_make_store(
        uri=location, root=root, experiment=experiment
    )
    if made is None:
        raise StoreError(
            f"store {location!r}: no plugin returned a store from pytest_mlgate_make_store "
            "(is pytest_mlgate.store.builtin registered?)"
        )
    return made


def builtin_store(location: str, root: Path, experiment: str = "mlgate") -> HistoryStore:
    """A built-in store: a folder path (relative to ``root``), a ``file://`` URI, or an MLflow
    one (``experiment`` names its experiment; records that cannot be uploaded wait in
    ``root/.mlgate-spool``)."""
    if is_mlflow(location):
        from pytest_mlgate.store.mlflow.store import SPOOL, MlflowStore, tracking_uri

        uri = tracking_uri(location)
        if uri.startswith("sqlite:///") and not Path(uri[len("sqlite:///") :]).is_absolute():
            uri = f"sqlite:///{(root / uri[len('sqlite:///') :]).resolve()}"  # like a folder
        return MlflowStore(uri, experiment, spool=root / SPOOL)
    if "://" in location:
        scheme, _, rest = location.partition("://")
        if scheme != "file":
            raise StoreError(
                f"store {location!r}: unsupported scheme {scheme!r} (supported: a folder path, "
                'file://PATH, "mlflow", "mlflow+http(s)://HOST:PORT", "mlflow+sqlite:///PATH.db")'
            )
        location = rest
    return FolderStore((root / location).expanduser().resolve())
