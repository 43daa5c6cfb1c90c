"""Records a Faust agent was not handed, read straight from the log.

Faust (0.15) delivers a record to an agent only while its flow control is active and the record's consumer
generation is current; otherwise the stream skips the record and acks it, and the group's committed offset
can then pass a record no agent saw (seen after restarts of the scheduler and of admission). Seeking Faust's
consumer back races with what it has already fetched, and its read-offset filter can then drop the sought
record for good. So a stage that notices the records it is handed skip ahead reads the ones between itself,
with a consumer of its own (no group, no committed offsets), and processes them first.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from enum import Enum
from typing import Any, cast

import faust
from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import KafkaError

from reelstream.kafka.clients import BrokerUnavailableError
from schemas.topics import Topic


class InboxOrder(Enum):
    """Where a record stands against the last offset of its partition that the stage took."""

    NEXT = "next"  # the record after it (or nothing is known yet): apply it
    SEEN = "seen"  # applied already: a redelivery after a restart, skipped
    AHEAD = "ahead"  # records between were never handed over: read them from the log first (LogReader)


def inbox_order(applied: int, offset: int) -> InboxOrder:
    """The stages' source topics are neither compacted nor transactional, so their offsets have no gaps:
    the record after the one taken must come next. `applied` -1: nothing known yet, take what comes."""
    if applied < 0 or offset == applied + 1:
        return InboxOrder.NEXT
    return InboxOrder.SEEN if offset <= applied else InboxOrder.AHEAD


class LogReader:
    """Reads ranges of one topic's partitions. What retention deleted is not there to read: the records
    that remain are returned."""

    def __init__(self, bootstrap: str, topic: Topic[Any], timeout: float = 30.0) -> None:
        self._bootstrap = bootstrap
        self._topic = topic
        self._timeout = timeout
        self._consumer: AIOKafkaConsumer | None = None

    async def read(self, partition: int, first: int, end: int) -> list[faust.EventT[bytes]]:
        """The records of `partition` from offset `first` up to, not including, `end`, shaped as the Faust
        events a stage context reads (`message`, `value`)."""
        if self._consumer is None:
            self._consumer = AIOKafkaConsumer(bootstrap_servers=self._bootstrap, enable_auto_commit=False)
            await self._consumer.start()
        consumer, tp = self._consumer, TopicPartition(self._topic.name, partition)
        consumer.assign([tp])
        consumer.seek(tp, first)
        records: list[_Missed] = []
        try:
            async with asyncio.timeout(self._timeout):
                while await consumer.position(tp) < end:
                    batch = await consumer.getmany(tp, timeout_ms=1000)
                    records += [_Missed(_Message.of(r)) for r in batch.get(tp, []) if r.offset < end]
        except (TimeoutError, KafkaError) as exc:
            where = f"{self._topic.name}[{partition}] {first}..{end - 1}"
            raise BrokerUnavailableError(f"records {where} could not be read: {exc!r}") from exc
        return cast(list[faust.EventT[bytes]], records)

    async def committed(self, group_id: str, partitions: list[int]) -> dict[int, int]:
        """The group's committed offsets (the next record to read) of those partitions that have one."""
        admin = AIOKafkaAdminClient(bootstrap_servers=self._bootstrap)
        tps = [TopicPartition(self._topic.name, p) for p in partitions]
        try:
            async with asyncio.timeout(self._timeout):
                await admin.start()
                try:
                    offsets = await admin.list_consumer_group_offsets(group_id, partitions=tps)
                finally:
                    await admin.close()
        except (TimeoutError, KafkaError) as exc:
            raise BrokerUnavailableError(f"committed offsets of {group_id} unknown: {exc!r}") from exc
        return {tp.partition: meta.offset for tp, meta in offsets.items() if meta.offset >= 0}

    async def close_on_shutdown(self, sender: Any, *args: Any, **kwargs: Any) -> None:
        if self._consumer is not None:
            await self._consumer.stop()


@dataclass(frozen=True)
class _Message:
    """What a stage reads of a record (the fields of Faust's message it uses)."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes
    headers: list[tuple[str, bytes]]

    @classmethod
    def of(cls, record: ConsumerRecord[bytes, bytes]) -> _Message:
        headers = [(name, value) for name, value in record.headers]
        return cls(record.topic, record.partition, record.offset, record.key, record.value or b"", headers)


@dataclass(frozen=True)
class _Missed:
    """A record read by LogReader, shaped as the Faust event a stage context expects."""

    message: _Message

    @property
    def value(self) -> bytes:
        return self.message.value

    def ack(self) -> bool:
        """Nothing to acknowledge: Faust never handed it over."""
        return False
