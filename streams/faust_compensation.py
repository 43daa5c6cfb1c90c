"""What compensates for Faust, in one place: records an agent was not handed, read from the log, taken as
Faust's current event; and signal handlers connected the way Faust needs them.

Faust (0.15) delivers a record to an agent only while its flow control is active and the record's consumer
generation is current; otherwise the stream skips the record and acks it, and the group's committed offset
can then pass a record no agent saw (seen after restarts of the scheduler and of admission). Seeking Faust's
consumer back races with what it has already fetched, and its read-offset filter can then drop the sought
record for good. So a stage that notices the records it is handed skip ahead reads the ones between itself,
with a consumer of its own (no group, no committed offsets), and processes them first.

A stage whose source has no records of its own making (admission; the scheduler has its ticks) would notice
such a gap only when the next record came, which may be never. After a SIGKILL, a respawned admission was
also seen to be handed nothing at all for minutes while its partition held records. `Inbox` covers both: a
partition quiet for a while whose log ends past what was taken is read up from the log.
"""

from __future__ import annotations

import asyncio
import logging
import time
import weakref
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, cast

import faust
from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import KafkaError

# Faust's current event: what its tables write changelogs for. Faust has a public getter (current_event())
# and no public setter; this module is the only one that touches the private variable (as_current_event).
from faust.streams import _current_event

from reelstream.kafka.clients import BrokerUnavailableError
from reelstream.kafka.consume_loop import read_range
from reelstream.kafka.pending_acks import PendingAcks
from reelstream.kafka.security import PLAINTEXT, KafkaSecurity
from schemas.topics import Topic
from streams.inbox_order import InboxOrder, inbox_order

logger = logging.getLogger(__name__)


class LogReader:
    """Reads ranges of one topic's partitions. What retention deleted is not there to read: the records
    that remain are returned."""

    def __init__(
        self, bootstrap: str, topic: Topic[Any], timeout: float = 30.0, security: KafkaSecurity = PLAINTEXT
    ) -> None:
        self._bootstrap, self._security = bootstrap, security
        self.topic = topic
        self._timeout = timeout
        self._consumer: AIOKafkaConsumer | None = None

    async def read(self, partition: int, first: int, end: int) -> list[faust.EventT[bytes]]:
        """The records of `partition` from offset `first` up to, not including, `end`, shaped as the Faust
        events a stage context reads (`message`, `value`)."""
        consumer, tp = await self._started(), TopicPartition(self.topic.name, partition)
        consumer.assign([tp])
        records: list[_Missed] = []
        try:
            async with asyncio.timeout(self._timeout):
                records += [_Missed(_Message.of(r)) async for r in read_range(consumer, tp, first, end)]
        except (TimeoutError, KafkaError) as exc:
            where = f"{self.topic.name}[{partition}] {first}..{end - 1}"
            raise BrokerUnavailableError(f"records {where} could not be read: {exc!r}") from exc
        return cast(list[faust.EventT[bytes]], records)

    async def end_offsets(self, partitions: list[int]) -> dict[int, int]:
        """The offset the next record of each partition will have."""
        return await self._offsets(partitions, "end_offsets")

    async def start_offsets(self, partitions: list[int]) -> dict[int, int]:
        """The offset of the oldest record each partition still holds (or would hold)."""
        return await self._offsets(partitions, "beginning_offsets")

    async def _offsets(self, partitions: list[int], which: str) -> dict[int, int]:
        consumer = await self._started()
        tps = [TopicPartition(self.topic.name, p) for p in partitions]
        try:
            async with asyncio.timeout(self._timeout):
                offsets = await getattr(consumer, which)(tps)
        except (TimeoutError, KafkaError) as exc:
            raise BrokerUnavailableError(f"{which} of {self.topic.name} unknown: {exc!r}") from exc
        return {tp.partition: offset for tp, offset in offsets.items()}

    async def _started(self) -> AIOKafkaConsumer:
        if self._consumer is None:
            self._consumer = AIOKafkaConsumer(
                bootstrap_servers=self._bootstrap, enable_auto_commit=False, **self._security.aiokafka()
            )
            await self._consumer.start()
        return self._consumer

    async def committed(self, group_id: str, partitions: list[int]) -> dict[int, int]:
        """The group's committed offsets (the next record to read) of those partitions that have one."""
        admin = AIOKafkaAdminClient(bootstrap_servers=self._bootstrap, **self._security.aiokafka())
        tps = [TopicPartition(self.topic.name, p) for p in partitions]
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


Take = Callable[[faust.EventT[bytes]], Awaitable[None]]
Settle = Callable[[], Awaitable[None]]


