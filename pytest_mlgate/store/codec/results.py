"""Results ↔ JSON: a run's tasks, metrics and per-example arrays, and how the run was made.

``encode_run`` is the record's (and the result cache's) compact form; ``plain_run`` is
``--mlgate-json``'s readable one. ``RunInfo``, ``PromptInfo`` and ``Throughput`` are flat
records, coded from their fields.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pytest_mlgate.errors import RecordError
from pytest_mlgate.results import (
    EvalRun,
    Example,
    MetricResult,
    PromptInfo,
    RunInfo,
    TaskResult,
    Throughput,
)
from pytest_mlgate.store.codec.arrays import (
    decode_hashes,
    decode_ids,
    decode_scores,
    decode_subgroups,
    encode_hashes,
    encode_ids,
    encode_scores,
    encode_subgroups,
)
from pytest_mlgate.store.codec.fields import (
    Decoder,
    FlatCodec,
    Json,
    Wire,
    encode_groups,
    finite_or_none,
    groups,
    json_object,
    number_or_nan,
    optional_number,
    optional_str,
    required_field,
    required_text,
)


def list_of(codec: FlatCodec[Any]) -> Decoder:
    """A list of ``codec``'s records (absent: none)."""

    def decode(value: object, what: str) -> tuple[Any, ...]:
        if value is None:
            return ()
        if not isinstance(value, list):
            raise RecordError(f"{what}: expected a list")
        return tuple(
            codec.decode(json_object(item, f"{what}[{i}]"), f"{what}[{i}]")
            for i, item in enumerate(value)
        )

    return decode


def _gen_kwargs(value: object, what: str) -> dict[str, Any]:
    found = json_object(value, what)
    if not all(isinstance(v, (str, int, float, bool)) for v in found.values()):
        raise RecordError(f"{what}: expected strings, numbers or booleans")
    return dict(found)


def _lenient_batch(value: object, what: str) -> int | str | None:
    return value if isinstance(value, (int, str)) and not isinstance(value, bool) else None


PROMPT = FlatCodec(PromptInfo, gen_kwargs=Wire(encode=dict, decode=_gen_kwargs))
THROUGHPUT = FlatCodec(Throughput, kind=Wire(decode=required_text))


def _scoring(value: object, what: str) -> dict[str, str]:
    """Per task, the path that scored it (absent in records written before it existed)."""
    found = json_object(value, what)
    if not all(isinstance(v, str) for v in found.values()):
        raise RecordError(f"{what}: expected a string per task")
    return {str(k): str(v) for k, v in found.items()}


def _planned(value: object, what: str) -> dict[str, int]:
    found = json_object(value, what)
    if not all(type(v) is int for v in found.values()):
        raise RecordError(f"{what}: expected a document count per task")
    return {str(k): int(v) for k, v in found.items()}


def _encode_throughput(figures: tuple[Throughput, ...]) -> list[Json]:
    return [THROUGHPUT.encode(t) for t in figures]


def _decode_prompt(value: object, what: str) -> PromptInfo | None:
    return None if value is None else PROMPT.decode(json_object(value, what), what)


RUN_INFO = FlatCodec(
    RunInfo,
    batch_size=Wire(decode=_lenient_batch),
    gpus=Wire(sparse=True),
    groups=Wire(encode=encode_groups, decode=groups, sparse=True),
    from_cache=Wire(
        key="result_cache",
        encode=lambda hit: "hit" if hit else None,
        decode=lambda value, what: value == "hit",
        sparse=True,
    ),
    prompt=Wire(encode=PROMPT.encode, decode=_decode_prompt, sparse=True),
    throughput=Wire(encode=_encode_throughput, decode=list_of(THROUGHPUT), sparse=True),
    scoring=Wire(encode=dict, decode=_scoring, sparse=True),
    threads=Wire(sparse=True),
    planned=Wire(encode=dict, decode=_planned, sparse=True),
    seconds=Wire(sparse=True),
)


def encode_info(info: RunInfo) -> Json:
    return RUN_INFO.encode(info)


def decode_info(data: object, what: str = "info") -> RunInfo:
    return RUN_INFO.decode(json_object(data, what), what)


def encode_prompt(prompt: PromptInfo) -> Json:
    return PROMPT.encode(prompt)


def decode_prompt(data: object, what: str) -> PromptInfo:
    return PROMPT.decode(json_object(data, what), what)


# -- tasks and metrics -----------------------------------------------------------------------
def _task_doc_ids(task: TaskResult) -> tuple[int, ...]:
    if task.doc_hashes:
        return tuple(sorted(task.doc_hashes))
    for metric in task.metrics.values():
        if metric.doc_ids:
            return metric.doc_ids
    return ()


def _metric_head(metric: MetricResult) -> Json:
    return {
        "value": finite_or_none(metric.value),
        "stderr": finite_or_none(metric.stderr),
        "n": metric.n,
        "higher_is_better": metric.higher_is_better,
    }


def _task_head(task: TaskResult) -> Json:
    return {
        "n": task.n,
        "version": task.version,
        "num_fewshot": task.num_fewshot,
        "task_hash": task.task_hash,
    }


