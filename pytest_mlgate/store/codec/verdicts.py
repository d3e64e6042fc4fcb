"""Verdicts ↔ JSON: the gated item's threshold, its comparisons and its decision.

A verdict's object holds its threshold's fields beside its own: ``task``, ``metric``, ``min``,
``max`` and ``max_drop`` always, every other threshold field only while it differs from its
default (added after schema 1 was first written). The threshold is coded from its dataclass's
fields, so a bound added to :class:`MetricThreshold` is recorded and read back with no edit here.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from typing import Any

from pytest_mlgate import stats
from pytest_mlgate.config.schema import MetricThreshold
from pytest_mlgate.errors import RecordError
from pytest_mlgate.gate.verdicts import Caveat, Status, Verdict
from pytest_mlgate.store.codec.fields import (
    FlatCodec,
    Json,
    Wire,
    finite_or_none,
    json_object,
    lenient_bool,
    number_or_nan,
    optional_int,
    optional_number,
    optional_str,
    strings,
)

#: threshold fields every verdict writes (schema 1 as first written)
ALWAYS_WRITTEN = ("task", "metric", "min", "max", "max_drop")

_SPARSE = {
    f.name: Wire(sparse=True)
    for f in dataclasses.fields(MetricThreshold)
    if f.name not in ALWAYS_WRITTEN
}
THRESHOLD = FlatCodec(
    MetricThreshold, **{**_SPARSE, "higher_is_better": Wire(decode=lenient_bool, sparse=True)}
)


def _pair(value: object, what: str) -> tuple[float, float] | None:
    if value is None:
        return None
    if not isinstance(value, list) or len(value) != 2:
        raise RecordError(f"{what}: expected [low, high]")
    return (number_or_nan(value[0], what), number_or_nan(value[1], what))


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


def _decode_comparison(
    data: Mapping[str, Any], value: float | None, what: str
) -> stats.Comparison | None:
    test = optional_str(data.get("test"), f"{what}.test")
    if test is None:
        return None
    return stats.Comparison(
        test=test,
        paired=test in stats.PAIRED_TESTS,
        n=optional_int(data.get("paired_n"), f"{what}.paired_n") or 0,
        baseline=number_or_nan(data.get("baseline"), f"{what}.baseline"),
        value=math.nan if value is None else value,
        delta=number_or_nan(data.get("delta"), f"{what}.delta"),
        ci=_pair(data.get("delta_ci"), f"{what}.delta_ci") or (math.nan, math.nan),
        p_value=number_or_nan(data.get("p_value"), f"{what}.p_value"),
    )


def _decode_reference(
    data: object, value: float | None, what: str
) -> tuple[stats.Comparison, float] | None:
    if data is None:
        return None
    head = json_object(data, what)
    comparison = _decode_comparison(head, value, what)
    if comparison is None:
        raise RecordError(f"{what}: expected the test it ran")
    return comparison, number_or_nan(head.get("p_adjusted"), f"{what}.p_adjusted")


def _baseline_comparison(c: stats.Comparison | None) -> Json:
    keys = ("baseline", "delta", "delta_ci", "p_value")
    written = {k: None for k in keys} if c is None else _encode_comparison(c, math.nan)
    return {key: written[key] for key in keys}


def encode_verdict(verdict: Verdict) -> Json:
    bounds, c = THRESHOLD.encode(verdict.threshold), verdict.comparison
    data: Json = {
        "task": bounds.pop("task"),
        "metric": bounds.pop("metric"),
        "status": verdict.status.value,
        "reason": verdict.reason,
        "value": finite_or_none(verdict.value),
        "n": verdict.n,
        **{key: bounds.pop(key) for key in ("min", "max", "max_drop")},
        "baseline_run": verdict.baseline_run,
        **_baseline_comparison(c),
        "p_adjusted": finite_or_none(verdict.p_adjusted),
        "test": None if c is None else c.test,
        "paired_n": None if c is None else c.n,
        "notes": list(verdict.notes),
    }
    # Added after schema 1 was first written: present only when they say something.
    data.update(bounds)
    if verdict.value_ci is not None:
        data["value_ci"] = [finite_or_none(x) for x in verdict.value_ci]
    if verdict.caveats:
        data["caveats"] = [[kind.value, message] for kind, message in verdict.caveats]
    if verdict.trend is not None:
        s, p, runs = verdict.trend
        data["trend"] = [finite_or_none(s), finite_or_none(p), runs]
    if verdict.reference is not None:
        data["reference"] = _encode_comparison(*verdict.reference)
    if verdict.detectable is not None:
        data["detectable"] = finite_or_none(verdict.detectable)
    return data


def _trend(value: object, what: str) -> tuple[float, float, int] | None:
    if value is None:
        return None
    if not (isinstance(value, list) and len(value) == 3 and isinstance(value[2], int)):
        raise RecordError(f"{what}: expected [CUSUM, h, runs] (or Mann-Kendall's [S, p, runs])")
    return (number_or_nan(value[0], what), number_or_nan(value[1], what), value[2])


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


def decode_verdict(data: object, what: str) -> Verdict:
    verdict = json_object(data, what)
    task, metric = verdict.get("task"), verdict.get("metric")
    if not isinstance(task, str) or not isinstance(metric, str):
        raise RecordError(f"{what}: expected the task and metric it gated")
    try:
        status = Status(verdict.get("status"))
    except ValueError:
        raise RecordError(f"{what}.status: expected pass, warn or fail") from None
    value = optional_number(verdict.get("value"), f"{what}.value")
    return Verdict(
        threshold=THRESHOLD.decode(verdict, what),
        status=status,
        reason=optional_str(verdict.get("reason"), f"{what}.reason") or "",
        value=value,
        n=optional_int(verdict.get("n"), f"{what}.n"),
        value_ci=_pair(verdict.get("value_ci"), f"{what}.value_ci"),
        baseline_run=optional_str(verdict.get("baseline_run"), f"{what}.baseline_run"),
        comparison=_decode_comparison(verdict, value, what),
        p_adjusted=optional_number(verdict.get("p_adjusted"), f"{what}.p_adjusted"),
        notes=strings(verdict.get("notes", []), f"{what}.notes"),
        caveats=_caveats(verdict.get("caveats"), f"{what}.caveats"),
        trend=_trend(verdict.get("trend"), f"{what}.trend"),
        reference=_decode_reference(verdict.get("reference"), value, f"{what}.reference"),
        detectable=_detectable(verdict, what),
    )


def _detectable(verdict: Mapping[str, object], what: str) -> float | None:
    """Absent: not planned; null: no drop detectable (NaN)."""
    if "detectable" not in verdict:
        return None
    found = optional_number(verdict["detectable"], f"{what}.detectable")
    return math.nan if found is None else found
