"""The one dead-letter writer: a parked record keeps its bytes, headers, source, error and stage."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

from reelstream.dlq import DeadLetterWriter, source_of
from reelstream.errors import InvalidRecordError, ReelstreamError
from reelstream.kafka.clients import Headers, Publisher
from schemas.events import DeadLetter
from schemas.serde import AvroSerde
from schemas.topics import DEAD_LETTERS
from tests.kafka_clients import MemoryRegistry


class Broker:
    """Records what was sent, acknowledged at once."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, bytes, bytes | None]] = []

    async def send(
        self, topic: str, key: bytes, value: bytes | None, partition: int | None, headers: Headers | None
    ) -> None:
        self.sent.append((topic, key, value))


@pytest.fixture
async def serde() -> AvroSerde:
    made = AvroSerde(MemoryRegistry())
    await made.register(*DEAD_LETTERS.values())
    return made


def consumed(**overrides: Any) -> SimpleNamespace:
    """A record as aiokafka or Faust hands it over."""
    fields: dict[str, Any] = dict(
        topic="reelstream.render.dispatch",
        partition=2,
        offset=17,
        key=b"job-1",
        value=b"\x00not avro",
        headers=[("traceparent", b"00-abc"), ("reelstream-replays", b"1")],
    )
    return SimpleNamespace(**{**fields, **overrides})


@pytest.mark.parametrize("publisher_factory", [False, True])
async def test_a_parked_record_keeps_its_bytes_source_error_and_stage(
    serde: AvroSerde, publisher_factory: bool
) -> None:
    broker = Broker()
    publisher = Publisher(broker.send, serde)
    counted: list[tuple[str, str]] = []

    async def lazily() -> Publisher:
        return publisher

    writer = DeadLetterWriter(
        "worker", lazily if publisher_factory else publisher, lambda t, r: counted.append((t, r))
    )
    await writer.write(source_of(consumed()), InvalidRecordError("for slot 3"), "failed")

    [(topic, key, value)] = broker.sent
    assert (topic, key) == (DEAD_LETTERS["worker"].name, b"job-1")
    assert value is not None
    letter = await serde.deserialize(DEAD_LETTERS["worker"], value)
    assert isinstance(letter, DeadLetter)
    assert (letter.stage, letter.source_topic, letter.partition, letter.offset) == (
        "worker",
        "reelstream.render.dispatch",
        2,
        17,
    )
    assert (letter.key, letter.value) == (b"job-1", b"\x00not avro")
    assert letter.headers == {"traceparent": b"00-abc", "reelstream-replays": b"1"}
    assert (letter.error_code, letter.replays) == ("invalid_record", 1)
    assert counted == [("reelstream.render.dispatch", "failed")]


async def test_the_count_defaults_to_the_error_code(serde: AvroSerde) -> None:
    counted: list[tuple[str, str]] = []
    writer = DeadLetterWriter(
        "notifier", Publisher(Broker().send, serde), lambda t, r: counted.append((t, r))
    )
    await writer.write(source_of(consumed(topic="t", key=None)), ReelstreamError("gone"))
    assert counted == [("t", "internal")]


def test_an_unknown_stage_is_refused_when_the_writer_is_made(serde: AvroSerde) -> None:
    with pytest.raises(ReelstreamError, match="unknown stage 'nowhere'"):
        DeadLetterWriter("nowhere", Publisher(Broker().send, serde))
