"""The consume loops of the hand-written (non-Faust) consumers: one to follow, one to read a range.

`ConsumeLoop` polls and calls `handle(record)` for every record in partition order, through a chain of
middleware (dramatiq's pattern): each middleware gets the record and the next handler, and may act before,
after, or instead of it. Policies are middleware, never copied into a loop: `dead_lettering` parks what a
handler refuses, `retrying` tries again what may succeed, `logging_context` tags the log lines. What a
consumer does between polls (the worker starts its next attempt) is `between_polls`.

`read_range` reads one partition from an offset up to an end offset, and stops: replaying a log to a known
end (a view catching up, the dead letters listed, records Faust never handed over).

The notifier's delay tiers (streams.retry_tiers) are a third kind: they pause partitions until their head
is due and commit per record, so they keep their own loop.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, TypeAlias

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.structs import ConsumerRecord

from reelstream.errors import ReelstreamError
from reelstream.logs import log_context
from schemas.errors import SerializationError

if TYPE_CHECKING:
    from reelstream.dlq import DeadLetterWriter  # which reads its ranges with read_range

logger = logging.getLogger(__name__)

Record: TypeAlias = "ConsumerRecord[bytes, bytes]"
Handler = Callable[[Record], Awaitable[None]]
Middleware = Callable[[Record, Handler], Awaitable[None]]  # (record, the next handler in the chain)


def chain(handle: Handler, middleware: Sequence[Middleware]) -> Handler:
    """`handle` wrapped in `middleware`, the first outermost."""
    for outer in reversed(middleware):
        handle = _bound(outer, handle)
    return handle


def _bound(outer: Middleware, inner: Handler) -> Handler:
    async def bound(record: Record) -> None:
        await outer(record, inner)

    return bound


class ConsumeLoop:
    """Poll `consumer` (the partitions given, or all it has) and handle each record through the chain."""

    def __init__(
        self,
        consumer: AIOKafkaConsumer,
        handle: Handler,
        *,
        middleware: Sequence[Middleware] = (),
        partitions: Sequence[TopicPartition] = (),
        poll_ms: int = 1000,
        max_records: int | None = None,
        between_polls: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        self._consumer = consumer
        self._handle = chain(handle, middleware)
        self._partitions = tuple(partitions)
        self._poll_ms = poll_ms
        self._max_records = max_records
        self._between_polls = between_polls

    async def poll_once(self) -> int:
        """One fetch, every record of it handled; returns how many there were."""
        batches = await self._consumer.getmany(
            *self._partitions, timeout_ms=self._poll_ms, max_records=self._max_records
        )
        handled = 0
        for records in batches.values():
            for record in records:
                await self._handle(record)
                handled += 1
        if self._between_polls is not None:
            await self._between_polls()
        return handled

    async def run(self, stop: asyncio.Event | None = None) -> None:
        """Until `stop` is set (or cancelled, without one)."""
        while stop is None or not stop.is_set():
            await self.poll_once()


def dead_lettering(writer: DeadLetterWriter) -> Middleware:
    """A record whose handler raises a non-retriable ReelstreamError is parked (as it was read) on the
    stage's dead-letter topic, and the loop moves on; retriable errors and anything else propagate. Counted
    as `undecodable` when it could not be deserialized, else `failed`."""

    async def parking(record: Record, next_handler: Handler) -> None:
        try:
            await next_handler(record)
        except ReelstreamError as exc:
            if exc.retriable:
                raise
            reason = "undecodable" if isinstance(exc, SerializationError) else "failed"
            await writer.write_record(record, exc, reason)

    return parking


def retrying(attempts: int, pause: float) -> Middleware:
    """A handler that raises a retriable ReelstreamError is called again after `pause` seconds, up to
    `attempts` calls in all; the last error propagates."""
    if attempts < 1:
        raise ValueError(f"attempts must be at least 1, not {attempts}")

    async def retried(record: Record, next_handler: Handler) -> None:
        for attempt in range(1, attempts + 1):
            try:
                await next_handler(record)
                return
            except ReelstreamError as exc:
                if not exc.retriable or attempt == attempts:
                    raise
                where = {"topic": record.topic, "partition": record.partition, "offset": record.offset}
                logger.warning("record not handled, trying again: %s", exc.message, extra=where)
                await asyncio.sleep(pause)  # a backoff between tries, not a wait for a condition

    return retried


async def logging_context(record: Record, next_handler: Handler) -> None:
    """What is logged while the record is handled names its topic, partition and offset."""
    with log_context(topic=record.topic, partition=record.partition, offset=record.offset):
        await next_handler(record)


async def read_range(
    consumer: AIOKafkaConsumer, tp: TopicPartition, first: int, end: int
) -> AsyncIterator[Record]:
    """The records of `tp` from offset `first` up to, not including, `end`, in order. `consumer` must have
    `tp` assigned. What retention deleted is not there: the records that remain come."""
    consumer.seek(tp, first)
    while await consumer.position(tp) < end:
        batch = await consumer.getmany(tp, timeout_ms=1000)
        for record in batch.get(tp, []):
            if record.offset < end:
                yield record
