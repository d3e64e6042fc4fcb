"""Fuzzing: the config loader and the history reader raise only their documented errors."""

from __future__ import annotations

import contextlib
import json
import tempfile
import warnings
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pytest_mlgate.config.load import parse_config
from pytest_mlgate.config.schema import ACCEPTED_KEYS
from pytest_mlgate.errors import ConfigError, RecordError
from pytest_mlgate.store.folder import FolderStore

# Every key the loader accepts, in any table (derived from the config's dataclasses), some table
# and task names, and a stray one.
EVERY_KEY = sorted({key for keys in ACCEPTED_KEYS.values() for key in keys})
KEYS = st.sampled_from(
    sorted({*EVERY_KEY, "include", "fast", "full", "mlgate_tr_mc", "acc", "@tr-smoke", "x"})
)
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-5, 10**6),
    st.floats(allow_nan=True),
    st.text(max_size=12),
)
TOML_LIKE = st.recursive(
    SCALARS,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(KEYS, inner, max_size=5)),
    max_leaves=25,
)


def config_error(raw: dict[str, Any]) -> str | None:
    try:
        parse_config(raw, Path("/nonexistent/thresholds.toml"))
    except ConfigError as exc:
        return str(exc)
    return None


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.dictionaries(KEYS, TOML_LIKE, max_size=6))
def test_config_loader_raises_only_config_errors_naming_the_file(raw: dict[str, Any]) -> None:
    message = config_error(raw)  # any other exception fails the test
    assert message is None or message.startswith("/nonexistent/thresholds.toml")


# What TOML can hold (no null): a table's parser is given only what a file could give it.
TOML_VALUES = st.recursive(
    st.one_of(st.booleans(), st.integers(-5, 10**6), st.floats(), st.text(max_size=12)),
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(KEYS, inner, max_size=5)),
    max_leaves=25,
)
# A valid config; the fuzzer below puts drawn values under the keys of one of its tables.
VALID = {
    "tasks": {},
    "model": {"checkpoint": "ckpt"},
    "suites": {
        "fast": {
            "tasks": ["mlgate_tr_mc"],
            "latency": {"requests": 4},
            "sequential": {"looks": [0.5, 1.0]},
        }
    },
    "gate": {"determinism": {"sample": 10}},
    "thresholds": {"mlgate_tr_mc": {"acc": {"min": 0.5}}},
    "report": {"wandb": {"project": "evals"}},
    "triggers": {},
    "latency": {"p50_ms": {"max": 100.0}},
}
# The place of each table in VALID: its dotted name with the placeholders filled in.
PLACES = {
    table: table.replace("NAME", "fast")
    .replace("TASK.METRIC", "mlgate_tr_mc.acc")
    .replace("GATE", "p50_ms")
    for table in ACCEPTED_KEYS
}


def _table_at(config: dict[str, Any], place: str) -> dict[str, Any]:
    table = config
    for part in filter(None, place.split(".")):
        table = table[part]
    return table


def test_the_valid_config_holds_every_table_and_loads() -> None:
    assert config_error(json.loads(json.dumps(VALID))) is None
    for place in PLACES.values():
        assert isinstance(_table_at(VALID, place), dict)


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_every_accepted_key_is_fuzzed_in_its_own_table(data: st.DataObject) -> None:
    table = data.draw(st.sampled_from(sorted(ACCEPTED_KEYS)), label="table")
    keys = st.sampled_from(ACCEPTED_KEYS[table])
    drawn = data.draw(st.dictionaries(keys, TOML_VALUES, min_size=1, max_size=3), label="values")
    config = json.loads(json.dumps(VALID))
    _table_at(config, PLACES[table]).update(drawn)
    message = config_error(config)  # any other exception fails the test
    assert message is None or message.startswith("/nonexistent/thresholds.toml")


# A record written by pytest-mlgate 0.1 on a real lm-eval run (manifest, verdicts with paired
# comparisons, subgroups, examples), renamed r1.
_SEED = Path(__file__).parent / "data" / "history-0.1" / "runs" / "20261201T055922Z-697a53b3.json"
RECORD = json.loads(_SEED.read_text().replace("20261201T055922Z-697a53b3", "r1"))


def mutate(document: Any, path: list[Any], value: Any) -> Any:
    if not path:
        return value
    head, *rest = path
    if isinstance(document, dict) and document:
        key = list(document)[head % len(document)]
        return {**document, key: mutate(document[key], rest, value)}
    if isinstance(document, list) and document:
        index = head % len(document)
        return [*document[:index], mutate(document[index], rest, value), *document[index + 1 :]]
    return value


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.integers(0, 20), max_size=6), TOML_LIKE)
def test_history_reader_raises_only_record_errors(path: list[int], value: Any) -> None:
    broken = mutate(RECORD, path, value)
    with tempfile.TemporaryDirectory() as folder:
        store = FolderStore(Path(folder))
        (Path(folder) / "runs").mkdir()
        (Path(folder) / "runs" / "r1.json").write_text(json.dumps(broken, default=str))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with contextlib.suppress(RecordError):
                store.load("r1")
            store.latest("main")  # raises nothing: an unreadable record is skipped
            store.entries()  # neither does listing


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=300))
def test_garbage_bytes_are_skipped(data: bytes) -> None:
    with tempfile.TemporaryDirectory() as folder:
        runs = Path(folder) / "runs"
        runs.mkdir()
        (runs / "r1.json").write_bytes(data)
        (Path(folder) / "index.jsonl").write_bytes(data)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            store = FolderStore(Path(folder))
            store.latest("main")  # raises nothing on garbage
            store.entries()
