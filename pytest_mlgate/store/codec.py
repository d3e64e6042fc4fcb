"""Typed objects <-> JSON: the only place where results, verdicts and manifests become dicts.

A record is data only (JSON; no pickle, no eval). Per-example scores are stored so that two runs
can be paired example by example: 0/1 scores as packed bits, other scores as float64, doc ids as
int32 and lm-eval's document hashes truncated to 64 bits, each base64 in one string. Decoding
checks every field and raises :class:`RecordError` (naming what is wrong) on anything off.

NaN and infinity become ``null`` here and nowhere else. Fields added after schema 1 was first
written are left out while they hold their default, so a record written by an earlier release
decodes and re-encodes to the same bytes.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar

import numpy as np

from pytest_mlgate import stats
from pytest_mlgate.checkpoint import CheckpointInfo
from pytest_mlgate.config.load import THRESHOLD_KEYS, MetricThreshold
from pytest_mlgate.errors import RecordError
from pytest_mlgate.gate.verdicts import Caveat, GateOutcome, Status, Verdict
from pytest_mlgate.manifest import (
    ConfigInfo,
    GitState,
    Manifest,
    ModelInfo,
    Seeds,
    SuiteInfo,
    TaskInfo,
    Versions,
)
from pytest_mlgate.results import (
    DOC_HASH_CHARS,
    Determinism,
    EvalRun,
    Example,
    Latency,
    MetricResult,
    PromptInfo,
    RunInfo,
    TaskResult,
    Throughput,
)
from pytest_mlgate.store.protocol import IndexEntry

SCHEMA_VERSION = 1
HASH_BYTES = DOC_HASH_CHARS // 2
Json = dict[str, Any]
T = TypeVar("T")


# -- numbers ---------------------------------------------------------------------------------
def finite_or_none(value: float | None) -> float | None:
    """JSON has no NaN: a value that is not a finite number is written as null."""
    if value is None or not math.isfinite(value):
        return None
    return float(value)


def _number_or_nan(value: object, what: str) -> float:
    if value is None:
        return math.nan
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise RecordError(f"{what}: expected a number or null")
    return float(value)


def _optional_number(value: object, what: str) -> float | None:
    return None if value is None else _number_or_nan(value, what)


def _optional_int(value: object, what: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise RecordError(f"{what}: expected an integer or null")
    return value


def _optional_str(value: object, what: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise RecordError(f"{what}: expected a string or null")
    return value


def _object(value: object, what: str) -> Mapping[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise RecordError(f"{what}: expected an object")
    return value


def _field(data: Mapping[str, Any], key: str, kinds: tuple[type, ...], what: str) -> Any:
    value = data.get(key)
    if not isinstance(value, kinds) or (isinstance(value, bool) and bool not in kinds):
        names = " or ".join(k.__name__ for k in kinds)
        raise RecordError(f"{what}.{key}: expected {names}, got {type(value).__name__}")
    return value


def _plain(value: object) -> Any:
    """A TOML value as JSON holds it (datetimes and other oddities as their text)."""
    return json.loads(json.dumps(value, default=str))


# -- per-example arrays ------------------------------------------------------------------------
def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _unb64(text: object, what: str) -> bytes:
    if not isinstance(text, str):
        raise RecordError(f"{what}: expected a base64 string")
    try:
        return base64.b64decode(text.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError) as exc:
        raise RecordError(f"{what}: not valid base64 ({exc})") from None


def encode_scores(scores: tuple[float, ...]) -> Json:
    array = np.asarray(scores, dtype=np.float64)
    if array.size and np.isin(array, (0.0, 1.0)).all():
        return {
            "encoding": "bits",
            "count": int(array.size),
            "data": _b64(np.packbits(array > 0.5).tobytes()),
        }
    # float64, not float32: rounding would make an identical rerun differ by ~1e-9 on every
    # example, all the same way, and a zero-tolerance gate would call that a significant drop.
    return {
        "encoding": "f64",
        "count": int(array.size),
        "data": _b64(array.astype("<f8").tobytes()),
    }


def decode_scores(blob: object, what: str) -> tuple[float, ...]:
    if not isinstance(blob, Mapping):
        raise RecordError(f"{what}: expected an object")
    count = blob.get("count")
    if not isinstance(count, int) or count < 0:
        raise RecordError(f"{what}.count: expected a non-negative integer")
    raw = _unb64(blob.get("data"), f"{what}.data")
    if blob.get("encoding") == "bits":
        if len(raw) != (count + 7) // 8:
            raise RecordError(f"{what}: {len(raw)} bytes cannot hold {count} bits")
        bits = np.unpackbits(np.frombuffer(raw, dtype=np.uint8))[:count]
        return tuple(bits.astype(np.float64).tolist())
    if blob.get("encoding") == "f64":
        if len(raw) != 8 * count:
            raise RecordError(f"{what}: {len(raw)} bytes are not {count} float64 values")
        return tuple(np.frombuffer(raw, dtype="<f8").tolist())
    raise RecordError(f"{what}.encoding: expected 'bits' or 'f64'")


def _encode_ids(ids: tuple[int, ...]) -> str:
    return _b64(np.asarray(ids, dtype="<i4").tobytes())


def _decode_ids(text: object, what: str) -> tuple[int, ...]:
    raw = _unb64(text, what)
    if len(raw) % 4:
        raise RecordError(f"{what}: length {len(raw)} is not a multiple of 4")
    return tuple(np.frombuffer(raw, dtype="<i4").tolist())


def _task_doc_ids(task: TaskResult) -> tuple[int, ...]:
    if task.doc_hashes:
        return tuple(sorted(task.doc_hashes))
    for metric in task.metrics.values():
        if metric.doc_ids:
            return metric.doc_ids
    return ()


# -- results -----------------------------------------------------------------------------------
def _metric_head(metric: MetricResult) -> Json:
    return {
        "value": finite_or_none(metric.value),
        "stderr": finite_or_none(metric.stderr),
        "n": metric.n,
        "higher_is_better": metric.higher_is_better,
    }


def _encode_hashes(hashes: Mapping[int, str], doc_ids: tuple[int, ...]) -> str | None:
    """One hex hash per doc, truncated to 64 bits and packed (None unless every doc has one)."""
    if not hashes or len(hashes) != len(doc_ids) or any(d not in hashes for d in doc_ids):
        return None
    return _b64(b"".join(bytes.fromhex(hashes[d][: 2 * HASH_BYTES]) for d in doc_ids))


def _decode_hashes(blob: object, doc_ids: tuple[int, ...], what: str) -> dict[int, str]:
    if blob is None:
        return {}
    raw = _unb64(blob, what)
    if len(raw) != HASH_BYTES * len(doc_ids):
        raise RecordError(f"{what}: {len(raw)} bytes for {len(doc_ids)} docs")
    return {doc: raw[i * HASH_BYTES : (i + 1) * HASH_BYTES].hex() for i, doc in enumerate(doc_ids)}


def _task_extras(task: TaskResult, doc_ids: tuple[int, ...]) -> Json:
    """Fields added after schema 1 was first written, present only when they are known."""
    extras: Json = {}
    if task.output_type is not None:
        extras["output_type"] = task.output_type
    if task.chance is not None:
        extras["chance"] = task.chance
    prompts = _encode_hashes(task.prompt_hashes, doc_ids)
    if prompts is not None:
        extras["prompt_hashes"] = prompts
    return extras


def encode_run(run: EvalRun) -> Json:
    """The record's (and the result cache's) compact form of a run's tasks."""
    tasks: Json = {}
    for name, task in run.tasks.items():
        doc_ids = _task_doc_ids(task)
        metrics = {}
        for key, metric in task.metrics.items():
            entry = _metric_head(metric)
            if metric.scores:
                entry["scores"] = encode_scores(metric.scores)
                if metric.doc_ids != doc_ids:
                    entry["doc_ids"] = _encode_ids(metric.doc_ids)
            metrics[key] = entry
        tasks[name] = {
            **_task_head(task),
            **_task_extras(task, doc_ids),
            "doc_ids": _encode_ids(doc_ids),
            "doc_hashes": _encode_hashes(task.doc_hashes, doc_ids),
            "metrics": metrics,
            "subgroups": _encode_subgroups(task, doc_ids),
            "examples": {
                str(doc): [ex.prompt, ex.target, ex.response]
                for doc, ex in sorted(task.examples.items())
            },
        }
    return tasks