class Inbox:
    """The last offset a stage took of each assigned partition of its source, and the records Faust never
    handed it, read from the log (LogReader) in order before anything after them.

    A gap shows when a record comes past the one after the last taken (`handle`) or, when none comes, once a
    partition has been quiet for `quiet` seconds while its log ends past what was taken (`watch`, which looks
    every `every` seconds). `take` processes one record; `settle` waits until what the records taken so far
    produced is durable, so a record handed over later and acknowledged as seen is never committed ahead of
    the output of the copy read from the log."""

    @classmethod
    def of_app(cls, app: faust.App, reader: LogReader) -> Inbox:
        """The inbox of `app`'s source (the reader's topic), following the group's assignments; the reader
        is closed with the app."""
        inbox, topic = cls(reader, app.conf.id), reader.topic.name
        connect(app.on_before_shutdown, reader.close_on_shutdown)

        async def assigned(sender: Any, assigned: set[Any], **kwargs: Any) -> None:
            await inbox.assigned(sorted(tp.partition for tp in assigned if tp.topic == topic))

        async def revoked(sender: Any, revoked: set[Any], **kwargs: Any) -> None:
            inbox.revoked()

        connect(app.on_partitions_assigned, assigned)
        connect(app.on_partitions_revoked, revoked)
        return inbox

    def __init__(self, reader: LogReader, group_id: str, *, quiet: float = 2.0, every: float = 1.0) -> None:
        self._reader = reader
        self._group_id = group_id
        self._quiet = quiet
        self._every = every
        self.taken: dict[int, int] = {}  # partition → the last offset taken (its first offset - 1 at first)
        self._active: dict[int, float] = {}  # partition → when it last took a record, or was assigned
        self._turn = asyncio.Lock()  # one record at a time: Faust's next, or those read from the log

    async def assigned(self, partitions: list[int]) -> None:
        """Where the group stood when the partitions came: its committed offsets, or, for a partition it
        never committed, the partition's first offset (the group reads from the earliest)."""
        self.taken.clear()
        try:
            committed = await self._reader.committed(self._group_id, partitions)
            fresh = [p for p in partitions if p not in committed]
            starts = await self._reader.start_offsets(fresh) if fresh else {}
        except BrokerUnavailableError as exc:  # unknown: take what comes, until the next assignment
            logger.warning("committed offsets unknown: %s", exc)
            return
        for partition, offset in (starts | committed).items():
            self.taken.setdefault(partition, offset - 1)  # a record taken meanwhile is further along
        self._active.update(dict.fromkeys(partitions, time.monotonic()))

    def revoked(self) -> None:
        self.taken.clear()

    async def handle(self, event: faust.EventT[bytes], take: Take, settle: Settle) -> None:
        """One record Faust handed over: taken (after the records it skipped ahead of), or, when it was
        taken already, acknowledged."""
        partition, offset = event.message.partition, event.message.offset
        async with self._turn:
            match inbox_order(self.taken.get(partition), offset):
                case InboxOrder.SEEN:  # redelivered, or read from the log already
                    event.ack()
                    return
                case InboxOrder.AHEAD:
                    await self._read_up(partition, offset, take, settle)
            await take(event)
            self.taken[partition] = offset
            self._active[partition] = time.monotonic()

    async def watch(self, take: Take, settle: Settle) -> None:
        """Until cancelled: read up every quiet partition whose log ends past what was taken."""
        while True:
            await asyncio.sleep(self._every)
            async with self._turn:
                try:
                    await self._catch_up(take, settle)
                except BrokerUnavailableError as exc:  # looked at again next time
                    logger.warning("could not read up the source: %s", exc)
                except Exception:  # the watcher must outlive one record: looked at again next time
                    logger.exception("reading up the source failed")

    async def _catch_up(self, take: Take, settle: Settle) -> None:
        now = time.monotonic()
        quiet = [p for p in self.taken if now - self._active.get(p, now) >= self._quiet]
        if not quiet:
            return
        for partition, end in (await self._reader.end_offsets(quiet)).items():
            if partition in self.taken and end - 1 > self.taken[partition]:
                await self._read_up(partition, end, take, settle)

    async def _read_up(self, partition: int, end: int, take: Take, settle: Settle) -> None:
        """Take the records of `partition` after the last taken, up to `end` (not included), from the log."""
        fields = {"partition": partition, "expected_offset": self.taken[partition] + 1, "offset": end}
        logger.warning("records not handed over; read from the log", extra=fields)
        for missed in await self._reader.read(partition, self.taken[partition] + 1, end):
            # the record is the current event while it is taken, as one Faust handed over would be: a table
            # written meanwhile sends its changelog to the record's partition (and refuses without an event)
            with as_current_event(missed):
                await take(missed)
            self.taken[partition] = missed.message.offset
        await settle()
        self.taken[partition] = max(self.taken[partition], end - 1)  # retention may have deleted some


Process = Callable[[faust.EventT[bytes], list[asyncio.Future[Any]]], Awaitable[None]]


async def take_acked_when_written(stream: faust.StreamT[bytes], inbox: Inbox, process: Process) -> None:
    """The stream's records in turn, without waiting for the broker between them: `process(record, sent)`
    queues what it produces into `sent`, and the record's offset becomes committable once every one of those
    was acknowledged (reelstream.kafka.pending_acks). Records Faust does not hand over are read from the
    log (`inbox`)."""
    pending = PendingAcks()

    async def take(record: faust.EventT[bytes]) -> None:
        await pending.room()
        sent: list[asyncio.Future[Any]] = []
        await process(record, sent)
        pending.track(sent, record.ack)

    watcher = asyncio.create_task(inbox.watch(take, pending.drained))
    try:
        records = cast(faust.Stream[bytes], stream).noack()  # acked by `pending`; StreamT lacks noack
        async for event in records.events():
            await inbox.handle(event, take, pending.drained)
    finally:
        watcher.cancel()


@contextmanager
def as_current_event(event: faust.EventT[bytes]) -> Iterator[None]:
    """`event` is Faust's current event meanwhile, as one Faust handed over would be: a table written
    meanwhile sends its changelog record to the event's partition (and refuses without an event)."""
    current = _current_event.set(weakref.ref(event))
    try:
        yield
    finally:
        _current_event.reset(current)


Handler = Callable[..., Awaitable[None]]


def connect(signal: Any, handler: Handler) -> None:
    """Connect `handler` to one of the app's signals (on_partitions_assigned, on_before_shutdown, ...).
    weak=False: held weakly, a closure would vanish at once. `signal` is untyped here: mode types handlers
    with mypy_extensions argument kinds that no `async def` matches."""
    signal.connect(handler, weak=False)


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
