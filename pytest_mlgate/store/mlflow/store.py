"""The MLflow history store: one MLflow run per recorded gate run (``pytest-mlgate[mlflow]``).

``[gate] store`` selects it: ``"mlflow"`` (the server in ``$MLFLOW_TRACKING_URI``),
``"mlflow+http(s)://HOST:PORT"`` or ``"mlflow+sqlite:///PATH.db"`` (an embedded database, its
artifacts in ``PATH-artifacts/`` beside it); ``[gate] experiment`` names the experiment.

A recorded run is one MLflow run, named by the gate's run id:

- tags ``mlgate.run_id``, ``mlgate.branch``, ``mlgate.commit``, ``mlgate.suite``,
  ``mlgate.verdict``, ``mlgate.fingerprint``, ``mlgate.checkpoint``, ``mlgate.tasks``,
  ``mlgate.timestamp``, ``mlgate.partial``, and ``mlgate.complete`` = ``true``, set last, once
  every metric and artifact is uploaded (lookups take complete runs only);
- metrics ``TASK/METRIC`` (every metric of every task), and for each gated metric
  ``TASK/METRIC/ci_low``, ``…/ci_high``, ``…/delta``, ``…/p_value``; a gated subgroup is
  ``TASK/METRIC[SUBGROUP]``. Names are escaped by :func:`escape_name` (reversible);
- artifacts ``mlgate/record.json`` (the full record, the same bytes a folder store keeps) and
  ``reports/`` (the HTML, Markdown and JSON outputs of the run, when it wrote them).

Every lookup is one tag-filtered ``search_runs`` (the MLflow index answers it, no scan), and the
``mlflow`` package is imported only when such a store is opened. Client calls use short timeouts
and few retries (``MLFLOW_HTTP_REQUEST_TIMEOUT`` and friends, unless set already), so a server
that is down is known in seconds. A run that cannot be uploaded goes to the spool (see
:class:`Spool`), and ``mlgate history sync`` uploads it exactly once.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import re
import shutil
import tempfile
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

from pytest_mlgate.atomic import write_atomic
from pytest_mlgate.errors import (
    NoTrackingUri,
    RecordError,
    RecordSpooled,
    StoreError,
    StoreUnreachable,
)
from pytest_mlgate.gate.verdicts import GateOutcome
from pytest_mlgate.store.codec import dumps_outcome, encode_entry, finite_or_none, loads_outcome
from pytest_mlgate.store.protocol import IndexEntry

T = TypeVar("T")

TRACKING_ENV = "MLFLOW_TRACKING_URI"
DEFAULT_EXPERIMENT = "mlgate"
SPOOL = ".mlgate-spool"  #: beside thresholds.toml: records that wait for `mlgate history sync`
RECORD_ARTIFACT = "mlgate/record.json"
REPORTS_ARTIFACT = "reports"
TAG = "mlgate."
#: the client's defaults are minutes of retries; a gate wants to know in seconds
CLIENT_ENV = {
    "MLFLOW_HTTP_REQUEST_TIMEOUT": "10",
    "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "2",
    "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR": "1",
    "MLFLOW_HTTP_REQUEST_BACKOFF_JITTER": "0.2",
    "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR": "false",
}
HEALTH_TIMEOUT = 3.0  #: seconds the first call waits for the server's /health
PAGE = 1000  #: runs per search page
MAX_KEY = 250  #: MLflow's limit on a metric or tag key
MAX_TAG_VALUE = 8000  #: and on a tag's value
METRICS_PER_BATCH = 1000

# -- metric names --------------------------------------------------------------------------------
# MLflow allows letters, digits and `_ - . / : space` in a metric name (no `:` on Windows). The
# escape keeps letters (Turkish ones included), digits, `_`, `-` and spaces, and writes any other
# character as `.HEX.` (its code point in lowercase hex): `.` itself becomes `.2e.` and `/`
# becomes `.2f.`, so `/` separates task, metric and part and decoding is unambiguous.
_KEPT = re.compile(r"[\w\- ]")
_ESCAPED = re.compile(r"\.([0-9a-f]{1,6})\.")


def escape_name(text: str) -> str:
    """``exact_match,strict-match`` -> ``exact_match.2c.strict-match``; reversed by
    :func:`unescape_name`."""
    return "".join(c if _KEPT.fullmatch(c) else f".{ord(c):x}." for c in text)


def unescape_name(text: str) -> str:
    return _ESCAPED.sub(lambda m: chr(int(m.group(1), 16)), text)


def metric_key(task: str, metric: str, subgroup: str | None = None, part: str | None = None) -> str:
    """``TASK/METRIC`` (``METRIC[SUBGROUP]`` for a subgroup), plus ``/PART`` (``ci_low``...).
    lm-eval's ``none`` filter is left out (``acc,none`` is ``acc``); any other stays
    (``exact_match,strict-match``)."""
    base, _, applied = metric.partition(",")
    metric = base if applied in ("", "none") else metric
    name = metric if subgroup is None else f"{metric}[{subgroup}]"
    key = f"{escape_name(task)}/{escape_name(name)}"
    return key if part is None else f"{key}/{part}"


def parse_metric_key(key: str) -> tuple[str, str, str | None, str | None]:
    """(task, metric, subgroup, part) of a :func:`metric_key` name."""
    pieces = key.split("/")
    if len(pieces) not in (2, 3):
        raise ValueError(f"{key!r} is not an mlgate metric name (TASK/METRIC[/PART])")
    task, name = unescape_name(pieces[0]), unescape_name(pieces[1])
    subgroup = None
    if name.endswith("]") and "[" in name:
        name, _, rest = name.partition("[")
        subgroup = rest[:-1]
    return task, name, subgroup, pieces[2] if len(pieces) == 3 else None


# -- where the store is --------------------------------------------------------------------------
def tracking_uri(location: str) -> str:
    """``[gate] store`` -> the tracking URI; ``NoTrackingUri`` for ``"mlflow"`` without one."""
    if location == "mlflow":
        uri = os.environ.get(TRACKING_ENV, "").strip()
        if not uri:
            raise NoTrackingUri(
                f'[gate] store = "mlflow" reads the server from ${TRACKING_ENV}, which is not set '
                "(a fork PR gets no secrets; locally, export it or name the server as "
                '"mlflow+http://HOST:PORT")'
            )
        return uri
    scheme, _, rest = location.partition("+")
    if scheme != "mlflow" or not rest.startswith(("http://", "https://", "sqlite:///")):
        raise StoreError(
            f'store {location!r}: expected "mlflow", "mlflow+http(s)://HOST:PORT" or '
            '"mlflow+sqlite:///PATH.db"'
        )
    return rest


def redacted(uri: str) -> str:
    """The URI without a password (``https://user:secret@host`` -> ``https://user:***@host``)."""
    return re.sub(r"(//[^/:@]+:)[^/@]+@", r"\1***@", uri)


def _import_mlflow() -> Any:
    try:
        import mlflow
    except ImportError:
        raise StoreError(
            "the MLflow store needs the mlflow package: pip install 'pytest-mlgate[mlflow]'"
        ) from None
    return mlflow


def _quote(value: str) -> str:
    """A value in an MLflow filter string."""
    if "'" not in value:
        return f"'{value}'"
    if '"' not in value:
        return f'"{value}"'
    raise StoreError(f"cannot search MLflow for {value!r}: it holds both kinds of quotes")


def _tag(name: str, value: str) -> str:
    return f"tags.`{TAG}{name}` = {_quote(value)}"


def _millis(timestamp: str) -> int:
    try:
        when = dt.datetime.fromisoformat(timestamp.replace("Z", "+00:00"))
    except ValueError:
        raise RecordError(f"timestamp {timestamp!r} is not ISO 8601") from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.timezone.utc)
    return int(when.timestamp() * 1000)


