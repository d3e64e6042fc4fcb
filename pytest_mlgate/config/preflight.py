"""Thresholds checked against the task files they gate, before anything is evaluated.

A metric the task does not define (``accuracy`` for ``acc``) or a bound no value can reach
(``min = 1.5`` on an accuracy) would otherwise show only after the whole evaluation: on a real
model, hours. The tasks read here are the shipped ones and those under ``[tasks] include``
(plain YAML, no lm-eval: indexing lm-eval's built-in tasks takes 10-14 s); a task known only to
lm-eval is left to the run, where a missing metric still fails closed.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pytest_mlgate.config.schema import MetricThreshold, MlgateConfig, clean_task, suggest
from pytest_mlgate.errors import ConfigError
from pytest_mlgate.tasks import TASKS_DIR, TEMPLATE_NAME

#: metrics pytest-mlgate computes itself, on any task
OWN_METRICS = ("pii_rate",)
#: lm-eval metrics whose per-example score is 0 or 1: a mean of them lies in [0, 1]
ZERO_ONE_METRICS = frozenset({"acc", "acc_norm", "exact_match", "exact_match_tr", "pii_rate"})
INCLUDE_DEPTH = 8  # `include:` chains longer than this are left unread (a cycle, most likely)


@dataclass(frozen=True)
class TaskFile:
    """What one task's YAML says about its metrics."""

    name: str
    path: Path
    #: metric name -> aggregation ("mean" when not said); None: not known from the file
    metrics: Mapping[str, str] | None
    filters: tuple[str, ...]  #: filter names ("none": lm-eval's when no filter_list)


@functools.cache
def _lenient_loader() -> Any:
    """A SafeLoader that reads lm-eval's ``!function`` (and any other local tag) as None."""
    import yaml

    class LenientLoader(yaml.SafeLoader):  # type: ignore[misc]  # untyped yaml
        pass

    LenientLoader.add_multi_constructor("!", lambda loader, suffix, node: None)
    return LenientLoader


def read_yaml(path: Path) -> Any:
    """``path`` parsed; a syntax error is a :class:`ConfigError` naming the file, line, column."""
    import yaml

    try:
        return yaml.load(path.read_text(encoding="utf-8-sig"), Loader=_lenient_loader())
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"{path}, line {mark.line + 1}, column {mark.column + 1}" if mark else str(path)
        problem = exc.problem or exc.context or "cannot be parsed"
        raise ConfigError(f"task file {where}: not valid YAML: {problem}") from None
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise ConfigError(f"task file {path}: cannot be read: {exc}") from None


def _merged(path: Path, data: Mapping[str, Any], depth: int = 0) -> dict[str, Any] | None:
    """``data`` over what its ``include:`` file says (as lm-eval merges them); None when an
    included file cannot be read (then the metrics are not known from the files)."""
    included = data.get("include")
    if not isinstance(included, str):
        return dict(data)
    base = Path(included) if Path(included).is_absolute() else path.parent / included
    if depth >= INCLUDE_DEPTH or not base.is_file():
        return None
    try:
        parent = read_yaml(base)
    except ConfigError:
        return None  # a built-in's file: lm-eval reports it if it matters
    if not isinstance(parent, Mapping):
        return None
    merged = _merged(base, parent, depth + 1)
    return None if merged is None else {**merged, **data}


def _task_file(path: Path, data: Mapping[str, Any]) -> TaskFile | None:
    name = data.get("task")
    if not isinstance(name, str):
        return None  # a group, or no task at all
    merged = _merged(path, data)
    metrics: dict[str, str] | None = None
    listed = None if merged is None else merged.get("metric_list")
    if isinstance(listed, list) and all(
        isinstance(m, Mapping) and isinstance(m.get("metric"), str) for m in listed
    ):
        metrics = {str(m["metric"]): str(m.get("aggregation") or "mean") for m in listed}
    filters = (merged or {}).get("filter_list")
    names = (
        tuple(str(f["name"]) for f in filters if isinstance(f, Mapping) and "name" in f)
        if isinstance(filters, list)
        else ("none",)
    )
    return TaskFile(name, path, metrics, names)


def _yaml_files(include: Sequence[Path]) -> Iterator[Path]:
    yield from sorted(TASKS_DIR.glob(f"*/{TEMPLATE_NAME}"))
    for folder in include:
        yield from sorted(folder.rglob("*.yaml"))


def task_files(include: Sequence[Path]) -> dict[str, TaskFile]:
    """Every task of the shipped files and of the ``include`` folders, by name (the first file
    naming a task wins, as in lm-eval's index); a file that does not parse is an error."""
    found: dict[str, TaskFile] = {}
    for path in _yaml_files(include):
        data = read_yaml(path)
        task = _task_file(path, data) if isinstance(data, Mapping) else None
        if task is not None:
            found.setdefault(task.name, task)
    return found


def _metric_problem(threshold: MetricThreshold, task: TaskFile) -> str | None:
    name, _, filter_name = threshold.metric.partition(",")
    if name in OWN_METRICS or task.metrics is None:
        return None
    if name not in task.metrics:
        return (
            f"task {task.name!r} defines no metric {name!r} (its metrics: "
            f"{', '.join(task.metrics)}; {task.path}).{_close(name, task.metrics)}"
        )
    if filter_name and filter_name not in task.filters:
        return (
            f"task {task.name!r} has no filter {filter_name!r} (its filters: "
            f"{', '.join(task.filters)}; {task.path}).{suggest(filter_name, task.filters)}"
        )
    return None


def _bound_problem(threshold: MetricThreshold, task: TaskFile | None) -> str | None:
    """A bound a mean of 0/1 scores can never meet: above 1 for a minimum, below 0 for a max."""
    name = threshold.metric.partition(",")[0]
    aggregation = "mean" if task is None or task.metrics is None else task.metrics.get(name)
    if name not in ZERO_ONE_METRICS or aggregation != "mean":
        return None
    never = f"can never be met: {name} is a mean of 0/1 scores, in [0, 1]"
    for key, value in (("min", threshold.min), ("min_subgroup", threshold.min_subgroup)):
        if value is not None and value > 1:
            return f"{key} = {value:g} {never}"
    if threshold.max is not None and threshold.max < 0:
        return f"max = {threshold.max:g} {never}"
    return None


def _close(name: str, candidates: Sequence[str] | Mapping[str, str]) -> str:
    """A close match, or the candidate that is a prefix of ``name`` (``accuracy`` -> ``acc``)."""
    close = suggest(name, candidates)
    prefixes = sorted((c for c in candidates if name.startswith(c)), key=len, reverse=True)
    return close or (f" Did you mean {prefixes[0]!r}?" if prefixes else "")


def check_thresholds(config: MlgateConfig) -> None:
    """Raise :class:`ConfigError` for the first threshold whose metric its task does not define
    or whose bound no value can reach, found from the task files alone."""
    files = task_files(config.include)
    for threshold in config.thresholds:
        task = files.get(clean_task(threshold.task))
        problem = (_metric_problem(threshold, task) if task is not None else None) or (
            _bound_problem(threshold, task)
        )
        if problem is not None:
            raise ConfigError(
                f"{config.path}: [thresholds.{_key(threshold.task)}] {_key(threshold.metric)}: "
                f"{problem}"
            )


def _key(name: str) -> str:
    """A TOML key as the file would write it (quoted when it needs quotes)."""
    bare = name.replace("_", "").replace("-", "").isalnum()
    return name if bare else f'"{name}"'
