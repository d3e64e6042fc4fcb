"""The codec, property-tested: generated thresholds, verdicts, manifests and index entries survive
encode → JSON → decode → encode byte for byte.

The strategies are drawn from the dataclasses' own fields and annotated types (``drawn``), so a
field added to a record is generated, and therefore round-tripped, with no edit here; a field of a
type the table below cannot draw fails the test until it is given a strategy.
"""

from __future__ import annotations

import dataclasses
import json
import math
import types
import typing
from collections.abc import Mapping
from typing import Any

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from pytest_mlgate import stats
from pytest_mlgate.config.schema import MetricThreshold
from pytest_mlgate.gate.verdicts import Caveat, Status, Verdict
from pytest_mlgate.manifest import Manifest
from pytest_mlgate.results import Latency, PromptInfo, RunInfo
from pytest_mlgate.store.codec import decode_entry, decode_info, encode_entry, encode_info
from pytest_mlgate.store.codec.fields import FlatCodec
from pytest_mlgate.store.codec.manifest import decode_manifest, encode_manifest
from pytest_mlgate.store.codec.verdicts import THRESHOLD, decode_verdict, encode_verdict
from pytest_mlgate.store.protocol import IndexEntry

# Text as records hold it (UTF-8 files: no lone surrogates), odd characters included.
TEXT = st.text(st.characters(exclude_categories=["Cs"]), max_size=12)
# Any float, NaN and infinities included: the codec writes those as null.
ANY_FLOAT = st.floats(allow_nan=True, allow_infinity=True)
FINITE = st.floats(allow_nan=False, allow_infinity=False)
JSON_VALUE = st.recursive(
    st.none() | st.booleans() | st.integers() | FINITE | TEXT,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(TEXT, inner, max_size=3),
    max_leaves=6,
)
SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def drawn(hint: object, overrides: Mapping[str, st.SearchStrategy[Any]] | None = None) -> Any:
    """A strategy for values of type ``hint``; a dataclass is built field by field."""
    if isinstance(hint, type) and dataclasses.is_dataclass(hint):
        hints, given_ = typing.get_type_hints(hint), overrides or {}
        fields = {
            f.name: given_[f.name] if f.name in given_ else drawn(hints[f.name])
            for f in dataclasses.fields(hint)
        }
        return st.builds(hint, **fields)
    simple: dict[object, st.SearchStrategy[Any]] = {
        str: TEXT,
        int: st.integers(),
        float: ANY_FLOAT,
        bool: st.booleans(),
        object: JSON_VALUE,
    }
    if hint in simple:
        return simple[hint]
    if isinstance(hint, type) and issubclass(hint, (Status, Caveat)):
        return st.sampled_from(hint)
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        return st.one_of([st.none() if a is type(None) else drawn(a) for a in args])
    if origin is tuple and len(args) == 2 and args[1] is Ellipsis:
        return st.lists(drawn(args[0]), max_size=4).map(tuple)
    if origin is tuple:
        return st.tuples(*(drawn(a) for a in args))
    if origin in (Mapping, dict):
        return st.dictionaries(TEXT, drawn(args[1]), max_size=3)
    raise TypeError(f"no strategy for {hint}: give one in drawn()'s table or as an override")


THRESHOLDS = drawn(MetricThreshold)
COMPARISONS = drawn(stats.Comparison, {"test": st.sampled_from(sorted(stats.PAIRED_TESTS)) | TEXT})
VERDICTS = drawn(
    Verdict,
    {
        "threshold": THRESHOLDS,
        "comparison": st.none() | COMPARISONS,
        "reference": st.none() | st.tuples(COMPARISONS, ANY_FLOAT),
    },
)
# What is measured is finite (JSON has no NaN, and the samples are rounded to 0.1 µs).
LATENCIES = drawn(Latency, {"samples_ms": st.lists(FINITE, max_size=5).map(tuple)})
PROMPTS = drawn(
    PromptInfo,
    {"gen_kwargs": st.dictionaries(TEXT, TEXT | st.integers() | FINITE | st.booleans())},
)
MANIFESTS = drawn(
    Manifest,
    {
        "latency": st.none() | LATENCIES,
        "prompt": PROMPTS,
        "model": drawn(typing.get_type_hints(Manifest)["model"]),
    },
)
ENTRIES = drawn(IndexEntry)
RUN_INFOS = drawn(RunInfo, {"prompt": st.none() | PROMPTS})