class Missing(StoreError):
    """The server answered that what was asked for does not exist."""


class AlreadyRecorded(StoreError):
    """A complete run with this id is in the store already (never uploaded twice)."""


@dataclass(frozen=True)
class _Found:
    """One MLflow run that holds a gate run: its MLflow id and its index entry."""

    mlflow_id: str
    entry: IndexEntry
    complete: bool


class MlflowStore:
    """A :class:`~pytest_mlgate.store.HistoryStore` in an MLflow experiment."""

    def __init__(self, uri: str, experiment: str = DEFAULT_EXPERIMENT, spool: Path | None = None):
        self.uri = uri
        self.experiment = experiment
        self.spool = Spool(spool) if spool is not None else None
        self.location = f"MLflow {redacted(uri)}, experiment {experiment!r}"
        self._client: Any = None
        self._experiment_id: str | None = None
        self._loaded: dict[str, GateOutcome] = {}

    # -- the client ----------------------------------------------------------------------------
    def client(self) -> Any:
        if self._client is None:
            for name, value in CLIENT_ENV.items():
                os.environ.setdefault(name, value)
            for chatty in ("mlflow.store.db.utils", "alembic"):  # migrations: INFO on every open
                if not logging.getLogger(chatty).level:
                    logging.getLogger(chatty).setLevel(logging.WARNING)
            mlflow = _import_mlflow()
            self._check_health()
            self._client = mlflow.MlflowClient(tracking_uri=self.uri, registry_uri=self.uri)
        return self._client

    def _check_health(self) -> None:
        """A server that does not answer ``/health`` within seconds is unreachable."""
        if not self.uri.startswith(("http://", "https://")):
            return
        url = self.uri.rstrip("/") + "/health"
        try:
            with urllib.request.urlopen(url, timeout=HEALTH_TIMEOUT) as answer:
                answer.read()
        except urllib.error.HTTPError:
            return  # it answered (a proxy without /health): the API calls will tell
        except (OSError, ValueError) as exc:
            raise StoreUnreachable(
                f"MLflow server {redacted(self.uri)} is unreachable: "
                f"{getattr(exc, 'reason', None) or exc}"
            ) from None

    def _call(self, what: str, call: Callable[[], T]) -> T:
        """A client call, its failures as StoreError (StoreUnreachable for the network)."""
        from mlflow.exceptions import MlflowException

        try:
            return call()
        except MlflowException as exc:
            text = str(exc)
            network = any(
                word in text
                for word in ("Max retries", "Connection", "connect", "timed out", "Timeout")
            )
            missing = getattr(exc, "error_code", "") == "RESOURCE_DOES_NOT_EXIST" or (
                "not found" in text.lower()
            )
            kind = StoreUnreachable if network else Missing if missing else StoreError
            raise kind(f"MLflow {redacted(self.uri)}: {what}: {text.splitlines()[0]}") from None
        except OSError as exc:  # requests' ConnectionError is an OSError
            raise StoreUnreachable(f"MLflow {redacted(self.uri)}: {what}: {exc}") from None

    def experiment_id(self, create: bool = False) -> str | None:
        """The experiment's id (None when it does not exist and ``create`` is false)."""
        if self._experiment_id is None:
            client = self.client()
            found = self._call(
                f"finding experiment {self.experiment!r}",
                lambda: client.get_experiment_by_name(self.experiment),
            )
            if found is not None and found.lifecycle_stage != "active":
                raise StoreError(
                    f"{self.location}: the experiment is deleted; restore it "
                    f"(mlflow experiments restore --experiment-id {found.experiment_id}) or name "
                    "another in [gate] experiment"
                )
            if found is None and not create:
                return None
            if found is None:
                self._experiment_id = self._call(
                    f"creating experiment {self.experiment!r}",
                    lambda: client.create_experiment(
                        self.experiment, artifact_location=self._artifact_root()
                    ),
                )
            else:
                self._experiment_id = found.experiment_id
        return self._experiment_id

    def _artifact_root(self) -> str | None:
        """The embedded form keeps artifacts beside its database (never in ``./mlruns``)."""
        if not self.uri.startswith("sqlite:///"):
            return None  # the server's --artifacts-destination decides
        database = Path(self.uri[len("sqlite:///") :])
        return (database.parent / f"{database.stem}-artifacts").resolve().as_uri()

    # -- searching -----------------------------------------------------------------------------
    def _search(
        self,
        *conditions: str,
        newest_first: bool = False,
        limit: int | None = None,
        complete: bool = True,
    ) -> Iterator[_Found]:
        experiment = self.experiment_id()
        if experiment is None:
            return
        client = self.client()
        terms = [*conditions]
        if complete:
            terms += [_tag("complete", "true"), _tag("partial", "false")]
        query = " AND ".join(terms)
        order = ["attributes.start_time DESC" if newest_first else "attributes.start_time ASC"]
        token = None
        given = 0
        while True:
            size = PAGE if limit is None else min(PAGE, limit - given)
            page = self._call(
                "searching runs",
                partial(
                    client.search_runs,
                    [experiment],
                    filter_string=query,
                    max_results=size,
                    order_by=order,
                    page_token=token,
                ),
            )
            for run in page:
                found = _found(run)
                if found is not None:
                    given += 1
                    yield found
            token = page.token
            if not token or (limit is not None and given >= limit):
                return

    def _entries(self, *conditions: str, newest_first: bool = False) -> list[IndexEntry]:
        found = [f.entry for f in self._search(*conditions, newest_first=newest_first)]
        return sorted(found, key=lambda e: e.key, reverse=newest_first)

    def _by_id(self, run_id: str, complete: bool = True) -> list[_Found]:
        return list(self._search(_tag("run_id", run_id), complete=complete))

    # -- the HistoryStore queries --------------------------------------------------------------
    def entries(self) -> list[IndexEntry]:
        return self._entries()

    def get(self, run_id: str) -> IndexEntry | None:
        found = self._by_id(run_id)
        return found[0].entry if found else None

    def load(self, run_id: str) -> GateOutcome:
        if run_id in self._loaded:
            return self._loaded[run_id]
        found = self._by_id(run_id)
        if not found:
            raise StoreError(f"no run {run_id!r} in {self.location}")
        client = self.client()
        with tempfile.TemporaryDirectory(prefix="mlgate-") as folder:
            path = self._call(
                f"downloading the record of {run_id}",
                lambda: client.download_artifacts(found[0].mlflow_id, RECORD_ARTIFACT, folder),
            )
            text = Path(path).read_text(encoding="utf-8")
        try:
            outcome = loads_outcome(text)
        except RecordError as exc:
            raise RecordError(f"{self.location}, run {run_id}: {exc}") from exc
        if outcome.run_id != run_id:
            raise RecordError(f"{self.location}: run {run_id} holds run {outcome.run_id!r}")
        self._loaded[run_id] = outcome
        return outcome

    def latest(self, branch: str, tasks: Iterable[str] = ()) -> GateOutcome | None:
        wanted = sorted(set(tasks))
        on_branch = _tag("branch", branch)
        if wanted:
            # `_` and `%` are LIKE wildcards: the filter may let a near name through, covers() not
            covering = [f"tags.`{TAG}tasks` LIKE {_quote(f'%,{t},%')}" for t in wanted]
            for found in self._search(on_branch, *covering, newest_first=True):
                if found.entry.covers(wanted):
                    return self.load(found.entry.run_id)
        for found in self._search(on_branch, newest_first=True, limit=1):
            return self.load(found.entry.run_id)
        return None

    def last(
        self, n: int, branch: str | None = None, before: str | None = None
    ) -> list[IndexEntry]:
        if n <= 0:
            return []
        conditions = [] if branch is None else [_tag("branch", branch)]
        cut = self.get(before) if before is not None else None
        if cut is not None:
            conditions.append(f"attributes.start_time <= {_millis(cut.timestamp)}")
        found = [
            f.entry
            for f in self._search(*conditions, newest_first=True, limit=n + 50)
            if cut is None or f.entry.key < cut.key
        ]
        return sorted(found, key=lambda e: e.key)[-n:]

    def find(
        self,
        *,
        commit: str | None = None,
        fingerprint: str | None = None,
        branch: str | None = None,
    ) -> list[IndexEntry]:
        conditions = [
            _tag(name, value)
            for name, value in (
                ("commit", commit),
                ("fingerprint", fingerprint),
                ("branch", branch),
            )
            if value is not None
        ]
        return self._entries(*conditions)

    # -- writing -------------------------------------------------------------------------------
    def append(self, outcome: GateOutcome, attachments: Mapping[str, Path] | None = None) -> None:
        """Upload one run; when that fails, spool it and raise :class:`RecordSpooled`."""
        files = dict(attachments or {})
        try:
            self.upload(outcome, IndexEntry.of(outcome), files)
        except AlreadyRecorded:
            raise
        except StoreError as exc:
            if self.spool is None:
                raise
            where = self.spool.put(outcome, files, self)
            raise RecordSpooled(
                f"{exc}. The run is spooled in {where}; `mlgate history sync` uploads it"
            ) from exc

    def append_entry(self, outcome: GateOutcome, entry: IndexEntry) -> None:
        """Upload ``outcome`` under its own index entry (a partial run's says so)."""
        self.upload(outcome, entry, {})

    def upload(self, outcome: GateOutcome, entry: IndexEntry, files: Mapping[str, Path]) -> None:
        """Create the MLflow run, log its tags, metrics and artifacts, then mark it complete.

        Exactly once per run id: a complete run of that id is an error, an incomplete one (a
        crash or a dropped connection mid-upload) is deleted before the upload starts again."""
        previous = self._by_id(outcome.run_id, complete=False)
        if any(f.complete for f in previous):
            raise AlreadyRecorded(
                f"{self.location}: a run with id {outcome.run_id} is already recorded"
            )
        client = self.client()
        experiment = self.experiment_id(create=True)
        for stale in previous:
            self._call("removing an incomplete upload", partial(client.delete_run, stale.mlflow_id))
        from mlflow.entities import Metric, RunTag

        started = _millis(entry.timestamp)
        run = self._call(
            f"creating the run of {outcome.run_id}",
            lambda: client.create_run(
                experiment,
                start_time=started,
                tags=_tags(entry) | {"mlflow.runName": outcome.run_id},
                run_name=outcome.run_id,
            ),
        )
        mlflow_id = run.info.run_id
        metrics = [Metric(k, v, started, 0) for k, v in outcome_metrics(outcome).items()]
        for start in range(0, len(metrics), METRICS_PER_BATCH):
            chunk = metrics[start : start + METRICS_PER_BATCH]
            self._call("logging metrics", partial(client.log_batch, mlflow_id, metrics=chunk))
        with tempfile.TemporaryDirectory(prefix="mlgate-") as folder:
            staged = Path(folder)
            write_atomic(staged / RECORD_ARTIFACT, dumps_outcome(outcome))
            for name, source in files.items():
                (staged / REPORTS_ARTIFACT).mkdir(exist_ok=True)
                shutil.copyfile(source, staged / REPORTS_ARTIFACT / name)
            self._call("uploading artifacts", lambda: client.log_artifacts(mlflow_id, folder))
        complete = [RunTag(f"{TAG}complete", "true")]
        self._call("marking the run complete", lambda: client.log_batch(mlflow_id, tags=complete))
        self._call("finishing the run", lambda: client.set_terminated(mlflow_id, "FINISHED"))
        self._loaded.pop(outcome.run_id, None)

    def mlflow_run_id(self, run_id: str) -> str:
        """The MLflow run that holds gate run ``run_id``."""
        found = self._by_id(run_id)
        if not found:
            raise StoreError(f"no run {run_id!r} in {self.location}")
        return found[0].mlflow_id


