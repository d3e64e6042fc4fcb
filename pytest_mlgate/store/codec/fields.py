"""Checked JSON values and the codec of a flat record, driven by its dataclass's fields.

A flat record is a frozen dataclass whose fields are plain values (text, numbers, flags, lists
of text) or other flat records. :class:`FlatCodec` reads the fields and their annotated types
once, when the codec is built, and picks each field's encoder and decoder from its type: a field
added to the dataclass is written and read with no edit here, and a field whose type has no
default codec and no :class:`Wire` override stops the import instead of being dropped silently.
:class:`Wire` states, per field, where the record's wire format differs from that default.
"""

from __future__ import annotations

import dataclasses
import json
import math
import types
import typing
from collections.abc import Callable, Mapping
from typing import Any, Generic, TypeVar

from pytest_mlgate.errors import RecordError

Json = dict[str, Any]
T = TypeVar("T")
Encoder = Callable[[Any], Any]
#: (the JSON value, or None when the key is absent; where it is, for the error) -> the field
Decoder = Callable[[object, str], Any]


# -- checked values --------------------------------------------------------------------------
def finite_or_none(value: float | None) -> float | None:
    """JSON has no NaN: a value that is not a finite number is written as null."""
    if value is None or not math.isfinite(value):
        return None
    return float(value)


def finite(value: object) -> object:
    """A number as it is (an int stays an int), null when it is not finite."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def number_or_nan(value: object, what: str) -> float:
    if value is None:
        return math.nan
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise RecordError(f"{what}: expected a number or null")
    return float(value)


def optional_number(value: object, what: str) -> float | None:
    return None if value is None else number_or_nan(value, what)


def optional_int(value: object, what: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise RecordError(f"{what}: expected an integer or null")
    return value


def optional_str(value: object, what: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise RecordError(f"{what}: expected a string or null")
    return value


def optional_bool(value: object, what: str) -> bool | None:
    if value is not None and not isinstance(value, bool):
        raise RecordError(f"{what}: expected true, false or null")
    return value


def lenient_bool(value: object, what: str) -> bool | None:
    """A flag read as unknown (None) when it is anything but true or false."""
    return value if isinstance(value, bool) else None


def json_object(value: object, what: str) -> Mapping[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise RecordError(f"{what}: expected an object")
    return value


def required_field(data: Mapping[str, Any], key: str, kinds: tuple[type, ...], what: str) -> Any:
    value = data.get(key)
    if not isinstance(value, kinds) or (isinstance(value, bool) and bool not in kinds):
        names = " or ".join(k.__name__ for k in kinds)
        raise RecordError(f"{what}.{key}: expected {names}, got {type(value).__name__}")
    return value


def strings(value: object, what: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise RecordError(f"{what}: expected a list of strings")
    return tuple(value)


def groups(value: object, what: str) -> dict[str, tuple[str, ...]]:
    return {str(k): strings(v, f"{what}.{k}") for k, v in json_object(value, what).items()}


def encode_groups(value: Mapping[str, tuple[str, ...]]) -> Json:
    return {group: list(children) for group, children in value.items()}


def plain(value: object) -> Any:
    """A TOML value as JSON holds it (datetimes and other oddities as their text)."""
    return json.loads(json.dumps(value, default=str))


def required_text(value: object, what: str) -> str:
    """A name an entry cannot do without."""
    name = optional_str(value, what)
    if name is None:
        raise RecordError(f"{what}: missing")
    return name


# -- the field-driven codec ------------------------------------------------------------------
@dataclasses.dataclass(frozen=True)
class Wire:
    """Where one field's wire format differs from the default for its type."""

    key: str | None = None  #: the JSON key (None: the field's name)
    encode: Encoder | None = None
    decode: Decoder | None = None
    #: left out while it holds its default: a field added after schema 1 was first written,
    #: so a record of an earlier release re-encodes to the same bytes
    sparse: bool = False
    #: the value that counts as the default when ``sparse`` (None: the dataclass's own)
    default: Callable[[], Any] | None = None


def _decode_text(default: object) -> Decoder:
    return lambda value, what: optional_str(value, what) or default


def _decode_int(default: object) -> Decoder:
    def decode(value: object, what: str) -> object:
        found = optional_int(value, what)
        return default if found is None else found

    return decode


