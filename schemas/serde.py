"""Registry-backed Avro serde in the Confluent wire format: magic byte 0, 4-byte big-endian schema id, body.

Producers register (or look up) the topic's schema once at start-up; consumers resolve every record's writer
schema by its id (cached) against the reader schema of this code, so older records still decode.
"""

from __future__ import annotations

import io
import json
import struct
from typing import Any, Protocol, TypeVar

import fastavro
from fastavro.read import SchemaResolutionError
from fastavro.types import Schema

from schemas.codec import from_datum, record_fullname, to_datum
from schemas.errors import SerializationError
from schemas.topics import Topic

T = TypeVar("T")

MAGIC = 0
_HEADER = struct.Struct(">bI")


class SchemaRegistry(Protocol):
    """What the serde needs of a registry; reelstream.kafka.registry adapts a real client to it."""

    async def register(self, subject: str, schema: str) -> int: ...

    async def schema_by_id(self, schema_id: int) -> str: ...

    async def set_backward_compatibility(self, subject: str) -> None: ...


def _parse(schema: str) -> Schema:
    return fastavro.parse_schema(json.loads(schema))


class AvroSerde:
    """Serializes values of declared topics. Call `await register(...)` before `serialize`."""

    def __init__(self, registry: SchemaRegistry) -> None:
        self._registry = registry
        self._ids: dict[str, int] = {}
        self._readers: dict[str, Schema] = {}
        self._writers: dict[int, Schema] = {}
        self._heads: dict[str, tuple[Schema, tuple[str, ...]]] = {}

    async def register(self, *topics: Topic[Any]) -> None:
        """Enforce BACKWARD compatibility on each topic's subject and register its current schema."""
        for topic in topics:
            await self._registry.set_backward_compatibility(topic.subject)
            schema_id = await self._registry.register(topic.subject, topic.schema)
            self._ids[topic.name] = schema_id
            self._writers.setdefault(schema_id, self._reader(topic))

    def _reader(self, topic: Topic[Any]) -> Schema:
        if topic.name not in self._readers:
            self._readers[topic.name] = _parse(topic.schema)
        return self._readers[topic.name]

    def serialize(self, topic: Topic[T], value: T) -> bytes:
        schema_id = self._ids.get(topic.name)
        if schema_id is None:
            raise SerializationError(f"topic {topic.name} is not registered; call register() first")
        if not isinstance(value, topic.value_types):
            raise SerializationError(f"{type(value).__name__} is not a value of topic {topic.name}")
        datum: Any = to_datum(value)
        if topic.is_union:
            datum = (record_fullname(type(value)), datum)
        buf = io.BytesIO()
        buf.write(_HEADER.pack(MAGIC, schema_id))
        try:
            fastavro.schemaless_writer(buf, self._reader(topic), datum)
        except (ValueError, TypeError, KeyError) as exc:
            raise SerializationError(f"{type(value).__name__} does not fit {topic.subject}: {exc}") from exc
        return buf.getvalue()

    def serialize_enclosing(self, topic: Topic[T], value: T, inner: bytes) -> bytes:
        """`serialize(topic, value)` for a record whose last field holds a record serialized already: `inner`,
        what `serialize` returned for that field's value (a job event and the snapshot it carries). Avro
        writes a record as its fields one after the other, so the enclosing record is its other fields, then
        the inner record's body: the inner record is not encoded again. The caller vouches that `inner` is
        the serialization of the last field's value."""
        schema_id = self._ids.get(topic.name)
        if schema_id is None:
            raise SerializationError(f"topic {topic.name} is not registered; call register() first")
        if topic.is_union or not isinstance(value, topic.value_types):
            raise SerializationError(
                f"{type(value).__name__} cannot enclose a serialized record on {topic.name}"
            )
        head, names = self._head(topic)
        buf = io.BytesIO()
        buf.write(_HEADER.pack(MAGIC, schema_id))
        try:
            fastavro.schemaless_writer(buf, head, {name: to_datum(getattr(value, name)) for name in names})
        except (ValueError, TypeError, KeyError) as exc:
            raise SerializationError(f"{type(value).__name__} does not fit {topic.subject}: {exc}") from exc
        buf.write(memoryview(inner)[_HEADER.size :])
        return buf.getvalue()

    def _head(self, topic: Topic[Any]) -> tuple[Schema, tuple[str, ...]]:
        """The topic's record schema without its last field, and the names of the fields it keeps."""
        if topic.name not in self._heads:
            record = json.loads(topic.schema)
            record["fields"] = record["fields"][:-1]
            self._heads[topic.name] = (
                fastavro.parse_schema(record),
                tuple(f["name"] for f in record["fields"]),
            )
        return self._heads[topic.name]

    async def deserialize(self, topic: Topic[T], data: bytes) -> T:
        schema_id = _schema_id(data)
        return self._decode(topic, data, schema_id, await self._writer(schema_id))

    async def writer_datum(self, data: bytes) -> dict[str, Any]:
        """A record as its writer wrote it: a dict of Avro datums (enums as strings, timestamps as
        datetimes), not resolved against this code's schema and not built into objects. For a reader that
        needs a few fields and defaults those an older writer lacks: about half the cost of `deserialize`."""
        schema_id = _schema_id(data)
        writer = await self._writer(schema_id)
        try:
            datum = fastavro.schemaless_reader(io.BytesIO(data[_HEADER.size :]), writer, None)
        except (EOFError, ValueError, TypeError, KeyError, IndexError, UnicodeDecodeError) as exc:
            raise SerializationError(f"malformed record: {exc!r}"[:500]) from exc
        if not isinstance(datum, dict):
            raise SerializationError(f"schema id {schema_id} is not a record's")
        return datum

    async def know(self, schema_id: int) -> None:
        """Fetch a writer schema now, so `decode_seen` decodes records written with it (records a view kept
        on disk across a restart)."""
        await self._writer(schema_id)

    def decode_seen(self, topic: Topic[T], data: bytes) -> T:
        """`deserialize` without awaiting: for bytes whose writer schema this serde has read before (e.g.
        bytes a view kept after deserializing them). Raises SerializationError for any other."""
        schema_id = _schema_id(data)
        writer = self._writers.get(schema_id)
        if writer is None:
            raise SerializationError(f"schema id {schema_id} was never read by this serde")
        return self._decode(topic, data, schema_id, writer)

    def _decode(self, topic: Topic[T], data: bytes, schema_id: int, writer: Schema) -> T:
        try:
            datum: Any = fastavro.schemaless_reader(
                io.BytesIO(data[_HEADER.size :]),
                writer,
                self._reader(topic),
                return_record_name=True,
                return_record_name_override=True,
            )
        except SchemaResolutionError as exc:  # its message carries both schemas in full: keep only the gist
            raise SerializationError(
                f"schema id {schema_id} cannot be read as {topic.subject} (not one of its versions)"
            ) from exc
        except (EOFError, ValueError, TypeError, KeyError, IndexError, UnicodeDecodeError) as exc:
            raise SerializationError(f"malformed record for {topic.subject}: {exc!r}"[:500]) from exc
        cls = topic.value_types[0]
        if topic.is_union:
            name, datum = datum
            by_name = {record_fullname(t): t for t in topic.value_types}
            cls = by_name[name]
        value: T = from_datum(cls, datum)
        return value

    async def _writer(self, schema_id: int) -> Schema:
        if schema_id not in self._writers:
            self._writers[schema_id] = _parse(await self._registry.schema_by_id(schema_id))
        return self._writers[schema_id]


def _schema_id(data: bytes) -> int:
    if len(data) < _HEADER.size:
        raise SerializationError(f"record of {len(data)} bytes is too short for the wire format")
    magic, schema_id = _HEADER.unpack_from(data)
    if magic != MAGIC:
        raise SerializationError(f"unknown magic byte {magic} (expected {MAGIC})")
    return int(schema_id)