def _tags(entry: IndexEntry) -> dict[str, str]:
    """The run's index entry as tags (the entry's fields, as the folder store's index line)."""
    tags = encode_entry(entry)
    tags["verdict"] = tags.pop("status")
    tags["tasks"] = None if entry.tasks is None else "," + ",".join(entry.tasks) + ","
    tags["partial"] = "true" if entry.partial else "false"
    named = {f"{TAG}{k}": v for k, v in tags.items() if v is not None}
    too_long = [k for k, v in named.items() if len(v) > MAX_TAG_VALUE]
    if too_long:
        raise StoreError(f"tag {too_long[0]} is longer than MLflow's {MAX_TAG_VALUE} characters")
    if entry.commit:
        named["mlflow.source.git.commit"] = entry.commit
    return named


def _found(run: Any) -> _Found | None:
    """The index entry a run's tags hold (None: not an mlgate run)."""
    tags: Mapping[str, str] = run.data.tags

    def tag(name: str) -> str | None:
        return tags.get(f"{TAG}{name}") or None

    run_id, timestamp = tag("run_id"), tag("timestamp")
    if run_id is None or timestamp is None:
        return None
    tasks = tag("tasks")
    entry = IndexEntry(
        run_id=run_id,
        timestamp=timestamp,
        branch=tag("branch"),
        commit=tag("commit"),
        suite=tag("suite"),
        checkpoint=tag("checkpoint"),
        tasks=None if tasks is None else tuple(t for t in tasks.split(",") if t),
        fingerprint=tag("fingerprint"),
        status=tag("verdict"),
        partial=tag("partial") == "true",
    )
    return _Found(run.info.run_id, entry, tag("complete") == "true")


