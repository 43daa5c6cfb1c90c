"""The one consume loop of the delay-tier topics: deliver each record once it is due, in partition order.

Every record of a tier waits the same delay, so a partition is FIFO by due time: when its head is not due
yet the loop seeks back to it, pauses the partition and resumes it at the head's due time; other partitions
go on meanwhile. An offset is committed only after the handler returned, i.e. after the record's outcome is
durable (delivered, queued for the next attempt, or dead-lettered). A record whose handler fails with a
retriable error is read again after a short pause.

Each fetched batch is drained by a task of its own while its partition is paused, and the loop goes on
polling: a delivery that hangs until its deadline holds its own partition only, never the others. A revoked
partition's batch, and every batch at shutdown, is abandoned (cancelled, its records read again from the
committed offset by the next owner).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable

from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener, TopicPartition
from aiokafka.errors import KafkaError
from aiokafka.structs import ConsumerRecord

from reelstream.errors import ReelstreamError

log = logging.getLogger(__name__)

# handle(record) -> None once done, or the Unix time (seconds) it becomes due when that is still ahead
Handler = Callable[[ConsumerRecord[bytes, bytes]], Awaitable[float | None]]

MAX_RECORDS = 10  # per poll: bounded, so the loop polls well within max_poll_interval_ms
IDLE_POLL_MS = 1000
BUSY_POLL_MS = 50
RETRY_PAUSE_S = 1.0


class TierConsumer:
    def __init__(
        self, consumer: AIOKafkaConsumer, handle: Handler, clock: Callable[[], float] = time.time
    ) -> None:
        self._consumer = consumer
        self._handle = handle
        self._clock = clock
        self._paused: dict[TopicPartition, float] = {}  # partition → when to resume it
        self._draining: dict[TopicPartition, asyncio.Task[None]] = {}  # partition → the task on its batch

    def subscribe(self, topics: list[str]) -> None:
        self._consumer.subscribe(topics, listener=_Forget(self))

    async def run(self) -> None:
        while True:
            await self.poll_once()

    async def poll_once(self) -> None:
        """Resume the partitions whose head is due, fetch, and start draining each partition's batch in order.

        A drain that failed (a non-retriable error) raises here, on the next poll."""
        self._reap()
        self._resume_due()
        batches = await self._consumer.getmany(timeout_ms=self._poll_ms(), max_records=MAX_RECORDS)
        for tp, records in batches.items():
            self._consumer.pause(tp)  # fetched again once this batch is done
            self._draining[tp] = asyncio.create_task(self._drain_then_release(tp, records))

    async def drained(self, partitions: list[TopicPartition] | None = None) -> None:
        """Wait until the batches in hand (of these partitions, or all) are handled."""
        tasks = [t for tp, t in self._draining.items() if partitions is None or tp in partitions]
        if tasks:
            await asyncio.wait(tasks)

    async def abandon(self, partitions: list[TopicPartition] | None = None) -> None:
        """Stop draining these partitions (or all): their records from the last committed offset on are read
        again by whoever owns the partition next (at least once, under the same webhook-id). Never waits on
        the consumer, so a revocation or a shutdown cannot wait on a commit that waits on it."""
        tasks = [t for tp, t in self._draining.items() if partitions is None or tp in partitions]
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.wait(tasks)
        for tp in [tp for tp, t in self._draining.items() if t in tasks]:
            del self._draining[tp]

    def _reap(self) -> None:
        for tp, task in list(self._draining.items()):
            if task.done():
                del self._draining[tp]
                task.result()  # re-raises what the drain raised

    async def _drain_then_release(
        self, tp: TopicPartition, records: list[ConsumerRecord[bytes, bytes]]
    ) -> None:
        try:
            await self._drain(tp, records)
        finally:
            if tp not in self._paused and tp in self._consumer.assignment():
                self._consumer.resume(tp)

    def forget(self, revoked: list[TopicPartition]) -> None:
        for tp in revoked:
            self._paused.pop(tp, None)

    def _resume_due(self) -> None:
        now = self._clock()
        due = [tp for tp, at in self._paused.items() if at <= now]
        for tp in due:
            del self._paused[tp]
        resumable = [tp for tp in due if tp in self._consumer.assignment() and tp not in self._draining]
        if resumable:
            self._consumer.resume(*resumable)

    def _poll_ms(self) -> int:
        if self._draining:
            return BUSY_POLL_MS  # back soon to start the next batch of a partition that is done
        if not self._paused:
            return IDLE_POLL_MS
        wait = min(self._paused.values()) - self._clock()
        return max(1, min(IDLE_POLL_MS, int(wait * 1000) + 1))

    def _hold(self, tp: TopicPartition, offset: int, until: float) -> None:
        self._consumer.seek(tp, offset)  # drops what was fetched after it; read again on resume
        self._consumer.pause(tp)
        self._paused[tp] = until

    async def _drain(self, tp: TopicPartition, records: list[ConsumerRecord[bytes, bytes]]) -> None:
        for record in records:
            try:
                due = await self._handle(record)
            except ReelstreamError as exc:
                if not exc.retriable:
                    raise
                log.warning(
                    "retry tier record not handled, reading it again: %s",
                    exc.message,
                    extra={"topic": tp.topic, "partition": tp.partition, "offset": record.offset},
                )
                self._hold(tp, record.offset, self._clock() + RETRY_PAUSE_S)
                return
            if due is not None:
                self._hold(tp, record.offset, due)
                return
            try:
                await self._consumer.commit({tp: record.offset + 1})
            except KafkaError as exc:  # e.g. a rebalance took the partition: its new owner repeats it
                log.warning(
                    "retry tier offset not committed: %r",
                    exc,
                    extra={"topic": tp.topic, "partition": tp.partition, "offset": record.offset},
                )
                return


class _Forget(ConsumerRebalanceListener):  # type: ignore[misc]
    """Partitions taken away are no longer ours to resume or drain: a new owner starts from the committed
    offset, so the batches in hand are abandoned first (no record is handled by two members at once)."""

    def __init__(self, loop: TierConsumer) -> None:
        self._loop = loop

    async def on_partitions_revoked(self, revoked: list[TopicPartition]) -> None:
        await self._loop.abandon(list(revoked))
        self._loop.forget(list(revoked))

    async def on_partitions_assigned(self, assigned: list[TopicPartition]) -> None:
        return None
