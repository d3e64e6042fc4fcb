"""The MLflow model registry: ``models:/NAME@ALIAS`` / ``models:/NAME/VERSION`` as checkpoints,
baselines and anchors, and ``--mlgate-register NAME@ALIAS`` after a passing recorded run.

A version registered here holds the checkpoint's weight and defining files (the files its
fingerprint covers) as artifacts of the gate run that passed, under ``checkpoint/``, and the
tags ``mlgate.fingerprint``, ``mlgate.commit`` and ``mlgate.run_id``: a download hashes to the
fingerprint recorded with the run. An alias only moves forward: never to a run whose commit is
an ancestor of the commit of the version it points to now (a burst of merges on main can finish
out of order).
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pytest_mlgate.checkpoint import defining_files, fingerprint_checkpoint
from pytest_mlgate.config.load import parse_model_uri
from pytest_mlgate.errors import BaselineNotFound, CheckpointError, ConfigError, StoreError
from pytest_mlgate.gate.verdicts import GateOutcome
from pytest_mlgate.manifest import git_output
from pytest_mlgate.store import HistoryStore
from pytest_mlgate.store.mlflow.store import Missing, MlflowStore, escape_name

CHECKPOINT_ARTIFACT = "checkpoint"
FETCHED_MARK = ".mlgate-fetched"  #: written last into a downloaded version's folder


@dataclass(frozen=True)
class Version:
    """One registered model version."""

    name: str
    version: str
    mlflow_run: str | None  #: the MLflow run it came from
    tags: dict[str, str]

    @property
    def uri(self) -> str:
        return f"models:/{self.name}/{self.version}"

    @property
    def fingerprint(self) -> str | None:
        return self.tags.get("mlgate.fingerprint")


def mlflow_store(store: HistoryStore, what: str) -> MlflowStore:
    if not isinstance(store, MlflowStore):
        raise ConfigError(
            f"{what} names the MLflow model registry, but the history store is "
            f'{store.location}: set [gate] store = "mlflow" (or mlflow+http(s)://…, '
            "mlflow+sqlite:///…)"
        )
    return store


def find_version(store: MlflowStore, uri: str) -> Version:
    """``models:/NAME@ALIAS`` or ``models:/NAME/VERSION`` -> the version (ConfigError: none)."""
    try:
        name, alias, number = parse_model_uri(uri)
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
    client = store.client()
    try:
        if alias is not None:
            found = store._call(
                f"resolving {uri}", lambda: client.get_model_version_by_alias(name, alias)
            )
        else:
            found = store._call(f"resolving {uri}", lambda: client.get_model_version(name, number))
    except Missing as exc:
        raise ConfigError(f"{uri}: no such registered model version in {store.location}") from exc
    return Version(name, str(found.version), found.run_id or None, dict(found.tags or {}))


def fetch(store: MlflowStore, version: Version, into: Path) -> Path:
    """The version's files in ``into/NAME/VERSION`` (downloaded once: versions never change)."""
    target = into / escape_name(version.name) / version.version
    if (target / FETCHED_MARK).exists():
        return target
    client = store.client()
    uri = store._call(
        f"locating {version.uri}",
        lambda: client.get_model_version_download_uri(version.name, version.version),
    )
    import mlflow

    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent, prefix=".fetch-") as folder:
        got = Path(
            store._call(
                f"downloading {version.uri}",
                lambda: mlflow.artifacts.download_artifacts(
                    artifact_uri=uri, dst_path=folder, tracking_uri=store.uri
                ),
            )
        )
        if not defining_files(got):
            raise CheckpointError(f"{version.uri} ({uri}) holds no checkpoint files")
        (got / FETCHED_MARK).write_text(version.uri)
        shutil.rmtree(target, ignore_errors=True)
        got.rename(target)
    if version.fingerprint:
        actual = fingerprint_checkpoint(str(target)).fingerprint
        if actual != version.fingerprint:
            shutil.rmtree(target, ignore_errors=True)
            raise CheckpointError(
                f"{version.uri}: the downloaded files hash to {actual}, not to the "
                f"{version.fingerprint} the version was registered with"
            )
    return target


