"""``thresholds.toml`` -> frozen dataclasses, with validation that names file, table, key, value.

Plain Python: no pytest, no lm-eval. The plugin turns :class:`ConfigError` into a pytest usage
error (exit code 4); the CLI prints it and exits 4 too. The dataclasses, their keys and
defaults are declared in :mod:`pytest_mlgate.config.schema`.
"""

from __future__ import annotations

import dataclasses
import math
import sys
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from pytest_mlgate.config.schema import (
    DETERMINISM_KEYS,
    DTYPES,
    GATE_KEYS,
    LATENCY_BOUND_KEYS,
    LATENCY_GATES,
    LATENCY_SUITE_KEYS,
    MODEL_KEYS,
    PERTURBATIONS,
    PRESETS,
    REPORT_KEYS,
    SCORING_PATHS,
    SEQUENTIAL_KEYS,
    SEQUENTIAL_LOOKS,
    SUITE_KEYS,
    TASKS_KEYS,
    THRESHOLD_KEYS,
    TOP_LEVEL_KEYS,
    TRIGGER_KEYS,
    VARIANT_MARK,
    WANDB_KEYS,
    Check,
    Choice,
    DeterminismConfig,
    GateConfig,
    Integer,
    LatencyBound,
    LatencyConfig,
    MetricThreshold,
    MlgateConfig,
    ModelConfig,
    Number,
    ReportConfig,
    SequentialConfig,
    SuiteConfig,
    TriggerConfig,
    WandbConfig,
    looks_problem,
    parse_model_uri,
    suggest,
)
from pytest_mlgate.errors import ConfigError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on 3.10 only
    import tomli as tomllib

__all__ = ["ConfigError", "load_config"]


class _Table:
    """A TOML table being validated: tracks its dotted name so every error can say where."""

    def __init__(self, path: Path, name: str, data: Mapping[str, Any]) -> None:
        self.path = path
        self.name = name
        self.data = data

    def error(self, key: str | None, problem: str) -> ConfigError:
        where = f"[{self.name}]" if self.name else "top level"
        if key is not None:
            value = self.data.get(key, "<missing>")
            where += f" {_toml_key(key)} = {_render(value)}"
        return ConfigError(f"{self.path}: {where}: {problem}")

    def check_keys(self, allowed: Iterable[str]) -> None:
        allowed = list(allowed)
        for key in self.data:
            if key not in allowed:
                where = f"[{self.name}]" if self.name else "top level"
                raise ConfigError(
                    f"{self.path}: {where}: unknown key {key!r}.{suggest(key, allowed)}"
                    f" Allowed keys: {', '.join(allowed)}."
                )

    def sub(self, key: str) -> _Table:
        value = self.data.get(key, {})
        if not isinstance(value, Mapping):
            raise self.error(key, f"expected a table, got {_type_name(value)}")
        name = f"{self.name}.{_toml_key(key)}" if self.name else _toml_key(key)
        return _Table(self.path, name, value)

    def string(self, key: str, default: str, choices: tuple[str, ...] = ()) -> str:
        value = self.data.get(key, default)
        if not isinstance(value, str):
            raise self.error(key, f"expected a string, got {_type_name(value)}")
        if choices and value not in choices:
            raise self.error(key, f"must be one of {', '.join(choices)}.{suggest(value, choices)}")
        return value

    def optional_string(self, key: str) -> str | None:
        return self.string(key, "") or None if key in self.data else None

    def number(
        self,
        key: str,
        default: float | None,
        *,
        low: float | None = None,
        high: float | None = None,
        low_open: bool = False,
        high_open: bool = False,
    ) -> float | None:
        value = self.data.get(key, default)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise self.error(key, f"expected a number, got {_type_name(value)}")
        value = float(value)
        if math.isnan(value) or math.isinf(value):
            raise self.error(key, "must be a finite number")
        too_low = low is not None and (value <= low if low_open else value < low)
        too_high = high is not None and (value >= high if high_open else value > high)
        if too_low or too_high:
            left = "(" if low_open else "["
            right = ")" if high_open else "]"
            lo = "-inf" if low is None else f"{low:g}"
            hi = "inf" if high is None else f"{high:g}"
            raise self.error(key, f"must be in {left}{lo}, {hi}{right}")
        return value

    def integer(self, key: str, default: int | None, *, low: int = 0) -> int | None:
        value = self.data.get(key, default)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.error(key, f"expected an integer, got {_type_name(value)}")
        if value < low:
            raise self.error(key, f"must be >= {low}")
        return value

    def string_list(self, key: str) -> tuple[str, ...]:
        value = self.data.get(key, [])
        if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
            raise self.error(key, "expected a list of non-empty strings")
        return tuple(value)


