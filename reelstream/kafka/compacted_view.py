"""The one consume loop behind the materialized views of compacted topics (ingest's views, admission's
tenant limits, the webhook tenant views).

A manually assigned consumer (no consumer group: every replica reads everything) replays the topic from the
beginning; each decoded value goes to `_on_value`, each tombstone to `_on_tombstone`. The view is
`caught_up` once it has read up to the end offsets taken when it started. Subclasses hold the state.

A record the view cannot apply (undecodable, or breaking `_check`) is skipped; once the view has caught up it
is also parked (ingest: on `reelstream.dlq.ingest`) through the parker given to `dead_letter_with`. Records
met while replaying at start-up are only logged: the replica that read them live parked them (so each live
replica parks a poison record once, and a restart parks nothing again).

A view that keeps its state on disk (ingest's status view: `reelstream.local_store`) says where to resume
(`_resume`: partition → next offset, checkpointed with the data) and is handed, after each fetched batch,
the offsets it has consumed, to commit atomically with what they changed (`_commit`). A checkpoint past a
partition's end (the topic was recreated) is discarded (`_discard`) and the topic replayed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time
from collections.abc import Awaitable, Callable
from typing import Any, Generic, TypeVar

from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition

from reelstream.dlq import SourceRecord, headers_dict
from reelstream.errors import ReelstreamError
from reelstream.kafka.security import PLAINTEXT, KafkaSecurity
from schemas.errors import RegistryUnavailableError, SerializationError
from schemas.serde import AvroSerde
from schemas.topics import Topic

logger = logging.getLogger(__name__)

T = TypeVar("T")
Parker = Callable[[SourceRecord, ReelstreamError], Awaitable[Any]]

FETCH_TIMEOUT_MS = 1000
REGISTRY_RETRY_SECONDS = 2.0
START_TIMEOUT_SECONDS = 30.0


class CompactedView(Generic[T]):
    """Construct freely (no I/O); `await start()` / `await stop()` from the application's lifespan."""

    def __init__(
        self,
        bootstrap: str,
        serde: AvroSerde,
        *,
        topic: Topic[T],
        client_id: str,
        security: KafkaSecurity = PLAINTEXT,
    ) -> None:
        self._bootstrap, self._security = bootstrap, security
        self._serde = serde
        self._client_id = client_id
        self._topic = topic
        self._consumer: AIOKafkaConsumer | None = None
        self._task: asyncio.Task[None] | None = None
        self._caught_up = asyncio.Event()
        self._pending: dict[TopicPartition, int] = {}
        self._applied_to: dict[int, int] = {}  # partition → the offset after the last record applied
        self._progress = asyncio.Event()  # set (and replaced) whenever records were applied
        self._park: Parker | None = None
        self._started_at: float | None = None
        self.records_read = 0  # records fetched since `start` (a resumed view reads only the new ones)

    # ---- what a subclass keeps ---------------------------------------------------------------------------

    def _on_value(self, key: str | None, value: T) -> None:
        raise NotImplementedError

    async def _decode(self, raw: bytes) -> T:
        """A record's value (a view that needs only part of it may decode less)."""
        return await self._serde.deserialize(self._topic, raw)

    def _on_record(self, key: str | None, value: T, raw: bytes) -> None:
        """A decoded value with the bytes it came from; a view that keeps the bytes overrides this."""
        self._on_value(key, value)

    def _on_tombstone(self, key: str) -> bool:
        """Forget `key`; True if something was removed."""
        raise NotImplementedError

    def _size(self) -> int:
        return 0

    def _resume(self) -> dict[int, int]:
        """Where a view with a checkpoint resumes (partition → next offset); {}: from the beginning."""
        return {}

    def _discard(self) -> None:
        """Forget the state and checkpoint: they do not belong to this topic's log."""

    def _commit(self, offsets: dict[int, int]) -> None:
        """Make what the records up to `offsets` (partition → next offset) changed durable, with them."""

    def _on_caught_up(self) -> None:
        """Once, when the view has read what the topic held when it started."""

    def _check(self, key: str | None, value: T) -> None:
        """Raise a ReelstreamError if `value` (under `key`) breaks an invariant of the view."""

    def dead_letter_with(self, park: Parker) -> None:
        """Where records the view cannot apply are parked once it has caught up (before `start`)."""
        self._park = park

    # ---- lifecycle -----------------------------------------------------------------------------------

    async def start(self) -> None:
        consumer = AIOKafkaConsumer(
            bootstrap_servers=self._bootstrap,
            **self._security.aiokafka(),
            client_id=self._client_id,
            group_id=None,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            isolation_level="read_committed",
        )
        await consumer.start()
        self._consumer = consumer
        self._started_at = time.time()
        partitions = [TopicPartition(self._topic.name, p) for p in range(self._topic.partitions)]
        consumer.assign(partitions)
        async with asyncio.timeout(START_TIMEOUT_SECONDS):
            ends = await consumer.end_offsets(partitions)
            resume = self._resume()
            if any(offset > ends.get(TopicPartition(self._topic.name, p), 0) for p, offset in resume.items()):
                logger.warning("checkpoint of %s is past the topic's end; replaying", self._topic.name)
                self._discard()
                resume = {}
            for tp in partitions:
                if tp.partition in resume:
                    consumer.seek(tp, resume[tp.partition])
            fresh = [tp for tp in partitions if tp.partition not in resume]
            if fresh:  # (none given, aiokafka would rewind every partition)
                await consumer.seek_to_beginning(*fresh)
        self._applied_to = dict(resume)
        self._pending = {tp: end for tp, end in ends.items() if end > resume.get(tp.partition, 0)}
        logger.info(
            "view of %s %s (%d records at most)",
            self._topic.name,
            "resuming from its checkpoint" if resume else "replaying",
            sum(end - resume.get(tp.partition, 0) for tp, end in ends.items()),
        )
        await self._check_caught_up()
        self._task = asyncio.create_task(self._run(), name=f"view-{self._topic.name}")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        if self._consumer is not None:
            await self._consumer.stop()
            self._consumer = None

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    @property
    def caught_up(self) -> bool:
        return self._caught_up.is_set()

    def silent_seconds(self, now: float | None = None) -> float:
        """How long ago (wall clock) the broker last answered a fetch for EVERY partition of the view: what
        the view holds is at most this old (a fetch answers even when there is nothing new). Infinite
        before the view started."""
        now = time.time() if now is None else now
        if self._consumer is None or self._started_at is None:
            return math.inf
        stamps = [self._consumer.last_poll_timestamp(tp) for tp in self._consumer.assignment()]
        heard = [s / 1000 for s in stamps if s is not None]
        oldest = min(heard) if heard and len(heard) == len(stamps) else self._started_at
        return max(0.0, now - oldest)

    async def wait_caught_up(self) -> None:
        await self._caught_up.wait()

    async def wait_applied(self, partition: int, offset: int) -> None:
        """Until the record at `offset` of `partition` (one this replica wrote, say) has been applied:
        read-back in log order, which decides races between replicas (see `ingest.acceptance`)."""
        while self._applied_to.get(partition, 0) <= offset:
            progress = self._progress
            if not self.running:
                raise RuntimeError(f"the view of {self._topic.name} is not running")
            await progress.wait()

    def _progressed(self) -> None:
        self._progress.set()
        self._progress = asyncio.Event()

    # ---- the consume loop ----------------------------------------------------------------------------

    async def _run(self) -> None:
        assert self._consumer is not None
        try:
            while True:
                batches = await self._consumer.getmany(timeout_ms=FETCH_TIMEOUT_MS)
                if not await self._consume(batches):
                    await asyncio.sleep(REGISTRY_RETRY_SECONDS)  # back off, then re-read from the seek
                if not self._caught_up.is_set():
                    await self._check_caught_up()
        except Exception:  # logged, not swallowed: the view stops, `running` turns False, /readyz fails
            logger.exception("view of %s stopped", self._topic.name)

    async def _consume(self, batches: dict[TopicPartition, list[ConsumerRecord[Any, Any]]]) -> bool:
        """Apply fetched records; False if the registry was unavailable (that partition is rewound)."""
        assert self._consumer is not None
        complete = True
        for tp, records in batches.items():
            self.records_read += len(records)
            for record in records:
                try:
                    await self._ingest(record)
                    self._applied_to[tp.partition] = record.offset + 1
                except RegistryUnavailableError:
                    logger.warning(
                        "registry unavailable; will re-read %s[%d] from offset %d",
                        tp.topic,
                        tp.partition,
                        record.offset,
                        extra={"topic": tp.topic, "partition": tp.partition, "offset": record.offset},
                    )
                    self._consumer.seek(tp, record.offset)
                    complete = False
                    break
        if batches:
            touched = (tp.partition for tp in batches if tp.partition in self._applied_to)
            self._commit({p: self._applied_to[p] for p in touched})
            self._progressed()
        return complete

    async def _ingest(self, record: ConsumerRecord[Any, Any]) -> None:
        where = {"topic": record.topic, "partition": record.partition, "offset": record.offset}
        key = None if record.key is None else bytes(record.key).decode(errors="replace")
        if record.value is None:
            if key is not None and self._on_tombstone(key):
                logger.info("record removed by tombstone", extra=where)
            return
        raw = bytes(record.value)
        try:
            value = await self._decode(raw)
            self._check(key, value)
        except RegistryUnavailableError:
            raise  # not the record's fault: `_consume` re-reads it later
        except ReelstreamError as exc:
            await self._skip(record, exc)
            return
        except (ValueError, TypeError, KeyError) as exc:
            await self._skip(record, SerializationError(f"undecodable record: {exc}"))
            return
        self._on_record(key, value, raw)

    async def _skip(self, record: ConsumerRecord[Any, Any], error: ReelstreamError) -> None:
        where = {"topic": record.topic, "partition": record.partition, "offset": record.offset}
        logger.warning(
            "skipping %s record at %s[%d]@%d: %s",
            "undecodable" if isinstance(error, SerializationError) else "invalid",
            record.topic,
            record.partition,
            record.offset,
            error.code,
            extra=where,
        )
        if self._park is None or not self._caught_up.is_set():
            return
        source = SourceRecord(
            record.topic,
            record.partition,
            record.offset,
            None if record.key is None else bytes(record.key),
            bytes(record.value),
            headers_dict(record.headers),
        )
        try:
            await self._park(source, error)
        except ReelstreamError as exc:  # the view goes on; the record stays skipped and logged
            logger.warning("could not park the record: %s", exc.message, extra=where)

    async def _check_caught_up(self) -> None:
        assert self._consumer is not None
        for tp, end in list(self._pending.items()):
            if await self._consumer.position(tp) >= end:
                del self._pending[tp]
        if not self._pending and not self._caught_up.is_set():
            logger.info(
                "view of %s caught up: %d entries, %d records read",
                self._topic.name,
                self._size(),
                self.records_read,
            )
            self._caught_up.set()
            self._on_caught_up()