def version_runs(store: MlflowStore, version: Version, tasks: Iterable[str] = ()) -> GateOutcome:
    """The latest complete gate run of ``version`` (a tag-filtered lookup by the fingerprint it
    was registered with), preferring one that evaluated all of ``tasks``."""
    if not version.fingerprint:
        raise BaselineNotFound(
            f"{version.uri} carries no mlgate.fingerprint tag (it was not registered by "
            "--mlgate-register), so no gate run can be matched to it; register it with "
            "`pytest -m eval --mlgate-checkpoint PATH --mlgate-record --mlgate-register "
            f"{version.name}@ALIAS`"
        )
    entries = sorted(store.find(fingerprint=version.fingerprint), key=lambda e: e.key)
    covering = [e for e in entries if e.covers(set(tasks))]
    chosen = (covering or entries)[-1:]
    if not chosen:
        raise BaselineNotFound(
            f"{version.uri}: no complete gate run of this version in {store.location}; record one "
            f"with `pytest -m eval --mlgate-checkpoint {version.uri} --mlgate-record`"
        )
    return store.load(chosen[0].run_id)


def _is_ancestor(older: str, newer: str, cwd: Path) -> bool | None:
    """Whether commit ``older`` is an ancestor of ``newer`` (None: git cannot tell)."""
    if git_output(["cat-file", "-e", f"{older}^{{commit}}"], cwd) is None:
        return None
    if git_output(["cat-file", "-e", f"{newer}^{{commit}}"], cwd) is None:
        return None
    return git_output(["merge-base", "--is-ancestor", older, newer], cwd) is not None


def register(
    store: MlflowStore, target: str, outcome: GateOutcome, checkpoint: str, cwd: Path
) -> str:
    """Register ``checkpoint`` (the candidate of the passing recorded run ``outcome``) as a new
    version of NAME and move ALIAS to it unless that would move it backwards. Returns what it
    did, for the summary."""
    name, _, alias = target.partition("@")
    folder = Path(checkpoint)
    if not folder.is_dir():
        raise CheckpointError(f"--mlgate-register: {checkpoint} is not a local folder to upload")
    client = store.client()
    mlflow_id = store.mlflow_run_id(outcome.run_id)
    files = defining_files(folder)
    with tempfile.TemporaryDirectory(prefix="mlgate-") as staging:
        for file in files:
            relative = file.relative_to(folder)
            (Path(staging) / relative).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(file, Path(staging) / relative)
        store._call(
            "uploading the checkpoint",
            lambda: client.log_artifacts(mlflow_id, staging, CHECKPOINT_ARTIFACT),
        )
    from mlflow.exceptions import MlflowException

    try:
        client.create_registered_model(name)
    except MlflowException as exc:
        if getattr(exc, "error_code", "") != "RESOURCE_ALREADY_EXISTS":
            raise StoreError(f"registering model {name!r}: {exc}") from None
    commit = outcome.manifest.git.commit or ""
    tags = {
        "mlgate.fingerprint": outcome.manifest.checkpoint.fingerprint,
        "mlgate.commit": commit,
        "mlgate.run_id": outcome.run_id,
    }
    made = store._call(
        f"registering a version of {name}",
        lambda: client.create_model_version(
            name,
            source=f"runs:/{mlflow_id}/{CHECKPOINT_ARTIFACT}",
            run_id=mlflow_id,
            tags={k: v for k, v in tags.items() if v},
        ),
    )
    new = f"models:/{name}/{made.version}"
    current = _aliased(client, name, alias)
    if current is not None:
        held = current.tags.get("mlgate.commit", "") if current.tags else ""
        if held and commit and held != commit:
            behind = _is_ancestor(commit, held, cwd)
            if behind is None:
                return (
                    f"registered {new}; @{alias} NOT moved: git here cannot tell whether commit "
                    f"{commit[:10]} comes after {held[:10]} (@{alias}'s); fetch the history "
                    "(actions/checkout with fetch-depth: 0)"
                )
            if behind:
                return (
                    f"registered {new}; @{alias} NOT moved: this run's commit {commit[:10]} is "
                    f"an ancestor of {held[:10]}, which @{alias} (version {current.version}) "
                    "already holds"
                )
    store._call(
        f"moving @{alias}",
        lambda: client.set_registered_model_alias(name, alias, made.version),
    )
    return f"registered {new} and moved @{alias} to it"


def _aliased(client: Any, name: str, alias: str) -> Any:
    from mlflow.exceptions import MlflowException

    try:
        return client.get_model_version_by_alias(name, alias)
    except MlflowException:
        return None


def check_register_target(target: str) -> None:
    name, at, alias = target.partition("@")
    if not at or not name or not alias or "/" in alias:
        raise ConfigError(f"--mlgate-register {target!r}: expected NAME@ALIAS (e.g. tiny@champion)")