def _toml_key(key: str) -> str:
    bare = key.replace("_", "").replace("-", "").isalnum() and key.isascii()
    return key if bare else f'"{key}"'


def _render(value: object) -> str:
    if isinstance(value, str):
        return f'"{value}"'
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Mapping):
        return "{...}"
    return repr(value)


def _type_name(value: object) -> str:
    names = {bool: "a boolean", int: "an integer", float: "a number", str: "a string"}
    for kind, name in names.items():
        if type(value) is kind:
            return f"{name} ({_render(value)})"
    if isinstance(value, Mapping):
        return "a table"
    if isinstance(value, list):
        return "a list"
    return type(value).__name__


def load_config(path: Path) -> MlgateConfig:
    """Read and validate ``path``; raise :class:`ConfigError` on any problem."""
    path = path.resolve()
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8-sig"))  # a BOM is legal UTF-8
    except FileNotFoundError:
        raise ConfigError(
            f"{path}: no such file. Create it with `mlgate init` or pass --mlgate-config."
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot be read: {exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    return parse_config(raw, path)


def parse_config(raw: Mapping[str, Any], path: Path) -> MlgateConfig:
    top = _Table(path, "", raw)
    top.check_keys(TOP_LEVEL_KEYS)
    model = _parse_model(top.sub("model"))
    include = _parse_include(top.sub("tasks"), path.parent)
    suites = _parse_suites(top.sub("suites"))
    gate = _parse_gate(top.sub("gate"))
    thresholds = _parse_thresholds(top.sub("thresholds"))
    report_table = top.sub("report")
    report_table.check_keys(REPORT_KEYS)
    metrics = report_table.optional_string("metrics")
    wandb = _parse_wandb(report_table) if "wandb" in report_table.data else None
    report = ReportConfig(**read_settings(report_table, ReportConfig), metrics=metrics, wandb=wandb)
    trigger_table = top.sub("triggers")
    trigger_table.check_keys(TRIGGER_KEYS)
    triggers = TriggerConfig()  # what an empty [triggers] parses to
    if trigger_table.data:  # the matcher's module only where the table is written
        from pytest_mlgate.config.triggers import parse_triggers

        try:
            triggers = parse_triggers(trigger_table.data, suites)
        except ValueError as exc:
            raise ConfigError(f"{path}: {exc}") from None
    latency = _parse_latency_bounds(top, suites)
    config = MlgateConfig(path, model, include, suites, gate, thresholds, report, triggers, latency)
    _check_task_names(config)
    return config


def _parse_wandb(report: _Table) -> WandbConfig:
    table = report.sub("wandb")
    table.check_keys(WANDB_KEYS)
    project = table.optional_string("project")
    if project is None:
        raise table.error("project", 'is required: the W&B project to log to, e.g. "evals"')
    timeout = table.number("timeout", WandbConfig.timeout, low=0, low_open=True)
    assert timeout is not None
    return WandbConfig(project, table.optional_string("entity"), table.string_list("tags"), timeout)


def _parse_model(table: _Table) -> ModelConfig:
    table.check_keys(MODEL_KEYS)
    batch_size: int | str = "auto"
    if "batch_size" in table.data:
        value = table.data["batch_size"]
        if isinstance(value, bool) or not isinstance(value, (int, str)):
            raise table.error("batch_size", 'expected a positive integer or "auto"')
        if isinstance(value, int) and value < 1:
            raise table.error("batch_size", 'must be >= 1 (or "auto")')
        if isinstance(value, str) and not (value == "auto" or value.startswith("auto:")):
            raise table.error("batch_size", 'expected a positive integer, "auto" or "auto:N"')
        batch_size = value
    model_args = table.data.get("model_args", {})
    if not isinstance(model_args, Mapping):
        raise table.error("model_args", f"expected a table, got {_type_name(model_args)}")
    device = table.string("device", ModelConfig.device)
    if device != "auto" and not device.startswith(("cpu", "cuda", "mps", "xpu", "npu")):
        raise table.error("device", 'expected "auto", "cpu", "cuda", "cuda:N" or "mps"')
    d = ModelConfig()
    backend = table.string("backend", d.backend)
    if backend == "vllm":
        _check_vllm(table, dict(model_args), device)
    chat_template, multiturn = _parse_chat(table)
    system = table.data.get("system_instruction")
    if system is not None and not isinstance(system, str):
        raise table.error("system_instruction", f"expected a string, got {_type_name(system)}")
    return ModelConfig(
        checkpoint=table.optional_string("checkpoint"),
        backend=backend,
        dtype=table.string("dtype", d.dtype, DTYPES),
        device=device,
        batch_size=batch_size,
        model_args=dict(model_args),
        chat_template=chat_template,
        system_instruction=system,
        fewshot_as_multiturn=multiturn,
        gen_kwargs=_parse_gen_kwargs(table),
        scoring=table.string("scoring", d.scoring, SCORING_PATHS),
        threads=_parse_threads(table),
    )


def _parse_threads(table: _Table) -> int | None:
    value = table.data.get("threads")
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise table.error("threads", f"expected a positive integer, got {value!r}")
    return value


# lm-eval's vLLM model arguments checked here (the rest pass through to vllm.LLM unchanged).
VLLM_INT_ARGS = ("tensor_parallel_size", "data_parallel_size", "max_model_len", "seed")
VLLM_HF_ONLY = ("device_map", "parallelize", "max_memory_per_gpu", "offload_folder")


def _check_vllm(table: _Table, args: Mapping[str, Any], device: str) -> None:
    """``backend = "vllm"``: vLLM needs GPUs and takes its parallelism in ``model_args``."""
    if device.startswith(("cpu", "mps")):
        raise table.error("device", 'backend = "vllm" runs on CUDA GPUs: use "auto" or "cuda"')
    for key in VLLM_INT_ARGS:
        value = args.get(key)
        if value is not None and (
            isinstance(value, bool) or not isinstance(value, int) or value < 1
        ):
            raise table.error("model_args", f"{key} = {value!r}: expected an integer >= 1")
    memory = args.get("gpu_memory_utilization")
    if memory is not None and (
        isinstance(memory, bool) or not isinstance(memory, (int, float)) or not 0 < memory <= 1
    ):
        raise table.error("model_args", f"gpu_memory_utilization = {memory!r}: must be in (0, 1]")
    misplaced = [key for key in VLLM_HF_ONLY if key in args]
    if misplaced:
        raise table.error(
            "model_args",
            f"{', '.join(misplaced)}: transformers placement options; vLLM spreads a model with "
            "tensor_parallel_size (GPUs per copy) and data_parallel_size (copies)",
        )


def _parse_chat(table: _Table) -> tuple[bool | str, bool | None]:
    """``chat_template`` (false, true or a template's name) and ``fewshot_as_multiturn``."""
    template = table.data.get("chat_template", False)
    if not isinstance(template, (bool, str)) or template == "":
        raise table.error(
            "chat_template", "expected true, false or the name of one of the tokenizer's templates"
        )
    multiturn = table.data.get("fewshot_as_multiturn")
    if multiturn is not None and not isinstance(multiturn, bool):
        raise table.error("fewshot_as_multiturn", "expected true or false")
    if multiturn and template is False:
        raise table.error(
            "fewshot_as_multiturn",
            "few-shot examples as chat turns need a chat template: set chat_template = true "
            "(or a template's name), or remove fewshot_as_multiturn",
        )
    return template, multiturn


def _parse_gen_kwargs(table: _Table) -> dict[str, str | int | float | bool]:
    """Generation settings passed to lm-eval (e.g. ``{ temperature = 0, max_gen_toks = 64 }``)."""
    value = table.data.get("gen_kwargs", {})
    if not isinstance(value, Mapping):
        raise table.error("gen_kwargs", f"expected a table, got {_type_name(value)}")
    for key, setting in value.items():
        if not isinstance(setting, (str, int, float, bool)):
            raise table.error(
                "gen_kwargs", f"{key} = {_render(setting)}: expected a string, number or boolean"
            )
    return dict(value)


def _parse_include(table: _Table, root: Path) -> tuple[Path, ...]:
    table.check_keys(TASKS_KEYS)
    folders = []
    for entry in table.string_list("include"):
        folder = (root / entry).resolve()
        if not folder.is_dir():
            raise table.error("include", f"folder {entry!r} does not exist (looked in {folder})")
        folders.append(folder)
    return tuple(folders)


def _parse_suites(table: _Table) -> dict[str, SuiteConfig]:
    suites = {}
    for name in table.data:
        if name == "auto":
            raise ConfigError(
                f"{table.path}: [suites.auto]: 'auto' is reserved for --mlgate-suite auto "
                "(the tier chosen by what changed); name the suite otherwise"
            )
        suite = table.sub(name)
        suite.check_keys(SUITE_KEYS)
        tasks = _expand_presets(suite, suite.string_list("tasks"))
        if not tasks:
            raise suite.error("tasks", "a suite needs at least one task")
        if len(set(tasks)) != len(tasks):
            raise suite.error("tasks", "lists a task twice")
        sample = suite.integer("sample", None, low=1)
        num_fewshot = _parse_fewshot(suite, tasks)
        seed = suite.integer("seed", SuiteConfig.seed, low=0)
        assert seed is not None
        perturb = suite.string_list("perturb")
        for kind in perturb:
            if kind not in PERTURBATIONS:
                raise suite.error(
                    "perturb",
                    f"unknown perturbation {kind!r}.{suggest(kind, PERTURBATIONS)} "
                    f"Perturbations: {', '.join(PERTURBATIONS)}",
                )
        if len(set(perturb)) != len(perturb):
            raise suite.error("perturb", "lists a perturbation twice")
        typo_rate = suite.number(
            "typo_rate", SuiteConfig.typo_rate, low=0.0, high=1.0, low_open=True
        )
        assert typo_rate is not None
        if any(VARIANT_MARK in t for t in tasks):
            raise suite.error("tasks", f"task names cannot contain {VARIANT_MARK!r}: use perturb")
        suites[name] = SuiteConfig(
            name,
            tasks,
            sample,
            num_fewshot,
            seed,
            perturb,
            typo_rate,
            _parse_latency(suite),
            _parse_sequential(suite),
        )
    return suites


def _parse_sequential(suite: _Table) -> SequentialConfig | None:
    """``sequential = true | false | { looks = [...] }``."""
    value = suite.data.get("sequential", False)
    if isinstance(value, bool):
        return SequentialConfig() if value else None
    if not isinstance(value, Mapping):
        raise suite.error(
            "sequential",
            "expected true, false or a table such as { looks = [0.1, 0.25, 0.5, 1.0] }",
        )
    table = suite.sub("sequential")
    table.check_keys(SEQUENTIAL_KEYS)
    raw = table.data.get("looks", list(SEQUENTIAL_LOOKS))
    if not isinstance(raw, list) or any(
        isinstance(x, bool) or not isinstance(x, (int, float)) for x in raw
    ):
        raise table.error("looks", "expected a list of numbers, e.g. [0.1, 0.25, 0.5, 1.0]")
    looks = tuple(float(x) for x in raw)
    problem = looks_problem(looks)
    if problem is not None:
        raise table.error("looks", problem)
    return SequentialConfig(looks)


def _parse_latency(suite: _Table) -> LatencyConfig | None:
    if "latency" not in suite.data:
        return None
    table = suite.sub("latency")
    table.check_keys(LATENCY_SUITE_KEYS)
    d = LatencyConfig()
    return LatencyConfig(
        requests=table.integer("requests", d.requests, low=1) or d.requests,
        max_new_tokens=table.integer("max_new_tokens", d.max_new_tokens, low=1) or 1,
        warmup=table.integer("warmup", d.warmup, low=0) or 0,
    )


def _parse_latency_bounds(
    top: _Table, suites: Mapping[str, SuiteConfig]
) -> tuple[LatencyBound, ...]:
    table = top.sub("latency")
    table.check_keys(LATENCY_GATES)
    bounds = []
    for name in LATENCY_GATES:
        if name not in table.data:
            continue
        spec = table.sub(name)
        spec.check_keys(LATENCY_BOUND_KEYS)
        bound = LatencyBound(
            name,
            spec.number("max", None, low=0.0, low_open=True),
            spec.number("max_increase", None, low=0.0),
        )
        if bound.max is None and bound.max_increase is None:
            raise spec.error("max", "declares no bound: give max (ms) or max_increase (e.g. 0.10)")
        bounds.append(bound)
    if bounds and not any(s.latency for s in suites.values()):
        raise table.error(
            None,
            "gates latency, but no suite measures it: add latency = { requests = 200, "
            "max_new_tokens = 32 } to the [suites.NAME] that should",
        )
    return tuple(bounds)


def _expand_presets(suite: _Table, tasks: tuple[str, ...]) -> tuple[str, ...]:
    expanded: list[str] = []
    for task in tasks:
        if task.startswith("@"):
            if task not in PRESETS:
                raise suite.error(
                    "tasks",
                    f"unknown preset {task!r}.{suggest(task, PRESETS)} "
                    f"Presets: {', '.join(PRESETS)}",
                )
            expanded.extend(PRESETS[task])
        else:
            expanded.append(task)
    return tuple(expanded)


def _parse_fewshot(suite: _Table, tasks: tuple[str, ...]) -> int | dict[str, int] | None:
    """``num_fewshot = 5`` for every task, or ``num_fewshot = { xcopa_tr = 0, ... }``."""
    value = suite.data.get("num_fewshot")
    if not isinstance(value, Mapping):
        return suite.integer("num_fewshot", None, low=0)
    per_task = {}
    for task, shots in value.items():
        if task not in tasks:
            raise suite.error(
                "num_fewshot",
                f"names {task!r}, which the suite does not run.{suggest(task, tasks)}",
            )
        if isinstance(shots, bool) or not isinstance(shots, int) or shots < 0:
            raise suite.error("num_fewshot", f"{task} = {shots!r}: expected an integer >= 0")
        per_task[str(task)] = shots
    return per_task


MLFLOW_STORES = ('"mlflow"', '"mlflow+http(s)://HOST:PORT"', '"mlflow+sqlite:///PATH.db"')


def _is_mlflow(store: str) -> bool:
    return store == "mlflow" or store.startswith("mlflow+")


def _parse_store(table: _Table, default: str) -> str:
    if table.data.get("store") == "":
        raise table.error("store", "must name a folder (or a file:// URI), not be empty")
    store = table.string("store", default)
    if _is_mlflow(store) and store != "mlflow":
        rest = store[len("mlflow+") :]
        if not rest.startswith(("http://", "https://", "sqlite:///")) or rest.endswith("//"):
            raise table.error("store", f"an MLflow store is one of {', '.join(MLFLOW_STORES)}")
    return store


def _parse_anchor(table: _Table, store: str) -> str | None:
    """``[gate] anchor``: a recorded run id, ``tag:PATTERN`` (the newest matching git tag) or
    ``models:/NAME@ALIAS`` (the latest complete run of that registered version: MLflow only)."""
    anchor = table.optional_string("anchor")
    if anchor is None:
        return None
    if anchor.startswith("models:/"):
        if not _is_mlflow(store):
            raise table.error(
                "anchor",
                "a model-registry anchor needs an MLflow store ([gate] store = "
                f"{' | '.join(MLFLOW_STORES)}): anchor to a recorded run id or a git tag "
                '("tag:v*") with a folder store',
            )
        try:
            parse_model_uri(anchor)
        except ValueError as exc:
            raise table.error("anchor", str(exc)) from None
    if anchor.startswith("tag:") and not anchor[4:].strip():
        raise table.error("anchor", 'tag: needs a pattern, such as "tag:v*"')
    return anchor


def _parse_determinism(gate: _Table) -> DeterminismConfig | None:
    if "determinism" not in gate.data:
        return None
    table = gate.sub("determinism")
    table.check_keys(DETERMINISM_KEYS)
    d = DeterminismConfig()
    sizes = table.data.get("batch_sizes", list(d.batch_sizes))
    if (
        not isinstance(sizes, list)
        or not sizes
        or any(isinstance(b, bool) or not isinstance(b, int) or b < 1 for b in sizes)
    ):
        raise table.error("batch_sizes", "expected a non-empty list of integers >= 1, e.g. [1, 8]")
    return DeterminismConfig(**read_settings(table, DeterminismConfig), batch_sizes=tuple(sizes))


def read_settings(table: _Table, cls: type) -> dict[str, Any]:
    """Every key of ``cls`` declared with ``setting``, read from ``table`` and checked."""
    values: dict[str, Any] = {}
    for f in dataclasses.fields(cls):
        check = f.metadata.get("check")
        if check is not None:
            values[f.name] = _read_setting(table, f.name, f.default, check)
    return values


def _read_setting(table: _Table, key: str, default: Any, check: Check) -> Any:
    if isinstance(check, Number):
        return table.number(
            key,
            default,
            low=check.low,
            high=check.high,
            low_open=check.low_open,
            high_open=check.high_open,
        )
    if isinstance(check, Integer):
        return table.integer(key, default, low=check.low)
    if isinstance(check, Choice):
        return table.string(key, default, check.choices)
    value = table.data.get(key, default)
    if not isinstance(value, bool):
        raise table.error(key, "expected true or false")
    return value


def _boolean(table: _Table, key: str, default: bool) -> bool:
    value = table.data.get(key, default)
    if not isinstance(value, bool):
        raise table.error(key, "expected true or false")
    return value


def _parse_gate(table: _Table) -> GateConfig:
    table.check_keys(GATE_KEYS)
    d = GateConfig()
    settings = read_settings(table, GateConfig)
    store = _parse_store(table, d.store)
    experiment = table.string("experiment", d.experiment)
    if not experiment.strip():
        raise table.error("experiment", "must name an MLflow experiment, not be empty")
    reference = table.optional_string("reference")
    if reference is not None and not reference.strip():
        raise table.error("reference", "must name a checkpoint folder, hub id or models:/ URI")
    return GateConfig(
        **settings,
        store=store,
        experiment=experiment,
        reference=reference,
        anchor=_parse_anchor(table, store),
        determinism=_parse_determinism(table),
        record_sequential=_boolean(table, "record_sequential", d.record_sequential),
    )


def _parse_thresholds(table: _Table) -> tuple[MetricThreshold, ...]:
    result = []
    for task in table.data:
        task_table = table.sub(task)
        if not task_table.data:
            raise ConfigError(
                f"{table.path}: [thresholds.{_toml_key(task)}]: gates no metric; add one such "
                "as acc = { min = 0.5 }, or remove the table"
            )
        for metric, spec in task_table.data.items():
            if isinstance(spec, bool) or not isinstance(spec, (int, float, Mapping)):
                raise task_table.error(
                    metric, "expected a table such as { min = 0.4, max_drop = 0.03 } or a number"
                )
            if not isinstance(spec, Mapping):  # `acc = 0.4` is shorthand for { min = 0.4 }
                spec = {"min": spec}
            bounds = _Table(table.path, f"{task_table.name}.{_toml_key(metric)}", spec)
            bounds.check_keys(THRESHOLD_KEYS)
            result.append(_parse_threshold(task, metric, bounds, task_table))
    return tuple(result)


def _parse_threshold(task: str, metric: str, bounds: _Table, task_table: _Table) -> MetricThreshold:
    low = bounds.number("min", None)
    high = bounds.number("max", None)
    max_drop = bounds.number("max_drop", None, low=0.0)
    if low is not None and high is not None and low > high:
        raise bounds.error("min", f"is above max ({high:g}): no value can pass")
    direction = bounds.data.get("higher_is_better")
    if direction is not None and not isinstance(direction, bool):
        raise bounds.error("higher_is_better", "expected true or false")
    subgroups = bounds.data.get("subgroups", False)
    if not isinstance(subgroups, bool):
        raise bounds.error("subgroups", "expected true or false")
    max_gap = bounds.number("max_gap", None, low=0.0)
    if max_gap is not None and VARIANT_MARK not in task:
        raise bounds.error(
            "max_gap",
            f"bounds a perturbed variant's drop against its clean task: put it under "
            f'[thresholds."{task}@ascii"] (or another perturbation the suite runs)',
        )
    threshold = MetricThreshold(
        task,
        metric,
        low,
        high,
        max_drop,
        direction,
        subgroups=subgroups,
        min_subgroup=bounds.number("min_subgroup", None),
        max_disparity=bounds.number("max_disparity", None, low=0.0),
        min_subgroup_n=bounds.integer("min_subgroup_n", MetricThreshold.min_subgroup_n, low=1) or 1,
        max_gap=max_gap,
        max_drift=bounds.number("max_drift", None, low=0.0),
        min_ratio=bounds.number("min_ratio", None, low=0.0, high=1.0, low_open=True),
    )
    declared = (
        low,
        high,
        max_drop,
        threshold.min_subgroup,
        threshold.max_disparity,
        max_gap,
        threshold.max_drift,
        threshold.min_ratio,
    )
    if all(bound is None for bound in declared):
        raise task_table.error(
            metric,
            "declares no bound: give min, max, max_drop, min_subgroup, max_disparity, max_gap, "
            "max_drift or min_ratio",
        )
    return threshold


def _check_task_names(config: MlgateConfig) -> None:
    """Thresholds must name a task some suite runs; suite tasks must not be near-misses."""
    suite_tasks = {t for s in config.suites.values() for t in s.all_tasks}
    local = config.local_task_names()
    for threshold in config.thresholds:
        clean, _, kind = threshold.task.partition(VARIANT_MARK)
        if threshold.task not in suite_tasks and kind and clean in suite_tasks:
            raise ConfigError(
                f"{config.path}: [thresholds.{_toml_key(threshold.task)}]: no suite runs the "
                f"{kind!r} variant of {clean!r}: add {kind!r} to the perturb list of a suite "
                f"that runs it (perturbations: {', '.join(PERTURBATIONS)})"
            )
        if threshold.task not in suite_tasks:
            raise ConfigError(
                f"{config.path}: [thresholds.{_toml_key(threshold.task)}]: task "
                f"{threshold.task!r} is not in any suite, so it would never be gated."
                f"{suggest(threshold.task, suite_tasks | local)}"
                " Add it to a [suites.NAME] tasks list or fix the name."
            )
    for suite in config.suites.values():
        for task in suite.tasks:
            if task in local:
                continue
            # Very close to a local task yet not one: almost surely a typo. Other names may be
            # lm-eval built-ins, checked against lm-eval's index only when an eval runs.
            near = suggest(task, local, cutoff=0.85)
            if near:
                raise ConfigError(
                    f'{config.path}: [suites.{suite.name}] tasks = [... "{task}" ...]: '
                    f"unknown task {task!r}.{near}"
                )
