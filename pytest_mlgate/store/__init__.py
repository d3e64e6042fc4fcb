"""Run history behind one Protocol (:class:`HistoryStore`), chosen by ``[gate] store`` /
``--mlgate-store``: a folder (the default), ``file://PATH``, or MLflow (``mlflow``,
``mlflow+http(s)://…``, ``mlflow+sqlite:///…``: :mod:`pytest_mlgate.store.mlflow.store`, whose
``mlflow`` import happens only here, when such a store is opened)."""

from __future__ import annotations

from pathlib import Path

from pytest_mlgate.errors import StoreError
from pytest_mlgate.store.folder import FolderStore
from pytest_mlgate.store.protocol import HistoryStore, IndexEntry, new_run_id

__all__ = ["FolderStore", "HistoryStore", "IndexEntry", "is_mlflow", "new_run_id", "open_store"]


def is_mlflow(location: str) -> bool:
    return location == "mlflow" or location.startswith("mlflow+")


def open_store(location: str, root: Path, experiment: str = "mlgate") -> HistoryStore:
    """A store from ``[gate] store`` / ``--mlgate-store``: a folder path (relative to ``root``),
    a ``file://`` URI, or an MLflow one (``experiment`` names its experiment; records that
    cannot be uploaded wait in ``root/.mlgate-spool``)."""
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
