"""The materialized view of `reelstream.jobs.status` that GET, list and SSE read from.

One manually assigned consumer (no consumer group: every replica reads everything) replays the compacted
topic from the beginning and keeps the newest snapshot of every job (rules in `ingest.job_index`). The
view is `caught_up` once it has read up to the end offsets taken when it started. Waiters subscribe to one
job and receive each snapshot that becomes current, in order.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterator
from typing import Any

from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition

from ingest.job_index import JobIndex, Snapshot, SortKey
from schemas.errors import RegistryUnavailableError, SerializationError
from schemas.events import JobStatus
from schemas.serde import AvroSerde
from schemas.topics import JOB_STATUS, Topic

logger = logging.getLogger(__name__)

FETCH_TIMEOUT_MS = 1000
REGISTRY_RETRY_SECONDS = 2.0
START_TIMEOUT_SECONDS = 30.0
UPDATES_BUFFER = 256


class Updates:
    """The snapshots of one job that became current since subscribing, in order (each outranks the one
    before). Bounded: a reader that falls far behind loses the oldest intermediate ones, never the newest."""

    def __init__(self, job_id: str) -> None:
        self.job_id = job_id
        self._queue: asyncio.Queue[Snapshot] = asyncio.Queue(UPDATES_BUFFER)

    def offer(self, snapshot: Snapshot) -> None:
        if self._queue.full():
            self._queue.get_nowait()
        self._queue.put_nowait(snapshot)

    async def get(self) -> Snapshot:
        return await self._queue.get()


class StatusView:
    """Construct freely (no I/O); `await start()` / `await stop()` from the application's lifespan."""

    def __init__(
        self,
        bootstrap: str,
        serde: AvroSerde,
        *,
        topic: Topic[JobStatus] = JOB_STATUS,
        client_id: str = "reelstream-ingest-view",
    ) -> None:
        self._bootstrap = bootstrap
        self._serde = serde
        self._client_id = client_id
        self._topic = topic
        self._index = JobIndex()
        self._subscribers: dict[str, set[Updates]] = {}
        self._consumer: AIOKafkaConsumer | None = None
        self._task: asyncio.Task[None] | None = None
        self._caught_up = asyncio.Event()
        self._pending: dict[TopicPartition, int] = {}

    # ---- lifecycle -----------------------------------------------------------------------------------

    async def start(self) -> None:
        consumer = AIOKafkaConsumer(
            bootstrap_servers=self._bootstrap,
            client_id=self._client_id,
            group_id=None,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            isolation_level="read_committed",
        )
        await consumer.start()
        self._consumer = consumer
        partitions = [TopicPartition(self._topic.name, p) for p in range(self._topic.partitions)]
        consumer.assign(partitions)
        async with asyncio.timeout(START_TIMEOUT_SECONDS):
            await consumer.seek_to_beginning(*partitions)
            ends = await consumer.end_offsets(partitions)
        self._pending = {tp: end for tp, end in ends.items() if end > 0}
        logger.info("status view replaying %s (%d records at most)", self._topic.name, sum(ends.values()))
        await self._check_caught_up()
        self._task = asyncio.create_task(self._run(), name="status-view")

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

    async def wait_caught_up(self) -> None:
        await self._caught_up.wait()

    # ---- reading and writing the view ----------------------------------------------------------------

    def get(self, job_id: str) -> JobStatus | None:
        snapshot = self._index.get(job_id)
        return snapshot.status if snapshot else None

    def snapshot(self, job_id: str) -> Snapshot | None:
        return self._index.get(job_id)

    def page(self, tenant_id: str, limit: int, after: SortKey | None) -> tuple[list[JobStatus], str | None]:
        return self._index.page(tenant_id, limit, after)

    def apply(self, status: JobStatus, *, local: bool = False) -> bool:
        """Record a snapshot (a local placeholder only fills a gap); notify subscribers if it is current."""
        if not self._index.apply(status, local=local):
            return False
        snapshot = Snapshot(status, local)
        for updates in self._subscribers.get(status.job_id, ()):
            updates.offer(snapshot)
        return True

    @contextlib.contextmanager
    def subscribe(self, job_id: str) -> Iterator[Updates]:
        """Snapshots of `job_id` that become current while the block runs."""
        updates = Updates(job_id)
        self._subscribers.setdefault(job_id, set()).add(updates)
        try:
            yield updates
        finally:
            subscribers = self._subscribers[job_id]
            subscribers.discard(updates)
            if not subscribers:
                del self._subscribers[job_id]

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
            logger.exception("status view stopped")

    async def _consume(self, batches: dict[TopicPartition, list[ConsumerRecord[Any, Any]]]) -> bool:
        """Apply fetched records; False if the registry was unavailable (that partition is rewound)."""
        assert self._consumer is not None
        complete = True
        for tp, records in batches.items():
            for record in records:
                try:
                    await self._ingest(record)
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
        return complete

    async def _ingest(self, record: ConsumerRecord[Any, Any]) -> None:
        where = {"topic": record.topic, "partition": record.partition, "offset": record.offset}
        if record.value is None:
            if record.key is not None and self._index.remove(bytes(record.key).decode(errors="replace")):
                logger.info("job removed by tombstone", extra=where)
            return
        try:
            status = await self._serde.deserialize(self._topic, bytes(record.value))
        except (SerializationError, ValueError, TypeError, KeyError):
            logger.warning(
                "skipping undecodable record at %s[%d]@%d",
                record.topic,
                record.partition,
                record.offset,
                extra=where,
            )
            return
        self.apply(status)

    async def _check_caught_up(self) -> None:
        assert self._consumer is not None
        for tp, end in list(self._pending.items()):
            if await self._consumer.position(tp) >= end:
                del self._pending[tp]
        if not self._pending and not self._caught_up.is_set():
            logger.info("status view caught up: %d jobs", len(self._index))
            self._caught_up.set()
