"""Avro schemas loaded from avro/*.avsc, and the mapping between records and the frozen dataclasses.

Each .avsc holds one named type and refers to others by full name; `schema_for` inlines each referenced type
the first time it appears, which yields a self-contained schema to register (no registry references).
"""

from __future__ import annotations

import dataclasses
import json
import types
import typing
from collections.abc import Callable, Mapping
from datetime import datetime
from enum import Enum
from functools import cache
from pathlib import Path
from typing import Any

AVRO_DIR = Path(__file__).parent / "avro"
NAMESPACE = "io.reelstream.v1"

Json = Any


@cache
def _named_type(fullname: str) -> Json:
    return json.loads((AVRO_DIR / f"{fullname}.avsc").read_text())


def _inline(node: Json, defined: set[str]) -> Json:
    if isinstance(node, str):
        if node.startswith(NAMESPACE + ".") and node not in defined:
            return _inline(_named_type(node), defined)
        return node
    if isinstance(node, list):
        return [_inline(item, defined) for item in node]
    if not isinstance(node, dict):
        return node
    if node.get("type") in ("record", "enum", "fixed"):
        defined.add(f"{node.get('namespace', NAMESPACE)}.{node['name']}")
    out = dict(node)
    if "fields" in out:
        out["fields"] = [{**fld, "type": _inline(fld["type"], defined)} for fld in out["fields"]]
    for key in ("items", "values"):
        if key in out:
            out[key] = _inline(out[key], defined)
    if isinstance(out.get("type"), (list, dict)):
        out["type"] = _inline(out["type"], defined)
    return out


@cache
def schema_for(record_names: tuple[str, ...]) -> str:
    """The self-contained schema JSON for one record, or a top-level union of several."""
    defined: set[str] = set()
    expanded = [_inline(f"{NAMESPACE}.{name}", defined) for name in record_names]
    return json.dumps(expanded[0] if len(expanded) == 1 else expanded, sort_keys=True)


def record_fullname(cls: type) -> str:
    return f"{NAMESPACE}.{cls.__name__}"


# ---- dataclass <-> Avro datum ----------------------------------------------------------------------


_SCALARS = frozenset({str, int, float, bool, type(None), bytes, datetime})


Encoder = Callable[[Any], Any]
_ENCODERS: dict[type, Encoder] = {}


def to_datum(obj: Any) -> Any:
    """A dataclass (tree) as the plain values fastavro writes. datetimes stay datetimes (timestamp-millis)."""
    encode = _ENCODERS.get(type(obj)) or _class_encoder(type(obj))
    return encode(obj)


def _class_encoder(cls: type) -> Encoder:
    if cls not in _ENCODERS:
        _ENCODERS[cls] = _encoder(cls)
    return _ENCODERS[cls]


def _encoder(cls: type) -> Encoder:
    """The function that turns values of class `cls` into data, worked out once per class (not per value).
    A dataclass's fields are encoded by what their type hints declare; the generic walk over every value
    was most of a record's serialization time."""
    if cls in _SCALARS:
        return _keep
    if dataclasses.is_dataclass(cls):
        return _dataclass_encoder(cls)
    if issubclass(cls, Enum):
        return _enum_value
    if issubclass(cls, Mapping):
        return lambda v: {k: to_datum(x) for k, x in v.items()}
    if issubclass(cls, (list, tuple)):
        return lambda v: [to_datum(x) for x in v]
    return _keep


def _enum_value(value: Any) -> Any:
    return value.value


def _hinted_encoder(tp: Any) -> Encoder:
    """The encoder for values declared as `tp`: direct where `tp` names one class; `to_datum` (by the value's
    class) where it does not (Any, a union of records, a class a subclass may stand in for)."""
    origin = typing.get_origin(tp)
    if origin in (types.UnionType, typing.Union):
        inner = [arg for arg in typing.get_args(tp) if arg is not type(None)]
        if len(inner) != 1:
            return to_datum
        encode = _hinted_encoder(inner[0])
        return encode if encode is _keep else lambda v: None if v is None else encode(v)
    if origin in (dict, Mapping):
        values = _hinted_encoder(typing.get_args(tp)[1])
        return lambda v: {k: values(x) for k, x in v.items()}
    if origin in (list, tuple):
        args = typing.get_args(tp)
        if origin is tuple and (len(args) != 2 or args[1] is not Ellipsis):
            return to_datum  # a fixed-shape tuple: each place has its own type
        items = _hinted_encoder(args[0])
        return lambda v: [items(x) for x in v]
    if tp in _SCALARS:
        return _keep
    if isinstance(tp, type) and (dataclasses.is_dataclass(tp) or issubclass(tp, Enum)):
        return to_datum if tp.__subclasses__() else _class_encoder(tp)  # a subclass may come instead
    return to_datum


def _dataclass_encoder(cls: type) -> Encoder:
    fields: list[tuple[str, Encoder]] = []

    def encode(value: Any) -> Any:
        if value is None:
            return None
        if not fields:  # filled on first use: a dataclass may refer to itself
            hints = _hints(cls)
            fields.extend((f.name, _hinted_encoder(hints[f.name])) for f in dataclasses.fields(cls))
        return {name: field(getattr(value, name)) for name, field in fields}

    return encode


@cache
def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def from_datum(tp: Any, value: Any) -> Any:
    """Build an instance of type `tp` (a dataclass, enum, optional, dict or list of them) from a datum."""
    return _decoder(tp)(value)


Decoder = Callable[[Any], Any]


def _keep(value: Any) -> Any:
    return value


@cache
def _decoder(tp: Any) -> Decoder:
    """The function that decodes data of type `tp`, worked out once per type (not per value): the type
    analysis was most of a record's decoding time."""
    origin = typing.get_origin(tp)
    if origin in (types.UnionType, typing.Union):
        (inner,) = [arg for arg in typing.get_args(tp) if arg is not type(None)]
        return _decoder(inner)
    if origin in (dict, Mapping):
        key_type, value_type = typing.get_args(tp)
        values = _decoder(value_type)
        return lambda v: None if v is None else {key_type(k): values(x) for k, x in v.items()}
    if origin in (list, tuple):
        items, collect = _decoder(typing.get_args(tp)[0]), origin
        return lambda v: None if v is None else collect(items(x) for x in v)
    if tp is datetime:
        return lambda v: datetime.fromisoformat(v) if isinstance(v, str) else v
    if isinstance(tp, type) and dataclasses.is_dataclass(tp):
        return _dataclass_decoder(tp)
    if isinstance(tp, type) and issubclass(tp, Enum):
        return lambda v: None if v is None else tp(v)
    if tp is float:
        return lambda v: float(v) if isinstance(v, int) else v
    return _keep


def _dataclass_decoder(cls: type) -> Decoder:
    fields: dict[str, Decoder] = {}

    def decode(value: Any) -> Any:
        if value is None:
            return None
        if not fields:  # filled on first use: a dataclass may refer to itself
            fields.update({name: _decoder(hint) for name, hint in _hints(cls).items()})
        return cls(**{name: fields[name](v) for name, v in value.items() if name in fields})

    return decode