def _task_head(task: TaskResult) -> Json:
    return {
        "n": task.n,
        "version": task.version,
        "num_fewshot": task.num_fewshot,
        "task_hash": task.task_hash,
    }


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


def _encode_subgroups(task: TaskResult, doc_ids: tuple[int, ...]) -> Json | None:
    """Subgroup names once, then one uint16 code per doc (0xFFFF: none)."""
    if not task.subgroups:
        return None
    names = sorted(set(task.subgroups.values()))
    code = {name: i for i, name in enumerate(names)}
    codes = [code.get(task.subgroups.get(doc, ""), 0xFFFF) for doc in doc_ids]
    return {"names": names, "codes": _b64(np.asarray(codes, dtype="<u2").tobytes())}


def _decode_subgroups(blob: object, doc_ids: tuple[int, ...], what: str) -> dict[int, str]:
    if blob is None:
        return {}
    if not isinstance(blob, Mapping) or not isinstance(blob.get("names"), list):
        raise RecordError(f"{what}: expected an object with names and codes")
    names = [str(n) for n in blob["names"]]
    raw = _unb64(blob.get("codes"), f"{what}.codes")
    if len(raw) != 2 * len(doc_ids):
        raise RecordError(f"{what}.codes: {len(raw)} bytes for {len(doc_ids)} docs")
    groups = {}
    for doc, code in zip(doc_ids, np.frombuffer(raw, dtype="<u2").tolist(), strict=True):
        if code != 0xFFFF:
            if code >= len(names):
                raise RecordError(f"{what}.codes: code {code} names no subgroup")
            groups[doc] = names[code]
    return groups