def outcome_metrics(outcome: GateOutcome) -> dict[str, float]:
    """The run's MLflow metrics: every value, and each gated metric's CI, delta and p-value."""
    metrics: dict[str, float] = {}

    def put(key: str, value: float | None) -> None:
        finite = finite_or_none(value)
        if finite is not None and len(key) <= MAX_KEY:
            metrics[key] = finite

    for task in outcome.run.tasks.values():
        for result in task.metrics.values():
            put(metric_key(task.name, result.key), result.value)
    for verdict in outcome.verdicts:
        t = verdict.threshold
        known = _task_metrics(outcome, t.task)
        key = next((m.key for m in known if t.metric in (m.name, m.key)), t.metric)
        put(metric_key(t.task, key, t.subgroup), verdict.value)
        if verdict.value_ci is not None:
            put(metric_key(t.task, key, t.subgroup, "ci_low"), verdict.value_ci[0])
            put(metric_key(t.task, key, t.subgroup, "ci_high"), verdict.value_ci[1])
        if verdict.comparison is not None:
            put(metric_key(t.task, key, t.subgroup, "delta"), verdict.comparison.delta)
            put(metric_key(t.task, key, t.subgroup, "p_value"), verdict.p)
    return metrics


def _task_metrics(outcome: GateOutcome, task: str) -> Iterable[Any]:
    found = outcome.run.tasks.get(task)
    return () if found is None else found.metrics.values()