def _decode_float(default: object) -> Decoder:
    def decode(value: object, what: str) -> object:
        found = optional_number(value, what)
        return default if found is None else found

    return decode


def _is_true(value: object, what: str) -> bool:
    return value is True


def _identity(value: object) -> object:
    return value


def _as_list(value: tuple[Any, ...]) -> list[Any]:
    return list(value)


def _optional_list(value: tuple[Any, ...] | None) -> list[Any] | None:
    return None if value is None else list(value)


def _optional_strings(value: object, what: str) -> tuple[str, ...] | None:
    return None if value is None else strings(value, what)


def _type_codec(hint: object, default: object) -> tuple[Encoder, Decoder] | None:
    """The default encoder and decoder of a field of type ``hint`` (None: no default)."""
    if isinstance(hint, type) and dataclasses.is_dataclass(hint) and hint in _NESTED:
        nested = _NESTED[hint]
        return nested.encode, lambda value, what: nested.decode(json_object(value, what), what)
    simple: dict[object, tuple[Encoder, Decoder]] = {
        str: (_identity, _decode_text("" if default is _MISSING else default)),
        str | None: (_identity, optional_str),
        int: (_identity, _decode_int(0 if default is _MISSING else default)),
        int | None: (_identity, optional_int),
        float: (finite, _decode_float(math.nan if default is _MISSING else default)),
        float | None: (finite, optional_number),
        bool: (_identity, _is_true),
        bool | None: (_identity, optional_bool),
        tuple[str, ...]: (_as_list, strings),
        tuple[str, ...] | None: (_optional_list, _optional_strings),
    }
    return simple.get(hint)


_MISSING = object()
_NESTED: dict[type, FlatCodec[Any]] = {}


@dataclasses.dataclass(frozen=True)
class _FieldCodec:
    name: str
    key: str
    encode: Encoder
    decode: Decoder
    sparse: bool
    default: Callable[[], Any] | None


class FlatCodec(Generic[T]):
    """One flat dataclass ↔ one JSON object, field by field, in the dataclass's order."""

    def __init__(self, cls: type[T], **wire: Wire) -> None:
        fields = {f.name: f for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
        unknown = set(wire) - set(fields)
        if unknown:
            raise TypeError(f"{cls.__name__} has no field {', '.join(sorted(unknown))}")
        hints = typing.get_type_hints(cls)
        self.cls = cls
        self.fields = tuple(
            self._field(cls, f, hints[f.name], wire.get(f.name, Wire())) for f in fields.values()
        )
        _NESTED[cls] = self

    @staticmethod
    def _field(cls: type, f: dataclasses.Field[Any], hint: object, wire: Wire) -> _FieldCodec:
        if f.default is not dataclasses.MISSING:
            default: object = f.default
        elif f.default_factory is not dataclasses.MISSING:
            default = f.default_factory()
        else:
            default = _MISSING
        typed = _type_codec(_normalised(hint), default)
        # a decoder given alone: the value is written as it is (text, numbers, flags)
        encode = wire.encode or (typed[0] if typed else _identity if wire.decode else None)
        decode = wire.decode or (typed[1] if typed else None)
        if encode is None or decode is None:
            raise TypeError(
                f"{cls.__name__}.{f.name}: no codec for {hint}: give it a Wire(encode, decode)"
            )
        value_default = wire.default or (None if default is _MISSING else (lambda: default))
        return _FieldCodec(f.name, wire.key or f.name, encode, decode, wire.sparse, value_default)

    def encode(self, value: T) -> Json:
        data: Json = {}
        for f in self.fields:
            attribute = getattr(value, f.name)
            if f.sparse and f.default is not None and attribute == f.default():
                continue
            data[f.key] = f.encode(attribute)
        return data

    def decode(self, data: Mapping[str, Any], what: str) -> T:
        return self.cls(
            **{f.name: f.decode(data.get(f.key), f"{what}.{f.key}") for f in self.fields}
        )


def _normalised(hint: object) -> object:
    """``X | None`` however it was spelled (``Optional[X]``, ``Union[X, None]``)."""
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        args = typing.get_args(hint)
        if len(args) == 2 and type(None) in args:
            other = args[0] if args[1] is type(None) else args[1]
            return other | None
    return hint
