"""lm-eval's result dict -> plain frozen results (converted once, at the backend's edge).

lm-eval's ``simple_evaluate`` returns nested dicts holding numpy scalars and ``"N/A"`` stderrs;
nothing past this module sees them.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import Any

from pytest_mlgate.results import EvalRun, Example, MetricResult, RunInfo, TaskResult

# Fields whose values name a reportable subgroup (labels and answers stratify, but say nothing).
SUBGROUP_FIELDS = ("category", "subject")
Encoder = Callable[[str], list[int]]  # the model's tokenizer, as lm-eval calls it (tok_encode)


def _direction(raw: Any) -> bool | None:
    """lm-eval's higher_is_better: None for a custom metric that does not declare it, or a
    group whose subtasks disagree. Kept unknown: guessing would gate the wrong way."""
    return None if raw is None else bool(raw)


def _float(raw: Any) -> float:
    try:
        return float(raw)
    except (TypeError, ValueError):
        return math.nan


def task_definition_hash(task_config: Mapping[str, Any] | None) -> str | None:
    """A hash of what defines a task's scores: prompts, targets, filters, metrics, n-shot.

    Where the data lives is machine-specific and left out (the documents themselves are covered
    by lm-eval's per-document hashes); so are object addresses in the reprs of functions.
    """
    if not task_config:
        return None
    config = {k: v for k, v in task_config.items() if k not in ("dataset_kwargs", "metadata")}
    text = json.dumps(config, sort_keys=True, default=str, ensure_ascii=False)
    text = re.sub(r" at 0x[0-9a-fA-F]+", "", text)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def subgroup_of(doc: object, metadata: Mapping[str, Any] | None) -> str | None:
    """A document's subgroup: its field named by the task's ``metadata.subgroup_field``, else
    its ``category`` or ``subject`` field (None: the document has none)."""
    if not isinstance(doc, Mapping):
        return None
    declared = (metadata or {}).get("subgroup_field")
    fields = (declared,) if declared else SUBGROUP_FIELDS
    field = next((f for f in fields if f in doc), None)
    return None if field is None or doc[field] is None else str(doc[field])


def _subgroups(per_doc: list[Mapping[str, Any]], config: Mapping[str, Any]) -> dict[int, str]:
    groups = {}
    for sample in per_doc:
        group = subgroup_of(sample.get("doc"), config.get("metadata"))
        if group is not None:
            groups[int(sample["doc_id"])] = group
    return groups


def _examples(per_doc: list[Mapping[str, Any]], output_type: object) -> dict[int, Example]:
    """Prompt, target and response of each document, as a reviewer reads them."""
    examples: dict[int, Example] = {}
    for sample in per_doc:
        doc_id = int(sample["doc_id"])
        if doc_id in examples:
            continue  # one entry per filter: the first is enough for the texts
        arguments = _arguments(sample)
        try:
            prompt = str(arguments[0][0])
            if output_type == "multiple_choice":
                choices = [str(a[1]).strip() for a in arguments]
                target_raw = sample.get("target")
                target = choices[target_raw] if isinstance(target_raw, int) else str(target_raw)
                scores = [float(r[0][0]) for r in sample.get("resps") or []]
                response = choices[max(range(len(scores)), key=scores.__getitem__)]
            else:
                target = str(sample.get("target"))
                resps = sample.get("resps") or [[""]]
                response = str(resps[0][0] if resps and resps[0] else "")
        except (IndexError, TypeError, ValueError, KeyError):
            continue  # an unusual request shape: no text for this example, scores still count
        examples[doc_id] = Example(prompt, target, response)
    return examples


def _loglikelihoods(
    per_doc: list[Mapping[str, Any]], output_type: object
) -> dict[int, tuple[float, ...]]:
    """Multiple choice: each document's log-likelihood of every choice."""
    if output_type != "multiple_choice":
        return {}
    found: dict[int, tuple[float, ...]] = {}
    for sample in per_doc:
        try:
            found.setdefault(
                int(sample["doc_id"]), tuple(float(r[0][0]) for r in sample.get("resps") or [])
            )
        except (IndexError, TypeError, ValueError, KeyError):
            continue
    return found


def _arguments(sample: Mapping[str, Any]) -> list[Any]:
    arguments = sample.get("arguments") or []
    return list(arguments.values()) if isinstance(arguments, Mapping) else list(arguments)


def _contexts(arguments: list[Any]) -> list[str]:
    """The distinct contexts (rendered prompts) of one document's requests, in order."""
    seen: dict[str, None] = {}
    for request in arguments:
        if isinstance(request, (list, tuple)) and request and isinstance(request[0], str):
            seen.setdefault(request[0], None)
    return list(seen)


def prompt_hashes(per_doc: list[Mapping[str, Any]], encode: Encoder | None) -> dict[int, str]:
    """Per doc id, a sha256 of every request as the model saw it: its text (context,
    continuation, generation settings) and the token ids of each context (BOS included)."""
    hashes: dict[int, str] = {}
    for sample in per_doc:
        doc_id = int(sample["doc_id"])
        if doc_id in hashes:
            continue  # one entry per filter: the requests are the same
        arguments = _arguments(sample)
        digest = hashlib.sha256(json.dumps(arguments, default=str, ensure_ascii=False).encode())
        if encode is not None:
            for context in _contexts(arguments):
                digest.update(b"\0" + json.dumps(encode(context)).encode())
        hashes[doc_id] = digest.hexdigest()
    return hashes


def chance_level(per_doc: list[Mapping[str, Any]], output_type: object) -> float | None:
    """Multiple choice: the mean over documents of 1 / #choices (one request per choice)."""
    if output_type != "multiple_choice":
        return None
    counts = {int(s["doc_id"]): len(_arguments(s)) for s in per_doc}
    counts = {doc: n for doc, n in counts.items() if n > 0}
    return sum(1 / n for n in counts.values()) / len(counts) if counts else None


def run_from_lmeval(
    out: Mapping[str, Any], info: RunInfo, encode: Encoder | None = None
) -> EvalRun:
    """lm-eval's result dict (numpy scalars, "N/A" stderrs) -> plain frozen results.
    ``encode``: the model's tokenizer, for the per-document prompt fingerprints."""
    results: Mapping[str, Mapping[str, Any]] = out.get("results", {})
    samples: Mapping[str, list[Mapping[str, Any]]] = out.get("samples") or {}
    higher: Mapping[str, Mapping[str, Any]] = out.get("higher_is_better", {})
    n_samples: Mapping[str, Mapping[str, Any]] = out.get("n-samples", {})
    subtasks: Mapping[str, list[str]] = out.get("group_subtasks", {})

    def effective_n(task: str) -> int:
        if task in n_samples:
            return int(n_samples[task].get("effective", 0))
        return sum(effective_n(t) for t in subtasks.get(task, []))

    tasks = {}
    for task, res in results.items():
        per_doc = samples.get(task, [])
        task_config: Mapping[str, Any] = out.get("configs", {}).get(task) or {}
        n = effective_n(task)
        metrics = {}
        for key, raw in res.items():
            name, sep, filt = key.partition(",")
            if not sep or name.endswith("_stderr"):
                continue
            stderr = _float(res.get(f"{name}_stderr,{filt}"))
            docs = sorted(
                (d for d in per_doc if d.get("filter", "none") == filt and name in d),
                key=lambda d: int(d["doc_id"]),
            )
            scores: tuple[float, ...] = tuple(_float(d[name]) for d in docs)
            doc_ids: tuple[int, ...] = tuple(int(d["doc_id"]) for d in docs)
            if any(math.isnan(s) for s in scores):  # non-scalar per-doc values (e.g. BLEU)
                scores, doc_ids = (), ()
            metrics[key] = MetricResult(
                task=task,
                key=key,
                value=_float(raw),
                stderr=None if math.isnan(stderr) else stderr,
                n=n,
                higher_is_better=_direction(higher.get(task, {}).get(name)),
                doc_ids=doc_ids,
                scores=scores,
            )
        version = out.get("versions", {}).get(task)
        n_shot = out.get("n-shot", {}).get(task)
        output_type = task_config.get("output_type")
        tasks[task] = TaskResult(
            name=task,
            metrics=metrics,
            n=n,
            version=None if version is None else str(version),
            num_fewshot=None if n_shot is None else int(n_shot),
            task_hash=task_definition_hash(task_config),
            doc_hashes={int(d["doc_id"]): str(d["doc_hash"]) for d in per_doc if d.get("doc_hash")},
            subgroups=_subgroups(per_doc, task_config),
            examples=_examples(per_doc, output_type),
            output_type=None if output_type is None else str(output_type),
            chance=chance_level(per_doc, output_type),
            prompt_hashes=prompt_hashes(per_doc, encode),
            loglikelihoods=_loglikelihoods(per_doc, output_type),
        )
    groups = {group: tuple(children) for group, children in subtasks.items() if children}
    return EvalRun(tasks, replace(info, groups=groups))