def _decode_examples(blob: object, what: str) -> dict[int, Example]:
    examples = {}
    for doc, texts in _object(blob, what).items():
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
        ids = _decode_ids(entry["doc_ids"], f"{at}.doc_ids") if "doc_ids" in entry else doc_ids
        if len(ids) != len(scores):
            raise RecordError(f"{at}: {len(scores)} scores for {len(ids)} doc ids")
    direction = entry.get("higher_is_better")
    return MetricResult(
        task=name,
        key=key,
        value=_number_or_nan(entry.get("value"), f"{at}.value"),
        stderr=_optional_number(entry.get("stderr"), f"{at}.stderr"),
        n=_field(entry, "n", (int,), at),
        higher_is_better=direction if isinstance(direction, bool) else None,
        doc_ids=ids,
        scores=scores,
    )


def _decode_task(name: str, data: object, where: str) -> TaskResult:
    if not isinstance(data, Mapping):
        raise RecordError(f"{where}: expected an object")
    doc_ids = _decode_ids(data.get("doc_ids", ""), f"{where}.doc_ids")
    metrics_data = _field(data, "metrics", (dict,), where)
    metrics = {
        key: _decode_metric(name, key, entry, doc_ids, f"{where}.metrics.{key}")
        for key, entry in metrics_data.items()
    }
    version, n_shot, task_hash = data.get("version"), data.get("num_fewshot"), data.get("task_hash")
    return TaskResult(
        name=name,
        metrics=metrics,
        n=_field(data, "n", (int,), where),
        version=None if version is None else str(version),
        num_fewshot=n_shot if isinstance(n_shot, int) and not isinstance(n_shot, bool) else None,
        task_hash=task_hash if isinstance(task_hash, str) else None,
        doc_hashes=_decode_hashes(data.get("doc_hashes"), doc_ids, f"{where}.doc_hashes"),
        subgroups=_decode_subgroups(data.get("subgroups"), doc_ids, f"{where}.subgroups"),
        examples=_decode_examples(data.get("examples"), f"{where}.examples"),
        output_type=_optional_str(data.get("output_type"), f"{where}.output_type"),
        chance=_optional_number(data.get("chance"), f"{where}.chance"),
        prompt_hashes=_decode_hashes(data.get("prompt_hashes"), doc_ids, f"{where}.prompt_hashes"),
    )


def decode_run(tasks: object, info: RunInfo | None = None, what: str = "tasks") -> EvalRun:
    if not isinstance(tasks, Mapping):
        raise RecordError(f"{what}: expected an object")
    decoded = {name: _decode_task(name, data, f"{what}.{name}") for name, data in tasks.items()}
    return EvalRun(decoded, info or RunInfo())


def encode_info(info: RunInfo) -> Json:
    data: Json = {
        "backend": info.backend,
        "device": info.device,
        "dtype": info.dtype,
        "batch_size": info.batch_size,
    }
    if info.gpus:
        data["gpus"] = list(info.gpus)
    if info.groups:
        data["groups"] = {group: list(children) for group, children in info.groups.items()}
    if info.from_cache:
        data["result_cache"] = "hit"
    if info.prompt is not None:
        data["prompt"] = encode_prompt(info.prompt)
    if info.throughput:
        data["throughput"] = _encode_throughput(info.throughput)
    if info.scoring:
        data["scoring"] = dict(info.scoring)
    return data


def _encode_throughput(figures: Sequence[Throughput]) -> list[Json]:
    return [
        {"kind": t.kind, "requests": t.requests, "tokens": t.tokens, "seconds": t.seconds}
        for t in figures
    ]


def _named_objects(value: object, what: str, key: str) -> list[tuple[str, Mapping[str, Any], str]]:
    """A list of objects each named by ``key``: (name, object, where) for each."""
    if value is None:
        return []
    if not isinstance(value, list):
        raise RecordError(f"{what}: expected a list")
    found = []
    for i, item in enumerate(value):
        where = f"{what}[{i}]"
        entry = _object(item, where)
        name = _optional_str(entry.get(key), f"{where}.{key}")
        if name is None:
            raise RecordError(f"{where}.{key}: missing")
        found.append((name, entry, where))
    return found


def _throughput(value: object, what: str) -> tuple[Throughput, ...]:
    return tuple(
        Throughput(
            kind,
            _optional_int(entry.get("requests"), f"{where}.requests") or 0,
            _optional_int(entry.get("tokens"), f"{where}.tokens") or 0,
            _number_or_nan(entry.get("seconds"), f"{where}.seconds"),
        )
        for kind, entry, where in _named_objects(value, what, "kind")
    )


