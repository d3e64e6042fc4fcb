"""The MLflow model registry: ``models:/NAME@ALIAS`` / ``models:/NAME/VERSION`` /
``models:/NAME/STAGE`` as checkpoints, baselines and anchors, and ``--mlgate-register
NAME@ALIAS`` (or ``NAME --mlgate-register-stage STAGE``) after a passing recorded run.

A version registered here holds the checkpoint's weight and defining files (the files its
fingerprint covers) as artifacts of the gate run that passed, under ``checkpoint/``, and the
tags ``mlgate.fingerprint``, ``mlgate.commit`` and ``mlgate.run_id``: a download hashes to the
fingerprint recorded with the run. An alias only moves forward: never to a run whose commit is
an ancestor of the commit of the version it points to now (a burst of merges on main can finish
out of order); a stage moves the same way.

Stages go through MLflow's stage API, deprecated since MLflow 2.9: its FutureWarning shows, a
``ModelStageWarning`` names the alias to use instead, and where the installed MLflow has no stage
API any more the URI is a ConfigError naming the alias form.
"""

from __future__ import annotations

import shutil
import tempfile
import warnings
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pytest_mlgate.checkpoint import defining_files, fingerprint_checkpoint
from pytest_mlgate.config.schema import MODEL_STAGES, model_stage, parse_model_uri
from pytest_mlgate.errors import (
    BaselineNotFound,
    CheckpointError,
    ConfigError,
    ModelStageWarning,
    StoreError,
    StoreUnreachable,
)
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
    """``models:/NAME@ALIAS``, ``models:/NAME/VERSION`` or ``models:/NAME/STAGE`` -> the version
    (ConfigError: none)."""
    try:
        parsed = parse_model_uri(uri)
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
    name, alias, number = parsed.name, parsed.alias, parsed.version
    if parsed.stage is not None:
        return _staged_version(store, uri, name, parsed.stage)
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
    return _version(found)


def _version(found: Any) -> Version:
    return Version(found.name, str(found.version), found.run_id or None, dict(found.tags or {}))


def alias_hint(name: str, stage: str) -> str:
    """The one-line note that recommends the alias form over a stage."""
    return (
        f"models:/{name}/{stage}: MLflow model stages are deprecated (since MLflow 2.9); "
        f"prefer an alias: models:/{name}@{stage.lower()}, moved with --mlgate-register "
        f"{name}@{stage.lower()}"
    )


def _stage_api(client: Any, what: str, method: str) -> Any:
    """The client's stage method, or a ConfigError naming the alias form where this MLflow
    (or its registry) has no stages any more."""
    found = getattr(client, method, None)
    if found is None:
        raise ConfigError(
            f"{what}: the installed MLflow has no model stages (they were deprecated in "
            "MLflow 2.9 and removed later); use an alias instead: models:/NAME@ALIAS, moved "
            "with --mlgate-register NAME@ALIAS"
        )
    return found


def _staged_version(store: MlflowStore, uri: str, name: str, stage: str) -> Version:
    """The latest version of ``name`` in ``stage``, through MLflow's (deprecated) stage API:
    MLflow's own FutureWarning is left to show, and a note recommends the alias."""
    latest = _stage_api(store.client(), uri, "get_latest_versions")
    warnings.warn(alias_hint(name, stage), ModelStageWarning, stacklevel=2)
    try:
        found = store._call(f"resolving {uri}", lambda: latest(name, stages=[stage]))
    except Missing as exc:
        raise ConfigError(f"{uri}: no registered model {name!r} in {store.location}") from exc
    except StoreError as exc:
        if isinstance(exc, StoreUnreachable):
            raise
        raise ConfigError(
            f"{uri}: the registry of {store.location} refused the stage lookup ({exc}); "
            f"use an alias instead: models:/{name}@ALIAS"
        ) from None
    if not found:
        raise ConfigError(
            f"{uri}: no version of {name!r} is in stage {stage} in {store.location}; move one "
            f"there with --mlgate-register {name} --mlgate-register-stage {stage}"
        )
    return _version(max(found, key=lambda v: int(v.version)))


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
    store: MlflowStore,
    target: str,
    outcome: GateOutcome,
    checkpoint: str,
    cwd: Path,
    stage: str | None = None,
) -> str:
    """Register ``checkpoint`` (the candidate of the passing recorded run ``outcome``) as a new
    version of NAME and move ALIAS (``target`` NAME@ALIAS) and/or ``stage`` to it, each unless
    that would move it backwards. Returns what it did, for the summary."""
    name, _, alias = target.partition("@")
    made = _new_version(store, name, outcome, checkpoint)
    new = f"models:/{name}/{made.version}"
    commit = outcome.manifest.git.commit or ""
    said = f"registered {new}"
    pointers = [Pointer(name, alias=alias)] if alias else []
    pointers += [Pointer(name, stage=stage)] if stage is not None else []
    for pointer in pointers:
        current = (
            _aliased(store.client(), name, pointer.alias)
            if pointer.alias is not None
            else _in_stage(store, name, str(pointer.stage))
        )
        done = _move(store, pointer, made.version, commit, current, cwd)
        said += (" and " if done.startswith("moved") else "; ") + done
    return said


