"""``mlgate reproduce RUN_ID``: a recorded run evaluated again as it was made, and compared with
its record document by document.

"As it was made": the checkpoint whose fingerprint the run recorded (a local copy of the same
bytes with ``--checkpoint``; a hub checkpoint at its recorded revision), the recorded suite
settings (tasks, sample, seed, n-shot), backend, dtype, batch size, scoring path and model
arguments; the installed torch / transformers / lm-eval / pytest-mlgate compared with the
recorded versions.
Only the config file's ``[tasks] include`` and the rest of ``[model]`` come from the config file
as it is now. What cannot be as recorded (other checkpoint bytes, a changed task or its data,
other versions without ``--allow-version-drift``) makes the run "not reproducible as recorded":
each difference named, both values given.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

from pytest_mlgate.backend import BackendSpec
from pytest_mlgate.checkpoint import fingerprint_checkpoint
from pytest_mlgate.config.schema import MlgateConfig, SuiteConfig
from pytest_mlgate.gate.verdicts import GateOutcome
from pytest_mlgate.manifest import Manifest, Versions, package_versions, task_info
from pytest_mlgate.results import DOC_HASH_CHARS, EvalRun

if TYPE_CHECKING:
    from pytest_mlgate.backend import Backend

IDENTICAL, CHANGED, NOT_REPRODUCIBLE = 0, 1, 4
#: the packages whose versions move scores, as the manifest names them and as pip does
VERSIONED = {
    "torch": "torch",
    "transformers": "transformers",
    "lm_eval": "lm-eval",
    "pytest_mlgate": "pytest-mlgate",
}


@dataclass(frozen=True)
class DocumentDiff:
    """One document whose per-example score is not the recorded one."""

    task: str
    metric: str
    doc_id: int
    recorded: float
    now: float | None  #: None: the document was not evaluated this time


@dataclass(frozen=True)
class Reproduction:
    """What ``mlgate reproduce`` found."""

    run_id: str
    problems: tuple[str, ...]  #: why the run is not reproducible as recorded (exit 4)
    drift: tuple[str, ...]  #: installed versions other than the recorded ones
    notes: tuple[str, ...] = ()
    documents: int = 0  #: documents compared
    identical: int = 0  #: documents every metric of which scored as recorded (within tolerance)
    max_delta: float = 0.0  #: the largest |Δ| of a per-example score
    differences: tuple[DocumentDiff, ...] = ()
    tolerance: float = 0.0
    threads: int | None = None  #: torch's intra-op threads the evaluation ran on

    @property
    def exit_code(self) -> int:
        if self.problems:
            return NOT_REPRODUCIBLE
        return CHANGED if self.differences else IDENTICAL

    def summary(self) -> str:
        if self.problems:
            return f"run {self.run_id} is not reproducible as recorded"
        within = f" within tolerance {self.tolerance:g}" if self.tolerance else ""
        return (
            f"{self.identical} of {self.documents} documents identical{within} "
            f"(max |Δ| of a per-example score {self.max_delta:g})"
        )


def version_drift(recorded: Versions) -> list[str]:
    """Each recorded package whose installed version differs, both versions named."""
    installed = package_versions()
    drift = []
    for field_name, package in VERSIONED.items():
        was = getattr(recorded, field_name)
        now = installed.get(package)
        if was is not None and was != now:
            drift.append(f"{package}: recorded {was}, installed {now or 'none'}")
    return drift


def checkpoint_problem(manifest: Manifest, location: str) -> str | None:
    """Why ``location`` is not the checkpoint the run evaluated (None: it is)."""
    recorded = manifest.checkpoint
    if recorded.kind == "local" and not Path(location).is_dir():
        return (
            f"checkpoint {location} does not exist here; pass --checkpoint PATH to a local copy "
            f"of the bytes it recorded ({recorded.fingerprint})"
        )
    revision = recorded.fingerprint.removeprefix("hub:") if recorded.kind == "hub" else None
    actual = fingerprint_checkpoint(location, revision).fingerprint
    if recorded.fingerprint and actual != recorded.fingerprint:
        return (
            f"checkpoint {location}: its files hash to {actual}, the run recorded "
            f"{recorded.fingerprint} (other bytes: a changed weight, config or tokenizer file)"
        )
    return None


def task_problems(recorded: GateOutcome, run: EvalRun) -> list[str]:
    """Each task whose definition or data is not the recorded one, both hashes named (and the
    documents whose content changed, where the record kept each document's hash)."""
    problems = []
    for name, was in sorted(recorded.manifest.tasks.items()):
        task = run.tasks.get(name)
        if task is None:
            problems.append(f"task {name}: not evaluated this time")
            continue
        now = task_info(task)
        if was.task_hash and now.task_hash != was.task_hash:
            problems.append(
                f"task {name}: task hash {now.task_hash}, recorded {was.task_hash} (its YAML, "
                "prompt or data changed)"
            )
        if was.version and now.version != was.version:
            problems.append(f"task {name}: version {now.version}, recorded {was.version}")
        old = recorded.run.tasks.get(name)
        hashes = old.doc_hashes if old is not None else {}
        if hashes:
            # a record keeps each document's hash truncated (64 bits): compare that much
            changed = [
                f"doc {i} ({digest[:DOC_HASH_CHARS]} → "
                f"{task.doc_hashes.get(i, 'missing')[:DOC_HASH_CHARS]})"
                for i, digest in sorted(hashes.items())
                if task.doc_hashes.get(i, "")[:DOC_HASH_CHARS] != digest[:DOC_HASH_CHARS]
            ]
            if changed:
                shown = ", ".join(changed[:5]) + (
                    f", … {len(changed) - 5} more" if len(changed) > 5 else ""
                )
                problems.append(
                    f"task {name}: data changed in {len(changed)} of {len(hashes)} documents: "
                    f"{shown}"
                )
        elif was.docs and now.docs is not None and now.docs != was.docs:
            problems.append(f"task {name}: data hash {now.docs}, recorded {was.docs}")
    return problems


def prompt_problems(manifest: Manifest, run: EvalRun) -> list[str]:
    """The chat template, system instruction and generation settings the requests were
    formatted with, where they differ from the recorded ones."""
    was, now = manifest.prompt, run.info.prompt
    if now is None:
        return []  # a backend that does not say: nothing to compare
    fields = ("chat_template", "system_instruction", "fewshot_as_multiturn", "gen_kwargs")
    return [
        f"prompt: {name} {getattr(now, name)!r}, recorded {getattr(was, name)!r}"
        for name in fields
        if getattr(now, name) != getattr(was, name)
    ]


def scoring_notes(manifest: Manifest, run: EvalRun) -> list[str]:
    """A task scored on another path than recorded: a note (both paths agree within 1e-4, so
    the documents are still compared)."""
    return [
        f"task {name}: scored on {run.info.scoring[name]}, recorded {was.scoring}"
        for name, was in sorted(manifest.tasks.items())
        if was.scoring and run.info.scoring.get(name, was.scoring) != was.scoring
    ]


def thread_notes(manifest: Manifest, run: EvalRun) -> list[str]:
    """The evaluation ran on another thread count than recorded (a backend that does not set
    it): the last bits of a score may differ. A record that does not say is not noted."""
    was, now = manifest.model.threads, run.info.threads
    if was is None or now is None or was == now:
        return []
    return [f"ran on {now} torch thread(s), the run recorded {was}"]


def compare_documents(
    recorded: EvalRun, now: EvalRun, tolerance: float = 0.0
) -> tuple[int, int, float, list[DocumentDiff]]:
    """(documents compared, identical, max |Δ|, the differences) over every recorded task and
    metric, on the documents the record evaluated (a stopped sequential run: those only)."""
    documents: set[tuple[str, int]] = set()
    differing: set[tuple[str, int]] = set()
    max_delta = 0.0
    diffs: list[DocumentDiff] = []
    for name, task in sorted(recorded.tasks.items()):
        new_task = now.tasks.get(name)
        for key, metric in sorted(task.metrics.items()):
            new_metric = new_task.metrics.get(key) if new_task is not None else None
            scores = (
                dict(zip(new_metric.doc_ids, new_metric.scores, strict=True)) if new_metric else {}
            )
            for doc, score in zip(metric.doc_ids, metric.scores, strict=True):
                documents.add((name, doc))
                fresh = scores.get(doc)
                delta = math.inf if fresh is None else abs(fresh - score)
                if fresh is not None and math.isnan(fresh) and math.isnan(score):
                    delta = 0.0
                if math.isfinite(delta):
                    max_delta = max(max_delta, delta)
                if not delta <= tolerance:
                    differing.add((name, doc))
                    diffs.append(DocumentDiff(name, key, doc, score, fresh))
    return len(documents), len(documents - differing), max_delta, diffs


def recorded_suite(
    manifest: Manifest, tasks: tuple[str, ...], current: SuiteConfig | None
) -> SuiteConfig:
    """The suite as the run recorded it (tasks, sample, seed, n-shot); perturbation settings
    from the config's suite of that name, where there is one."""
    recorded = manifest.suite
    base = current or SuiteConfig(recorded.name, tasks)
    return replace(
        base,
        name=recorded.name,
        tasks=tuple(t for t in tasks if "@" not in t),
        sample=recorded.sample,
        seed=recorded.seed if recorded.seed is not None else base.seed,
        num_fewshot=recorded.num_fewshot,
        latency=None,
    )


def recorded_model(config: MlgateConfig, manifest: Manifest) -> MlgateConfig:
    """``[model]`` with the recorded backend, dtype, batch size, thread count and model
    arguments."""
    model = manifest.model
    batch = model.batch_size if isinstance(model.batch_size, int) else config.model.batch_size
    # the scoring path: shared-context where any task was scored on it (lm-eval's own path
    # answers what it does not cover), lm-eval's where every recorded task was
    paths = {t.scoring for t in manifest.tasks.values() if t.scoring}
    scoring = "shared-context" if "shared-context" in paths else config.model.scoring
    if paths == {"lmeval"}:
        scoring = "lmeval"
    args = dict(model.model_args)
    if manifest.checkpoint.kind == "hub":
        args["revision"] = manifest.checkpoint.fingerprint.removeprefix("hub:")
    return replace(
        config,
        model=replace(
            config.model,
            backend=model.backend or config.model.backend,
            dtype=model.dtype or config.model.dtype,
            batch_size=batch,
            threads=model.threads or config.model.threads,
            scoring=scoring,
            model_args=args,
            # the prompt as recorded (the template itself is recorded by its hash only: it
            # comes from the checkpoint's files, which the fingerprint covers)
            chat_template=(config.model.chat_template or True)
            if manifest.prompt.chat_template
            else False,
            system_instruction=manifest.prompt.system_instruction,
            fewshot_as_multiturn=manifest.prompt.fewshot_as_multiturn,
            gen_kwargs=dict(manifest.prompt.gen_kwargs),
        ),
    )


def reproduce(
    config: MlgateConfig,
    recorded: GateOutcome,
    checkpoint: str | None = None,
    *,
    allow_version_drift: bool = False,
    tolerance: float = 0.0,
    make_backend: Callable[[BackendSpec], Backend] | None = None,
) -> Reproduction:
    """Evaluate ``recorded`` again as it was made and compare; nothing is evaluated when the
    checkpoint or the versions already rule it out."""
    manifest = recorded.manifest
    location = checkpoint or manifest.checkpoint.id
    drift = tuple(version_drift(manifest.versions))
    problems = [] if allow_version_drift else [f"version drift: {d}" for d in drift]
    notes = []
    if drift and allow_version_drift:
        notes.append("versions differ (allowed by --allow-version-drift): " + "; ".join(drift))
    bad_checkpoint = checkpoint_problem(manifest, location)
    if bad_checkpoint:
        problems.append(bad_checkpoint)
    if problems:
        return Reproduction(recorded.run_id, tuple(problems), drift, tuple(notes))
    if manifest.config.hash and _config_hash(config.path) != manifest.config.hash:
        notes.append(
            f"{config.path} changed since the run: its suite and model settings are taken from "
            "the record, [tasks] include and the rest of [model] from the file as it is"
        )
    now = evaluate(config, recorded, location, make_backend)
    problems += task_problems(recorded, now)
    problems += prompt_problems(recorded.manifest, now)
    notes += scoring_notes(recorded.manifest, now)
    notes += thread_notes(recorded.manifest, now)
    documents, identical, max_delta, diffs = compare_documents(recorded.run, now, tolerance)
    return Reproduction(
        recorded.run_id, tuple(problems), drift, tuple(notes), documents, identical, max_delta,
        tuple(diffs), tolerance, now.info.threads,
    )  # fmt: skip


def _config_hash(path: Path) -> str:
    import hashlib

    return hashlib.sha256(path.read_bytes()).hexdigest()[:16] if path.is_file() else ""


def evaluate(
    config: MlgateConfig,
    recorded: GateOutcome,
    location: str,
    make_backend: Callable[[BackendSpec], Backend] | None = None,
) -> EvalRun:
    """The recorded run's tasks evaluated again with its settings (no result cache), through
    ``make_backend`` (the ``pytest_mlgate_make_backend`` hook; the built-in backend without one)."""
    from pytest_mlgate.backend.builtin import pytest_mlgate_make_backend
    from pytest_mlgate.run.evaluator import make_evaluator

    maker = make_backend or pytest_mlgate_make_backend
    tasks = tuple(recorded.run.tasks)
    as_recorded = recorded_model(config, recorded.manifest)
    current = config.suites.get(recorded.manifest.suite.name)
    suite = recorded_suite(recorded.manifest, tasks, current)
    evaluator = make_evaluator(as_recorded, location, suite, tasks, maker)
    try:
        return evaluator.evaluate(tasks)
    finally:
        evaluator.close()
