"""The one consume loop: records in partition order through a middleware chain; policies as middleware."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import pytest
from aiokafka import TopicPartition
from aiokafka.structs import ConsumerRecord

from reelstream.dlq import DeadLetterWriter
from reelstream.errors import InvalidRecordError, ReelstreamError
from reelstream.kafka.clients import Publisher
from reelstream.kafka.consume_loop import (
    ConsumeLoop,
    Handler,
    Record,
    chain,
    dead_lettering,
    read_range,
    retrying,
)
from schemas.errors import SerializationError
from schemas.serde import AvroSerde
from schemas.topics import DEAD_LETTERS
from tests.kafka_clients import MemoryRegistry
from tests.unit.test_dead_letter_writer import Broker

TP = TopicPartition("reelstream.render.dispatch", 0)


def record(offset: int, value: bytes = b"v") -> Record:
    return ConsumerRecord(TP.topic, TP.partition, offset, 0, 0, b"k", value, None, 1, 1, [])


class FakeConsumer:
    """What the loops use of AIOKafkaConsumer, over a list of records of one partition."""

    def __init__(self, records: list[Record], per_fetch: int = 2) -> None:
        self.records = records
        self.per_fetch = per_fetch
        self.at = 0
        self.fetches = 0

    async def getmany(
        self, *partitions: TopicPartition, timeout_ms: int = 0, max_records: int | None = None
    ) -> dict[TopicPartition, list[Record]]:
        self.fetches += 1
        batch = [r for r in self.records if r.offset >= self.at][: self.per_fetch]
        if batch:
            self.at = batch[-1].offset + 1
        return {TP: batch} if batch else {}

    def seek(self, tp: TopicPartition, offset: int) -> None:
        self.at = offset

    async def position(self, tp: TopicPartition) -> int:
        return self.at


def consumer_loop(consumer: FakeConsumer, handle: Handler, **kwargs: object) -> ConsumeLoop:
    return ConsumeLoop(consumer, handle, **kwargs)  # type: ignore[arg-type]


async def test_middleware_wraps_the_handler_outermost_first() -> None:
    calls: list[str] = []

    def named(name: str) -> Callable[[Record, Handler], Awaitable[None]]:
        async def middleware(rec: Record, next_handler: Handler) -> None:
            calls.append(f"{name} in")
            await next_handler(rec)
            calls.append(f"{name} out")

        return middleware

    async def handle(rec: Record) -> None:
        calls.append("handle")

    await chain(handle, [named("a"), named("b")])(record(0))
    assert calls == ["a in", "b in", "handle", "b out", "a out"]


async def test_the_loop_handles_every_record_in_order_and_acts_between_polls_until_stopped() -> None:
    consumer, seen, polls = FakeConsumer([record(i) for i in range(5)]), [], []
    stop = asyncio.Event()

    async def handle(rec: Record) -> None:
        seen.append(rec.offset)
        if rec.offset == 4:
            stop.set()

    async def between() -> None:
        polls.append(len(seen))

    await consumer_loop(consumer, handle, between_polls=between).run(stop)
    assert seen == [0, 1, 2, 3, 4]
    assert polls == [2, 4, 5]


async def dead_letter_writer(parked: list[tuple[str, str]]) -> tuple[DeadLetterWriter, Broker]:
    serde = AvroSerde(MemoryRegistry())
    await serde.register(*DEAD_LETTERS.values())
    broker = Broker()
    return DeadLetterWriter(
        "worker", Publisher(broker.send, serde), lambda t, r: parked.append((t, r))
    ), broker


async def test_dead_lettering_parks_refused_records_and_the_loop_goes_on() -> None:
    counted: list[tuple[str, str]] = []
    writer, broker = await dead_letter_writer(counted)
    seen: list[int] = []

    async def handle(rec: Record) -> None:
        if rec.offset == 0:
            raise SerializationError("not avro")
        if rec.offset == 1:
            raise InvalidRecordError("for slot 3")
        seen.append(rec.offset)

    loop = consumer_loop(
        FakeConsumer([record(i) for i in range(3)], per_fetch=3), handle, middleware=[dead_lettering(writer)]
    )
    assert await loop.poll_once() == 3
    assert seen == [2]
    assert counted == [(TP.topic, "undecodable"), (TP.topic, "failed")]
    assert [topic for topic, _, _ in broker.sent] == [DEAD_LETTERS["worker"].name] * 2


async def test_dead_lettering_lets_retriable_errors_through() -> None:
    writer, broker = await dead_letter_writer([])

    async def handle(rec: Record) -> None:
        raise ReelstreamError("broker away", retriable=True)

    with pytest.raises(ReelstreamError, match="broker away"):
        await chain(handle, [dead_lettering(writer)])(record(0))
    assert broker.sent == []


async def test_retrying_calls_again_until_it_succeeds_or_gives_up() -> None:
    tries: list[int] = []

    async def flaky(rec: Record) -> None:
        tries.append(rec.offset)
        if len(tries) < 3:
            raise ReelstreamError("not yet", retriable=True)

    await chain(flaky, [retrying(attempts=3, pause=0)])(record(7))
    assert tries == [7, 7, 7]

    tries.clear()
    with pytest.raises(ReelstreamError, match="not yet"):
        await chain(flaky, [retrying(attempts=2, pause=0)])(record(7))
    assert tries == [7, 7]


async def test_retrying_does_not_retry_what_cannot_succeed() -> None:
    tries: list[int] = []

    async def refused(rec: Record) -> None:
        tries.append(rec.offset)
        raise InvalidRecordError("bad")

    with pytest.raises(InvalidRecordError):
        await chain(refused, [retrying(attempts=5, pause=0)])(record(1))
    assert tries == [1]


async def test_read_range_reads_from_first_up_to_end_and_stops() -> None:
    consumer = FakeConsumer([record(i) for i in range(10)], per_fetch=3)
    got = [r.offset async for r in read_range(consumer, TP, 2, 7)]  # type: ignore[arg-type]
    assert got == [2, 3, 4, 5, 6]