def decode_info(data: object, what: str = "info") -> RunInfo:
    info = _object(data, what)
    batch = info.get("batch_size")
    return RunInfo(
        backend=_optional_str(info.get("backend"), f"{what}.backend"),
        device=_optional_str(info.get("device"), f"{what}.device"),
        dtype=_optional_str(info.get("dtype"), f"{what}.dtype"),
        batch_size=batch if isinstance(batch, (int, str)) and not isinstance(batch, bool) else None,
        gpus=_strings(info.get("gpus"), f"{what}.gpus"),
        groups=_groups(info.get("groups"), f"{what}.groups"),
        from_cache=info.get("result_cache") == "hit",
        prompt=None
        if info.get("prompt") is None
        else decode_prompt(info["prompt"], f"{what}.prompt"),
        throughput=_throughput(info.get("throughput"), f"{what}.throughput"),
        scoring=_string_map(info.get("scoring"), f"{what}.scoring"),
    )


def _string_map(value: object, what: str) -> dict[str, str]:
    """A table of strings by name (absent in records written before it existed: empty)."""
    if value is None:
        return {}
    table = _object(value, what)
    return {str(k): _optional_str(v, f"{what}.{k}") or "" for k, v in table.items()}


def encode_prompt(prompt: PromptInfo) -> Json:
    return {
        "chat_template": prompt.chat_template,
        "system_instruction": prompt.system_instruction,
        "fewshot_as_multiturn": prompt.fewshot_as_multiturn,
        "gen_kwargs": dict(prompt.gen_kwargs),
        "add_bos_token": prompt.add_bos_token,
        "tokenizer_adds_bos": prompt.tokenizer_adds_bos,
    }


def _optional_bool(value: object, what: str) -> bool | None:
    if value is not None and not isinstance(value, bool):
        raise RecordError(f"{what}: expected true, false or null")
    return value


def decode_prompt(data: object, what: str) -> PromptInfo:
    prompt = _object(data, what)
    gen_kwargs = _object(prompt.get("gen_kwargs"), f"{what}.gen_kwargs")
    if not all(isinstance(v, (str, int, float, bool)) for v in gen_kwargs.values()):
        raise RecordError(f"{what}.gen_kwargs: expected strings, numbers or booleans")
    return PromptInfo(
        chat_template=_optional_str(prompt.get("chat_template"), f"{what}.chat_template"),
        system_instruction=_optional_str(
            prompt.get("system_instruction"), f"{what}.system_instruction"
        ),
        fewshot_as_multiturn=prompt.get("fewshot_as_multiturn") is True,
        gen_kwargs=dict(gen_kwargs),
        add_bos_token=_optional_bool(prompt.get("add_bos_token"), f"{what}.add_bos_token"),
        tokenizer_adds_bos=_optional_bool(
            prompt.get("tokenizer_adds_bos"), f"{what}.tokenizer_adds_bos"
        ),
    )


