"""Perturbed variants of lm-eval tasks: ``TASK@ascii``, ``@upper``, ``@lower``, ``@typo``.

A variant is the task loaded again under its own name, whose evaluated document is rendered
from a copy with its *input* fields perturbed. Never changed: the answer choices and the target
(a field is perturbed only if the task's choices and target come out the same), and the
few-shot demonstrations (lm-eval renders those through ``doc_to_text(doc, template)``, the
evaluated document through ``doc_to_text(doc)``). Each document's perturbation is seeded by its
content, so a variant's prompts are byte-identical from run to run and from shard to shard.
"""

from __future__ import annotations

import hashlib
import json
import random
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from pytest_mlgate.backend import EvalRequest
from pytest_mlgate.config.schema import VARIANT_MARK
from pytest_mlgate.results import EvalRun
from pytest_mlgate.text.turkish import perturb


def input_fields(task: Any, doc: Mapping[str, Any]) -> list[str]:
    """The string fields of ``doc`` the task's prompt is made from (all string fields when the
    prompt is built by a function), in a stable order."""
    template = getattr(task.config, "doc_to_text", None)
    strings = sorted(k for k, v in doc.items() if isinstance(v, str))
    if not isinstance(template, str):
        return strings
    if "{{" not in template and "{%" not in template:
        return [template] if template in strings else []
    import jinja2
    from jinja2 import meta

    names = meta.find_undeclared_variables(jinja2.Environment().parse(template))
    return [k for k in strings if k in names]


class Perturbation:
    """How one variant changes an evaluated document."""

    def __init__(self, task: Any, name: str, kind: str, rate: float, seed: int) -> None:
        self.task = task
        self.name = name
        self.kind = kind
        self.rate = rate
        self.seed = seed

    def _answers(self, doc: Mapping[str, Any]) -> tuple[Any, Any]:
        choices = self.task.doc_to_choice(doc) if self.task.config.doc_to_choice else None
        return choices, self.task.doc_to_target(doc)

    def document(self, doc: Mapping[str, Any]) -> dict[str, Any]:
        """A copy of ``doc`` with its input fields perturbed, its answers untouched."""
        key = hashlib.sha256(json.dumps(doc, sort_keys=True, default=str).encode()).hexdigest()
        answers = self._answers(doc)
        changed = dict(doc)
        for field in input_fields(self.task, doc):
            rng = random.Random(f"{self.seed}\0{self.name}\0{field}\0{key}")
            trial = {**changed, field: perturb(str(doc[field]), self.kind, self.rate, rng)}
            if self._answers(trial) == answers:  # a field the choices or target read stays
                changed = trial
        return changed


def make_variant(task: Any, name: str, rate: float, seed: int) -> Any:
    """Turn a freshly loaded ``task`` into its variant ``name`` (``TASK@KIND``)."""
    kind = name.partition(VARIANT_MARK)[2]
    perturbation = Perturbation(task, name, kind, rate, seed)
    original = task.doc_to_text

    def doc_to_text(doc: Any, *template: Any) -> Any:
        if template or not isinstance(doc, Mapping):  # a few-shot demonstration: as it is
            return original(doc, *template)
        return original(perturbation.document(doc))

    task.doc_to_text = doc_to_text
    task.config.task = name
    return task


def with_variant_hashes(run: EvalRun, request: EvalRequest) -> EvalRun:
    """Each variant's task hash also covers how it perturbs (and, for typos, rate and seed)."""
    tasks = dict(run.tasks)
    for name, task in run.tasks.items():
        if VARIANT_MARK not in name:
            continue
        kind = name.partition(VARIANT_MARK)[2]
        recipe = f"{task.task_hash}\0{kind}"
        if kind == "typo":
            recipe += f"\0{request.typo_rate!r}\0{request.seed}"
        tasks[name] = replace(task, task_hash=hashlib.sha256(recipe.encode()).hexdigest()[:16])
    return EvalRun(tasks, run.info)
