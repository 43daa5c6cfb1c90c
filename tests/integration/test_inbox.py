"""streams.faust_compensation.Inbox on the real broker: the records of a partition Faust never handed over
are read from the log, in order, once, whether a later record reveals the gap or nothing more ever comes."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass

import faust
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.structs import OffsetAndMetadata
from faust.streams import current_event

from reelstream.endpoints import Endpoints
from reelstream.kafka.admin import ensure_topics
from schemas.events import SubmitJob
from schemas.topics import Topic
from streams.faust_compensation import Inbox, LogReader
from tests.kafka_clients import started_producer

PARTITION = 1
DEADLINE = 30.0


@dataclass
class Handed:
    """A record as Faust hands it over: its place, and whether the stage acknowledged it."""

    partition: int
    offset: int
    acked: bool = False

    @property
    def message(self) -> Handed:
        return self

    def ack(self) -> bool:
        self.acked = True
        return True


class Stage:
    """What the stage took, in order, and how often it waited for its output to be durable."""

    def __init__(self) -> None:
        self.taken: list[int] = []
        self.current: list[bool] = []  # whether each was Faust's current event while taken (tables need it)
        self.settled = 0
        self._changed = asyncio.Condition()

    async def take(self, record: faust.EventT[bytes]) -> None:
        async with self._changed:
            self.taken.append(record.message.offset)
            self.current.append(current_event() is record)
            self._changed.notify_all()

    async def settle(self) -> None:
        self.settled += 1

    async def until_taken(self, offsets: list[int]) -> None:
        try:
            async with asyncio.timeout(DEADLINE), self._changed:
                await self._changed.wait_for(lambda: self.taken == offsets)
        except TimeoutError:
            raise AssertionError(f"took {self.taken} in {DEADLINE:g} s, not {offsets}") from None


@pytest.fixture
async def source(stack: Endpoints) -> AsyncIterator[tuple[Topic[SubmitJob], AIOKafkaProducer]]:
    topic = Topic(f"test.inbox.{uuid.uuid4().hex[:8]}", (SubmitJob,), "job_id", 2)
    await ensure_topics(stack.kafka_bootstrap, [topic], security=stack.kafka_security)
    async with started_producer(stack, "inbox") as producer:
        yield topic, producer


@pytest.fixture
async def reader(
    stack: Endpoints, source: tuple[Topic[SubmitJob], AIOKafkaProducer]
) -> AsyncIterator[LogReader]:
    reader = LogReader(stack.kafka_bootstrap, source[0], security=stack.kafka_security)
    yield reader
    await reader.close_on_shutdown(None)


async def produce(producer: AIOKafkaProducer, topic: str, count: int) -> None:
    for i in range(count):
        await producer.send_and_wait(topic, f"v{i}".encode(), f"k{i}".encode(), PARTITION)


async def commit(stack: Endpoints, group: str, topic: str, offset: int) -> None:
    # no auto-commit: stopping would commit the consumer's own position over the offset given
    consumer = AIOKafkaConsumer(
        bootstrap_servers=stack.kafka_bootstrap,
        **stack.kafka_security.aiokafka(),
        group_id=group,
        enable_auto_commit=False,
    )
    await consumer.start()
    try:
        tp = TopicPartition(topic, PARTITION)
        consumer.assign([tp])
        await consumer.commit({tp: OffsetAndMetadata(offset, "")})
    finally:
        await consumer.stop()


async def test_a_quiet_partition_whose_log_ends_past_what_was_taken_is_read_up(
    stack: Endpoints, source: tuple[Topic[SubmitJob], AIOKafkaProducer], reader: LogReader
) -> None:
    """The group committed 3 of 8 records, and Faust hands over none of the rest: after the partition was
    quiet, the watcher takes 3..7 from the log, and a later redelivery of 5 is acknowledged, not taken."""
    topic, producer = source
    group = f"inbox-{uuid.uuid4().hex[:8]}"
    await produce(producer, topic.name, 8)
    await commit(stack, group, topic.name, 3)
    inbox, stage = Inbox(reader, group, quiet=0.3, every=0.1), Stage()
    await inbox.assigned([0, PARTITION])
    assert inbox.taken == {0: -1, PARTITION: 2}  # partition 0 never committed: from its first offset

    watcher = asyncio.create_task(inbox.watch(stage.take, stage.settle))
    try:
        await stage.until_taken([3, 4, 5, 6, 7])
        assert all(stage.current)  # a table written meanwhile knows the record's partition
        redelivered = Handed(PARTITION, 5)
        await inbox.handle(redelivered, stage.take, stage.settle)  # type: ignore[arg-type]
        assert redelivered.acked
        assert stage.taken == [3, 4, 5, 6, 7]
        assert stage.settled >= 1
        assert inbox.taken[PARTITION] == 7
    finally:
        watcher.cancel()


async def test_a_record_past_the_next_one_is_taken_after_those_it_skipped(
    stack: Endpoints, source: tuple[Topic[SubmitJob], AIOKafkaProducer], reader: LogReader
) -> None:
    topic, producer = source
    group = f"inbox-{uuid.uuid4().hex[:8]}"
    await produce(producer, topic.name, 6)
    await commit(stack, group, topic.name, 2)
    inbox, stage = Inbox(reader, group), Stage()
    await inbox.assigned([PARTITION])
    await inbox.handle(Handed(PARTITION, 2), stage.take, stage.settle)  # type: ignore[arg-type]
    assert stage.taken == [2]
    assert stage.settled == 0  # the next one: no log read
    await inbox.handle(Handed(PARTITION, 5), stage.take, stage.settle)  # type: ignore[arg-type]
    assert stage.taken == [2, 3, 4, 5]
    assert stage.settled == 1  # the output of 3 and 4 durable before 5 is taken