def _strings(value: object, what: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise RecordError(f"{what}: expected a list of strings")
    return tuple(value)


def _groups(value: object, what: str) -> dict[str, tuple[str, ...]]:
    return {str(k): _strings(v, f"{what}.{k}") for k, v in _object(value, what).items()}


# -- manifest ----------------------------------------------------------------------------------
def encode_manifest(manifest: Manifest) -> Json:
    checkpoint: Json = {
        "id": manifest.checkpoint.id,
        "kind": manifest.checkpoint.kind,
        "fingerprint": manifest.checkpoint.fingerprint,
    }
    if manifest.checkpoint.files is not None:
        checkpoint["files"] = list(manifest.checkpoint.files)
    model = manifest.model
    suite = manifest.suite
    return {
        "run_id": manifest.run_id,
        "timestamp": manifest.timestamp,
        "git": {
            "commit": manifest.git.commit,
            "branch": manifest.git.branch,
            "dirty": manifest.git.dirty,
            **({"head": manifest.git.head} if manifest.git.head is not None else {}),
        },
        "checkpoint": checkpoint,
        "config": {"path": manifest.config.path, "hash": manifest.config.hash},
        "suite": {
            "name": suite.name,
            "sample": suite.sample,
            "seed": suite.seed,
            "num_fewshot": _plain(suite.num_fewshot),
            **({} if suite.shard is None else {"shard": list(suite.shard)}),
        },
        "tasks": {
            name: {
                "version": t.version,
                "task_hash": t.task_hash,
                "num_fewshot": t.num_fewshot,
                "n": t.n,
                "subset": t.subset,
                "docs": t.docs,
                **({} if t.scoring is None else {"scoring": t.scoring}),
            }
            for name, t in manifest.tasks.items()
        },
        "model": {
            "backend": model.backend,
            "dtype": model.dtype,
            "device": model.device,
            "gpus": list(model.gpus),
            "batch_size": model.batch_size,
            "model_args": _plain(dict(model.model_args)),
            "chat_template": model.chat_template,
        },
        "versions": {
            "python": manifest.versions.python,
            "pytest_mlgate": manifest.versions.pytest_mlgate,
            "lm_eval": manifest.versions.lm_eval,
            "torch": manifest.versions.torch,
            "transformers": manifest.versions.transformers,
        },
        "platform": manifest.platform,
        "groups": {group: list(children) for group, children in manifest.groups.items()},
        "seeds": {
            "subset": manifest.seeds.subset,
            "random": manifest.seeds.random,
            "numpy": manifest.seeds.numpy,
            "torch": manifest.seeds.torch,
            "fewshot": manifest.seeds.fewshot,
        },
        # Added after schema 1 was first written: absent while it holds the defaults.
        **({} if manifest.prompt == PromptInfo() else {"prompt": encode_prompt(manifest.prompt)}),
        **(
            {"determinism": [_encode_determinism(d) for d in manifest.determinism]}
            if manifest.determinism
            else {}
        ),
        **({"throughput": _encode_throughput(manifest.throughput)} if manifest.throughput else {}),
        **({} if manifest.latency is None else {"latency": _encode_latency(manifest.latency)}),
    }


def _encode_latency(latency: Latency) -> Json:
    return {
        "samples_ms": [round(x, 4) for x in latency.samples_ms],
        "max_new_tokens": latency.max_new_tokens,
        "hardware": latency.hardware,
        "seconds": latency.seconds,
    }


def _latency(value: object, what: str) -> Latency | None:
    if value is None:
        return None
    data = _object(value, what)
    samples = data.get("samples_ms")
    if not isinstance(samples, list) or not all(
        isinstance(x, (int, float)) and not isinstance(x, bool) for x in samples
    ):
        raise RecordError(f"{what}.samples_ms: expected a list of numbers")
    return Latency(
        tuple(float(x) for x in samples),
        _optional_int(data.get("max_new_tokens"), f"{what}.max_new_tokens") or 0,
        _optional_str(data.get("hardware"), f"{what}.hardware") or "",
        _optional_number(data.get("seconds"), f"{what}.seconds") or 0.0,
    )


def _encode_determinism(figures: Determinism) -> Json:
    return {
        "task": figures.task,
        "n": figures.n,
        "agreeing": figures.agreeing,
        "passes": list(figures.passes),
        "max_loglik_diff": finite_or_none(figures.max_loglik_diff),
    }


def _determinism(value: object, what: str) -> tuple[Determinism, ...]:
    return tuple(
        Determinism(
            task,
            _optional_int(entry.get("n"), f"{where}.n") or 0,
            _optional_int(entry.get("agreeing"), f"{where}.agreeing") or 0,
            _strings(entry.get("passes"), f"{where}.passes"),
            _optional_number(entry.get("max_loglik_diff"), f"{where}.max_loglik_diff"),
        )
        for task, entry, where in _named_objects(value, what, "task")
    )


def _part(data: Mapping[str, Any], key: str, build: Callable[[Mapping[str, Any], str], T]) -> T:
    """One object-valued part of the manifest, decoded (its absence gives the defaults)."""
    what = f"manifest.{key}"
    return build(_object(data.get(key), what), what)


def _git(data: Mapping[str, Any], what: str) -> GitState:
    dirty = data.get("dirty")
    if dirty is not None and not isinstance(dirty, bool):
        raise RecordError(f"{what}.dirty: expected true, false or null")
    return GitState(
        _optional_str(data.get("commit"), f"{what}.commit"),
        _optional_str(data.get("branch"), f"{what}.branch"),
        dirty,
        _optional_str(data.get("head"), f"{what}.head"),
    )


def _checkpoint(data: Mapping[str, Any], what: str) -> CheckpointInfo:
    files = data.get("files")
    return CheckpointInfo(
        _optional_str(data.get("id"), f"{what}.id") or "",
        _optional_str(data.get("kind"), f"{what}.kind") or "",
        _optional_str(data.get("fingerprint"), f"{what}.fingerprint") or "",
        None if files is None else _strings(files, f"{what}.files"),
    )


def _fewshot(value: object, what: str) -> int | dict[str, int] | None:
    if isinstance(value, Mapping):
        if not all(isinstance(v, int) and not isinstance(v, bool) for v in value.values()):
            raise RecordError(f"{what}: expected integers")
        return {str(k): int(v) for k, v in value.items()}
    return _optional_int(value, what)


def _suite(data: Mapping[str, Any], what: str) -> SuiteInfo:
    shard = data.get("shard")
    if shard is not None and not (
        isinstance(shard, list) and len(shard) == 2 and all(type(x) is int for x in shard)
    ):
        raise RecordError(f"{what}.shard: expected [K, N]")
    return SuiteInfo(
        _optional_str(data.get("name"), f"{what}.name") or "",
        _optional_int(data.get("sample"), f"{what}.sample"),
        _optional_int(data.get("seed"), f"{what}.seed"),
        _fewshot(data.get("num_fewshot"), f"{what}.num_fewshot"),
        None if shard is None else (shard[0], shard[1]),
    )


def _task_info(data: object, what: str) -> TaskInfo:
    task = _object(data, what)
    version = task.get("version")
    return TaskInfo(
        version=None if version is None else str(version),
        task_hash=_optional_str(task.get("task_hash"), f"{what}.task_hash"),
        num_fewshot=_optional_int(task.get("num_fewshot"), f"{what}.num_fewshot"),
        n=_optional_int(task.get("n"), f"{what}.n") or 0,
        subset=_optional_str(task.get("subset"), f"{what}.subset") or "",
        docs=_optional_str(task.get("docs"), f"{what}.docs"),
        scoring=_optional_str(task.get("scoring"), f"{what}.scoring"),
    )


def _model(data: Mapping[str, Any], what: str) -> ModelInfo:
    batch = data.get("batch_size")
    if batch is not None and (isinstance(batch, bool) or not isinstance(batch, (int, str))):
        raise RecordError(f"{what}.batch_size: expected an integer, a string or null")
    return ModelInfo(
        backend=_optional_str(data.get("backend"), f"{what}.backend") or "",
        dtype=_optional_str(data.get("dtype"), f"{what}.dtype"),
        device=_optional_str(data.get("device"), f"{what}.device"),
        gpus=_strings(data.get("gpus"), f"{what}.gpus"),
        batch_size=batch,
        model_args=dict(_object(data.get("model_args"), f"{what}.model_args")),
        chat_template=data.get("chat_template") is True,
    )


def _versions(data: Mapping[str, Any], what: str) -> Versions:
    def text(key: str) -> str | None:
        return _optional_str(data.get(key), f"{what}.{key}")

    return Versions(
        text("python"), text("pytest_mlgate"), text("lm_eval"), text("torch"), text("transformers")
    )


def _seeds(data: Mapping[str, Any], what: str) -> Seeds:
    def seed(key: str) -> int | None:
        return _optional_int(data.get(key), f"{what}.{key}")

    return Seeds(seed("subset"), seed("random"), seed("numpy"), seed("torch"), seed("fewshot"))


def decode_manifest(data: object, run_id: str) -> Manifest:
    """A record's manifest; ``run_id`` is the record's (a manifest must not name another)."""
    manifest = _object(data, "manifest")
    if not isinstance(manifest.get("timestamp"), str):
        raise RecordError("manifest.timestamp: missing")
    named = manifest.get("run_id", run_id)
    if named != run_id:
        raise RecordError(f"manifest.run_id: {named!r} is not the record's run id {run_id!r}")
    platform = manifest.get("platform")
    return Manifest(
        run_id=run_id,
        timestamp=manifest["timestamp"],
        git=_part(manifest, "git", _git),
        checkpoint=_part(manifest, "checkpoint", _checkpoint),
        config=_part(
            manifest,
            "config",
            lambda d, w: ConfigInfo(
                _optional_str(d.get("path"), f"{w}.path") or "",
                _optional_str(d.get("hash"), f"{w}.hash") or "",
            ),
        ),
        suite=_part(manifest, "suite", _suite),
        tasks={
            str(name): _task_info(task, f"manifest.tasks.{name}")
            for name, task in _object(manifest.get("tasks"), "manifest.tasks").items()
        },
        model=_part(manifest, "model", _model),
        versions=_part(manifest, "versions", _versions),
        platform=platform if isinstance(platform, str) else "",
        groups=_groups(manifest.get("groups"), "manifest.groups"),
        seeds=_part(manifest, "seeds", _seeds),
        prompt=decode_prompt(manifest.get("prompt"), "manifest.prompt"),
        determinism=_determinism(manifest.get("determinism"), "manifest.determinism"),
        throughput=_throughput(manifest.get("throughput"), "manifest.throughput"),
        latency=_latency(manifest.get("latency"), "manifest.latency"),
    )


def manifest_text(manifest: Manifest) -> str:
    """The manifest as the report shows it: indented JSON, sorted keys."""
    return json.dumps(encode_manifest(manifest), indent=2, sort_keys=True, ensure_ascii=False)


# -- verdicts ----------------------------------------------------------------------------------
def encode_verdict(verdict: Verdict) -> Json:
    threshold, c = verdict.threshold, verdict.comparison
    data: Json = {
        "task": threshold.task,
        "metric": threshold.metric,
        "status": verdict.status.value,
        "reason": verdict.reason,
        "value": finite_or_none(verdict.value),
        "n": verdict.n,
        "min": threshold.min,
        "max": threshold.max,
        "max_drop": threshold.max_drop,
        "baseline_run": verdict.baseline_run,
        "baseline": None if c is None else finite_or_none(c.baseline),
        "delta": None if c is None else finite_or_none(c.delta),
        "delta_ci": None if c is None else [finite_or_none(x) for x in c.ci],
        "p_value": None if c is None else finite_or_none(c.p_value),
        "p_adjusted": finite_or_none(verdict.p_adjusted),
        "test": None if c is None else c.test,
        "paired_n": None if c is None else c.n,
        "notes": list(verdict.notes),
    }
    # Added after schema 1 was first written: present only when they say something.
    data.update(_threshold_extras(threshold))
    if verdict.value_ci is not None:
        data["value_ci"] = [finite_or_none(x) for x in verdict.value_ci]
    if verdict.caveats:
        data["caveats"] = [[kind.value, message] for kind, message in verdict.caveats]
    if verdict.trend is not None:
        s, p, runs = verdict.trend
        data["trend"] = [finite_or_none(s), finite_or_none(p), runs]
    if verdict.reference is not None:
        data["reference"] = _encode_comparison(*verdict.reference)
    return data


def _encode_comparison(c: stats.Comparison, p_adjusted: float) -> Json:
    return {
        "baseline": finite_or_none(c.baseline),
        "delta": finite_or_none(c.delta),
        "delta_ci": [finite_or_none(x) for x in c.ci],
        "p_value": finite_or_none(c.p_value),
        "p_adjusted": finite_or_none(p_adjusted),
        "test": c.test,
        "paired_n": c.n,
    }


def _decode_reference(
    data: object, value: float | None, what: str
) -> tuple[stats.Comparison, float] | None:
    if data is None:
        return None
    head = _object(data, what)
    comparison = _decode_comparison(head, value, what)
    if comparison is None:
        raise RecordError(f"{what}: expected the test it ran")
    return comparison, _number_or_nan(head.get("p_adjusted"), f"{what}.p_adjusted")


_THRESHOLD_DEFAULTS = MetricThreshold("", "")
# The config's optional threshold keys (min / max / max_drop are encoded with the verdict's
# bounds), plus the subgroup an item is gated on.
THRESHOLD_EXTRAS = (
    *(key for key in THRESHOLD_KEYS if key not in ("min", "max", "max_drop")),
    "subgroup",
)


def _threshold_extras(threshold: MetricThreshold) -> Json:
    return {
        key: getattr(threshold, key)
        for key in THRESHOLD_EXTRAS
        if getattr(threshold, key) != getattr(_THRESHOLD_DEFAULTS, key)
    }


def _decode_threshold(
    verdict: Mapping[str, Any], task: str, metric: str, what: str
) -> MetricThreshold:
    direction = verdict.get("higher_is_better")
    subgroups = verdict.get("subgroups", False)
    least = _optional_int(verdict.get("min_subgroup_n"), f"{what}.min_subgroup_n")
    return MetricThreshold(
        task,
        metric,
        _optional_number(verdict.get("min"), f"{what}.min"),
        _optional_number(verdict.get("max"), f"{what}.max"),
        _optional_number(verdict.get("max_drop"), f"{what}.max_drop"),
        direction if isinstance(direction, bool) else None,
        subgroups=subgroups is True,
        min_subgroup=_optional_number(verdict.get("min_subgroup"), f"{what}.min_subgroup"),
        max_disparity=_optional_number(verdict.get("max_disparity"), f"{what}.max_disparity"),
        min_subgroup_n=_THRESHOLD_DEFAULTS.min_subgroup_n if least is None else least,
        max_gap=_optional_number(verdict.get("max_gap"), f"{what}.max_gap"),
        max_drift=_optional_number(verdict.get("max_drift"), f"{what}.max_drift"),
        subgroup=_optional_str(verdict.get("subgroup"), f"{what}.subgroup"),
    )


def _pair(value: object, what: str) -> tuple[float, float] | None:
    if value is None:
        return None
    if not isinstance(value, list) or len(value) != 2:
        raise RecordError(f"{what}: expected [low, high]")
    return (_number_or_nan(value[0], what), _number_or_nan(value[1], what))


def decode_verdict(data: object, what: str) -> Verdict:
    verdict = _object(data, what)
    task, metric = verdict.get("task"), verdict.get("metric")
    if not isinstance(task, str) or not isinstance(metric, str):
        raise RecordError(f"{what}: expected the task and metric it gated")
    try:
        status = Status(verdict.get("status"))
    except ValueError:
        raise RecordError(f"{what}.status: expected pass, warn or fail") from None
    threshold = _decode_threshold(verdict, task, metric, what)
    value = _optional_number(verdict.get("value"), f"{what}.value")
    notes = verdict.get("notes", [])
    return Verdict(
        threshold=threshold,
        status=status,
        reason=_optional_str(verdict.get("reason"), f"{what}.reason") or "",
        value=value,
        n=_optional_int(verdict.get("n"), f"{what}.n"),
        value_ci=_pair(verdict.get("value_ci"), f"{what}.value_ci"),
        baseline_run=_optional_str(verdict.get("baseline_run"), f"{what}.baseline_run"),
        comparison=_decode_comparison(verdict, value, what),
        p_adjusted=_optional_number(verdict.get("p_adjusted"), f"{what}.p_adjusted"),
        notes=_strings(notes, f"{what}.notes"),
        caveats=_caveats(verdict.get("caveats"), f"{what}.caveats"),
        trend=_trend(verdict.get("trend"), f"{what}.trend"),
        reference=_decode_reference(verdict.get("reference"), value, f"{what}.reference"),
    )


def _trend(value: object, what: str) -> tuple[float, float, int] | None:
    if value is None:
        return None
    if not (isinstance(value, list) and len(value) == 3 and isinstance(value[2], int)):
        raise RecordError(f"{what}: expected [S, p, runs]")
    return (_number_or_nan(value[0], what), _number_or_nan(value[1], what), value[2])


def _caveats(value: object, what: str) -> tuple[tuple[Caveat, str], ...]:
    if value is None:
        return ()
    if not isinstance(value, list):
        raise RecordError(f"{what}: expected a list of [kind, message]")
    found = []
    for entry in value:
        if not (isinstance(entry, list) and len(entry) == 2 and isinstance(entry[1], str)):
            raise RecordError(f"{what}: expected [kind, message] pairs")
        try:
            found.append((Caveat(entry[0]), entry[1]))
        except ValueError:
            raise RecordError(f"{what}: unknown kind {entry[0]!r}") from None
    return tuple(found)


def _decode_comparison(
    verdict: Mapping[str, Any], value: float | None, what: str
) -> stats.Comparison | None:
    test = _optional_str(verdict.get("test"), f"{what}.test")
    if test is None:
        return None
    return stats.Comparison(
        test=test,
        paired=test in stats.PAIRED_TESTS,
        n=_optional_int(verdict.get("paired_n"), f"{what}.paired_n") or 0,
        baseline=_number_or_nan(verdict.get("baseline"), f"{what}.baseline"),
        value=math.nan if value is None else value,
        delta=_number_or_nan(verdict.get("delta"), f"{what}.delta"),
        ci=_pair(verdict.get("delta_ci"), f"{what}.delta_ci") or (math.nan, math.nan),
        p_value=_number_or_nan(verdict.get("p_value"), f"{what}.p_value"),
    )


# -- records -----------------------------------------------------------------------------------
def encode_outcome(outcome: GateOutcome) -> Json:
    return {
        "schema_version": SCHEMA_VERSION,
        "run_id": outcome.run_id,
        "manifest": encode_manifest(outcome.manifest),
        "verdicts": [encode_verdict(v) for v in outcome.verdicts],
        "tasks": encode_run(outcome.run),
    }


def dumps_outcome(outcome: GateOutcome) -> str:
    """A history record's text: sorted keys, so equal records are equal bytes."""
    return json.dumps(encode_outcome(outcome), ensure_ascii=False, allow_nan=False, sort_keys=True)


def decode_outcome(data: object) -> GateOutcome:
    if not isinstance(data, Mapping):
        raise RecordError("expected a JSON object")
    version = data.get("schema_version")
    if not isinstance(version, int) or isinstance(version, bool):
        raise RecordError("schema_version: missing")
    if version > SCHEMA_VERSION:
        raise RecordError(
            f"schema_version {version} is newer than this pytest-mlgate reads "
            f"({SCHEMA_VERSION}): upgrade pytest-mlgate"
        )
    run_id = data.get("run_id")
    if not isinstance(run_id, str):
        raise RecordError("run_id: missing")
    manifest = decode_manifest(data.get("manifest"), run_id)
    verdicts = data.get("verdicts", [])
    if not isinstance(verdicts, list):
        raise RecordError("verdicts: expected a list of objects")
    return GateOutcome(
        run=decode_run(data.get("tasks")),
        verdicts=tuple(decode_verdict(v, f"verdicts[{i}]") for i, v in enumerate(verdicts)),
        manifest=manifest,
    )


def loads_outcome(text: str) -> GateOutcome:
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise RecordError(f"not valid JSON: {exc}") from None
    return decode_outcome(data)


def gate_document(
    outcome: GateOutcome, items: Sequence[str], *, suite: str, checkpoint: str, config: str
) -> Json:
    """``--mlgate-json``: verdicts (each with its item's node id), manifest and results."""
    return {
        "schema_version": SCHEMA_VERSION,
        "suite": suite,
        "checkpoint": checkpoint,
        "config": config,
        "passed": outcome.passed,
        "verdicts": [
            {"item": item, **encode_verdict(v)}
            for item, v in zip(items, outcome.verdicts, strict=True)
        ],
        "manifest": encode_manifest(outcome.manifest) if outcome.run.tasks else None,
        "results": plain_run(outcome.run),
    }


# -- index entries -----------------------------------------------------------------------------
def encode_entry(entry: IndexEntry) -> Json:
    return {
        "run_id": entry.run_id,
        "timestamp": entry.timestamp,
        "branch": entry.branch,
        "commit": entry.commit,
        "suite": entry.suite,
        "checkpoint": entry.checkpoint,
        "tasks": None if entry.tasks is None else list(entry.tasks),
        "fingerprint": entry.fingerprint,
        "status": entry.status,
        "partial": entry.partial,
    }


def decode_entry(data: object) -> IndexEntry:
    """One index line; tolerant of entries written before a field existed."""
    if not isinstance(data, Mapping) or not isinstance(data.get("run_id"), str):
        raise RecordError("index entry: expected an object with a run_id")
    if not isinstance(data.get("timestamp"), str):
        raise RecordError("index entry: expected a timestamp")

    def text(key: str) -> str | None:
        value = data.get(key)
        return value if isinstance(value, str) else None

    tasks = data.get("tasks")
    return IndexEntry(
        run_id=data["run_id"],
        timestamp=data["timestamp"],
        branch=text("branch"),
        commit=text("commit"),
        suite=text("suite"),
        checkpoint=text("checkpoint"),
        tasks=tuple(str(t) for t in tasks) if isinstance(tasks, list) else None,
        fingerprint=text("fingerprint"),
        status=text("status"),
        partial=data.get("partial") is True,
    )