def text_of(data: object) -> str:
    """The bytes a record holds: sorted keys, no NaN."""
    return json.dumps(data, ensure_ascii=False, allow_nan=False, sort_keys=True)


def _oddities(value: object) -> None:
    """Label what was generated, for ``--hypothesis-show-statistics``."""
    floats = [v for v in _leaves(value) if isinstance(v, float)]
    if any(math.isnan(v) for v in floats):
        event("a NaN")
    if any(math.isinf(v) for v in floats):
        event("an infinity")
    if any(isinstance(v, str) and not v.isascii() for v in _leaves(value)):
        event("non-ASCII text")


def _leaves(value: object) -> list[object]:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return [x for f in dataclasses.fields(value) for x in _leaves(getattr(value, f.name))]
    if isinstance(value, (tuple, list)):
        return [x for item in value for x in _leaves(item)]
    if isinstance(value, Mapping):
        return [x for k, v in value.items() for x in (*_leaves(k), *_leaves(v))]
    return [value]


@SETTINGS
@given(THRESHOLDS)
def test_a_threshold_round_trips_byte_for_byte(threshold: MetricThreshold) -> None:
    _oddities(threshold)
    if threshold.min_ratio is not None:
        event("min_ratio set")
    written = text_of(THRESHOLD.encode(threshold))
    back = THRESHOLD.decode(json.loads(written), "threshold")
    assert text_of(THRESHOLD.encode(back)) == written
    if threshold.min_ratio is not None and math.isfinite(threshold.min_ratio):
        assert back.min_ratio == threshold.min_ratio


@SETTINGS
@given(VERDICTS)
def test_a_verdict_round_trips_byte_for_byte(verdict: Verdict) -> None:
    _oddities(verdict)
    if verdict.reference is not None:
        event("a reference comparison")
    written = text_of(encode_verdict(verdict))
    back = decode_verdict(json.loads(written), "verdict")
    assert text_of(encode_verdict(back)) == written
    assert back.threshold.min_ratio == THRESHOLD.decode(json.loads(written), "t").min_ratio


@SETTINGS
@given(MANIFESTS)
def test_a_manifest_round_trips_byte_for_byte(manifest: Manifest) -> None:
    _oddities(manifest)
    if manifest.latency is not None:
        event("latency samples")
    written = text_of(encode_manifest(manifest))
    back = decode_manifest(json.loads(written), manifest.run_id)
    assert text_of(encode_manifest(back)) == written


@SETTINGS
@given(ENTRIES)
def test_an_index_entry_round_trips_byte_for_byte_and_equal(entry: IndexEntry) -> None:
    _oddities(entry)
    written = json.dumps(encode_entry(entry), ensure_ascii=False)  # the index writer's form
    back = decode_entry(json.loads(written))
    assert json.dumps(encode_entry(back), ensure_ascii=False) == written
    assert back == entry  # every field of an index entry is kept exactly


@SETTINGS
@given(RUN_INFOS)
def test_run_info_round_trips_byte_for_byte(info: RunInfo) -> None:
    written = text_of(encode_info(info))
    assert text_of(encode_info(decode_info(json.loads(written)))) == written


_FLOATS = [
    name for name, hint in typing.get_type_hints(MetricThreshold).items() if hint == float | None
]


@SETTINGS
@given(drawn(MetricThreshold, {name: st.none() | FINITE for name in _FLOATS}))
def test_a_threshold_with_finite_bounds_comes_back_equal(threshold: MetricThreshold) -> None:
    written = text_of(THRESHOLD.encode(threshold))
    assert THRESHOLD.decode(json.loads(written), "threshold") == threshold


@dataclasses.dataclass(frozen=True)
class _Grown:
    """A flat record as a later release might grow it: a field nobody told the codec about."""

    name: str
    added_later: float | None = None
    tags: tuple[str, ...] = ()


@dataclasses.dataclass(frozen=True)
class _Odd:
    ids: frozenset[int] = frozenset()


def test_a_field_added_to_a_flat_record_is_written_and_read_with_no_codec_edit() -> None:
    codec = FlatCodec(_Grown)
    grown = _Grown("x", 0.25, ("a", "ş"))
    assert codec.encode(grown) == {"name": "x", "added_later": 0.25, "tags": ["a", "ş"]}
    assert codec.decode(json.loads(json.dumps(codec.encode(grown))), "grown") == grown


def test_a_field_of_a_type_with_no_codec_stops_the_codec_being_built() -> None:
    with pytest.raises(TypeError, match=r"_Odd\.ids: no codec for frozenset\[int\]"):
        FlatCodec(_Odd)