def _new_version(store: MlflowStore, name: str, outcome: GateOutcome, checkpoint: str) -> Any:
    """The checkpoint's files uploaded to the gate run and registered as a new version."""
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
    tags = {
        "mlgate.fingerprint": outcome.manifest.checkpoint.fingerprint,
        "mlgate.commit": outcome.manifest.git.commit or "",
        "mlgate.run_id": outcome.run_id,
    }
    return store._call(
        f"registering a version of {name}",
        lambda: client.create_model_version(
            name,
            source=f"runs:/{mlflow_id}/{CHECKPOINT_ARTIFACT}",
            run_id=mlflow_id,
            tags={k: v for k, v in tags.items() if v},
        ),
    )


@dataclass(frozen=True)
class Pointer:
    """What --mlgate-register moves: an alias or a stage of a registered model."""

    name: str
    alias: str | None = None
    stage: str | None = None

    def __str__(self) -> str:
        return f"@{self.alias}" if self.alias is not None else f"stage {self.stage}"


def _move(
    store: MlflowStore, pointer: Pointer, version: str, commit: str, current: Any, cwd: Path
) -> str:
    """Move ``pointer`` to ``version`` unless the version it holds now (``current``) comes
    from a later commit: what was done, for the summary."""
    if current is not None:
        held = current.tags.get("mlgate.commit", "") if current.tags else ""
        if held and commit and held != commit:
            behind = _is_ancestor(commit, held, cwd)
            if behind is None:
                return (
                    f"{pointer} NOT moved: git here cannot tell whether commit "
                    f"{commit[:10]} comes after {held[:10]} ({pointer}'s); fetch the history "
                    "(actions/checkout with fetch-depth: 0)"
                )
            if behind:
                return (
                    f"{pointer} NOT moved: this run's commit {commit[:10]} is an ancestor of "
                    f"{held[:10]}, which {pointer} (version {current.version}) already holds"
                )
    client = store.client()
    name, alias, stage = pointer.name, pointer.alias, pointer.stage
    if alias is not None:
        store._call(
            f"moving {pointer}", lambda: client.set_registered_model_alias(name, alias, version)
        )
    if stage is not None:
        what = f"--mlgate-register-stage {stage}"
        transition = _stage_api(client, what, "transition_model_version_stage")
        warnings.warn(alias_hint(name, stage), ModelStageWarning, stacklevel=2)
        store._call(
            f"moving {pointer}",
            # like an alias, Staging / Production then hold one version: the one there before
            # is archived (MLflow allows that for those two stages only)
            lambda: transition(
                name, version, stage, archive_existing_versions=stage in ("Staging", "Production")
            ),
        )
    return f"moved {pointer} to it"


def _in_stage(store: MlflowStore, name: str, stage: str) -> Any:
    """The newest version of ``name`` in ``stage`` (None: none there yet)."""
    latest = _stage_api(store.client(), f"--mlgate-register-stage {stage}", "get_latest_versions")
    try:
        found = store._call(f"reading stage {stage} of {name}", lambda: latest(name, [stage]))
    except Missing:
        return None
    return max(found, key=lambda v: int(v.version)) if found else None


def _aliased(client: Any, name: str, alias: str) -> Any:
    from mlflow.exceptions import MlflowException

    try:
        return client.get_model_version_by_alias(name, alias)
    except MlflowException:
        return None


def check_register_target(target: str, stage: str | None = None) -> str | None:
    """--mlgate-register NAME@ALIAS, or a bare NAME together with --mlgate-register-stage:
    ConfigError otherwise. Returns the stage as MLflow spells it."""
    name, at, alias = target.partition("@")
    if stage is None:
        if not at or not name or not alias or "/" in alias:
            raise ConfigError(
                f"--mlgate-register {target!r}: expected NAME@ALIAS (e.g. tiny@champion), or a "
                "bare NAME with --mlgate-register-stage STAGE"
            )
        return None
    spelt = model_stage(stage)
    if spelt is None:
        raise ConfigError(
            f"--mlgate-register-stage {stage!r}: expected one of {', '.join(MODEL_STAGES)}"
        )
    if not name or "/" in name or (at and (not alias or "/" in alias)):
        raise ConfigError(
            f"--mlgate-register {target!r}: expected NAME (or NAME@ALIAS) with "
            "--mlgate-register-stage"
        )
    return spelt