def _task_extras(task: TaskResult, doc_ids: tuple[int, ...]) -> Json:
    """Fields added after schema 1 was first written, present only when they are known."""
    extras: Json = {}
    if task.output_type is not None:
        extras["output_type"] = task.output_type
    if task.chance is not None:
        extras["chance"] = task.chance
    prompts = encode_hashes(task.prompt_hashes, doc_ids)
    if prompts is not None:
        extras["prompt_hashes"] = prompts
    return extras


def _encode_metric(metric: MetricResult, doc_ids: tuple[int, ...]) -> Json:
    entry = _metric_head(metric)
    if metric.scores:
        entry["scores"] = encode_scores(metric.scores)
        if metric.doc_ids != doc_ids:
            entry["doc_ids"] = encode_ids(metric.doc_ids)
    return entry


def _encode_task(task: TaskResult) -> Json:
    doc_ids = _task_doc_ids(task)
    return {
        **_task_head(task),
        **_task_extras(task, doc_ids),
        "doc_ids": encode_ids(doc_ids),
        "doc_hashes": encode_hashes(task.doc_hashes, doc_ids),
        "metrics": {key: _encode_metric(m, doc_ids) for key, m in task.metrics.items()},
        "subgroups": encode_subgroups(task, doc_ids),
        "examples": {
            str(doc): [ex.prompt, ex.target, ex.response]
            for doc, ex in sorted(task.examples.items())
        },
    }


def encode_run(run: EvalRun) -> Json:
    """The record's (and the result cache's) compact form of a run's tasks."""
    return {name: _encode_task(task) for name, task in run.tasks.items()}


def plain_run(run: EvalRun) -> Json:
    """``--mlgate-json``'s readable form of a run: per-example scores as plain lists."""
    return {
        "info": encode_info(run.info),
        "tasks": {
            name: {
                **_task_head(task),
                "metrics": {
                    key: {**_metric_head(m), "doc_ids": list(m.doc_ids), "scores": list(m.scores)}
                    for key, m in task.metrics.items()
                },
            }
            for name, task in run.tasks.items()
        },
    }


def _decode_examples(blob: object, what: str) -> dict[int, Example]:
    examples = {}
    for doc, texts in json_object(blob, what).items():
        if (
            not isinstance(texts, list)
            or len(texts) != 3
            or not all(isinstance(t, str) for t in texts)
            or not str(doc).lstrip("-").isdigit()
        ):
            raise RecordError(f"{what}.{doc}: expected [prompt, target, response]")
        examples[int(doc)] = Example(*texts)
    return examples


def _decode_metric(
    name: str, key: str, entry: object, doc_ids: tuple[int, ...], at: str
) -> MetricResult:
    if not isinstance(entry, Mapping):
        raise RecordError(f"{at}: expected an object")
    scores: tuple[float, ...] = ()
    ids: tuple[int, ...] = ()
    if "scores" in entry:
        scores = decode_scores(entry["scores"], f"{at}.scores")
        ids = decode_ids(entry["doc_ids"], f"{at}.doc_ids") if "doc_ids" in entry else doc_ids
        if len(ids) != len(scores):
            raise RecordError(f"{at}: {len(scores)} scores for {len(ids)} doc ids")
    direction = entry.get("higher_is_better")
    return MetricResult(
        task=name,
        key=key,
        value=number_or_nan(entry.get("value"), f"{at}.value"),
        stderr=optional_number(entry.get("stderr"), f"{at}.stderr"),
        n=required_field(entry, "n", (int,), at),
        higher_is_better=direction if isinstance(direction, bool) else None,
        doc_ids=ids,
        scores=scores,
    )


def _decode_task(name: str, data: object, where: str) -> TaskResult:
    if not isinstance(data, Mapping):
        raise RecordError(f"{where}: expected an object")
    doc_ids = decode_ids(data.get("doc_ids", ""), f"{where}.doc_ids")
    metrics_data = required_field(data, "metrics", (dict,), where)
    metrics = {
        key: _decode_metric(name, key, entry, doc_ids, f"{where}.metrics.{key}")
        for key, entry in metrics_data.items()
    }
    version, n_shot, task_hash = data.get("version"), data.get("num_fewshot"), data.get("task_hash")
    return TaskResult(
        name=name,
        metrics=metrics,
        n=required_field(data, "n", (int,), where),
        version=None if version is None else str(version),
        num_fewshot=n_shot if isinstance(n_shot, int) and not isinstance(n_shot, bool) else None,
        task_hash=task_hash if isinstance(task_hash, str) else None,
        doc_hashes=decode_hashes(data.get("doc_hashes"), doc_ids, f"{where}.doc_hashes"),
        subgroups=decode_subgroups(data.get("subgroups"), doc_ids, f"{where}.subgroups"),
        examples=_decode_examples(data.get("examples"), f"{where}.examples"),
        output_type=optional_str(data.get("output_type"), f"{where}.output_type"),
        chance=optional_number(data.get("chance"), f"{where}.chance"),
        prompt_hashes=decode_hashes(data.get("prompt_hashes"), doc_ids, f"{where}.prompt_hashes"),
    )


def decode_run(tasks: object, info: RunInfo | None = None, what: str = "tasks") -> EvalRun:
    if not isinstance(tasks, Mapping):
        raise RecordError(f"{what}: expected an object")
    decoded = {name: _decode_task(name, data, f"{what}.{name}") for name, data in tasks.items()}
    return EvalRun(decoded, info or RunInfo())