class Spool:
    """Records that could not be uploaded, one folder each, until ``mlgate history sync``::

        .mlgate-spool/<run_id>/record.json     the record, as the store would have taken it
        .mlgate-spool/<run_id>/reports/...     its reports
        .mlgate-spool/<run_id>/target.json     the store and experiment it was meant for

    A folder is written under a temporary name and renamed into place, so a half-written one is
    never synced; it is removed only after the upload, and a sync that finds the run already
    uploaded (a crash between the upload and the removal) just removes it: exactly once.
    """

    def __init__(self, path: Path) -> None:
        self.path = path

    def put(self, outcome: GateOutcome, files: Mapping[str, Path], store: MlflowStore) -> Path:
        target = self.path / outcome.run_id
        staging = self.path / f".{outcome.run_id}.tmp"
        try:
            shutil.rmtree(staging, ignore_errors=True)
            (staging / REPORTS_ARTIFACT).mkdir(parents=True)
            write_atomic(staging / "record.json", dumps_outcome(outcome))
            for name, source in files.items():
                shutil.copyfile(source, staging / REPORTS_ARTIFACT / name)
            where = {"uri": redacted(store.uri), "experiment": store.experiment}
            write_atomic(staging / "target.json", json.dumps(where))
            os.replace(staging, target)
        except OSError as exc:
            raise StoreError(
                f"the MLflow upload failed and the spool {self.path} cannot take the run "
                f"either: {exc.strerror or exc}"
            ) from exc
        return target

    def pending(self) -> list[Path]:
        if not self.path.is_dir():
            return []
        return sorted(p for p in self.path.iterdir() if p.is_dir() and not p.name.startswith("."))

    def sync(self, store: MlflowStore) -> SyncReport:
        """Upload every spooled run to ``store``, each exactly once."""
        report = SyncReport()
        for folder in self.pending():
            try:
                outcome = loads_outcome((folder / "record.json").read_text(encoding="utf-8"))
            except (OSError, RecordError) as exc:
                report.unreadable.append(f"{folder}: {exc}")
                continue
            already = [f for f in store._by_id(outcome.run_id, complete=False) if f.complete]
            if already:
                report.already.append(outcome.run_id)
            else:
                reports = folder / REPORTS_ARTIFACT
                files = {p.name: p for p in sorted(reports.iterdir())} if reports.is_dir() else {}
                store.upload(outcome, IndexEntry.of(outcome), files)
                report.uploaded.append(outcome.run_id)
            shutil.rmtree(folder)
        return report


@dataclass
class SyncReport:
    uploaded: list[str] = field(default_factory=list)
    #: found uploaded already (a crash between the upload and the clean-up)
    already: list[str] = field(default_factory=list)
    unreadable: list[str] = field(default_factory=list)
