"""The materialized view of `reelstream.jobs.status` that GET, list and SSE read from.

The consume loop (`reelstream.kafka.compacted_view`) reads the compacted topic on every replica; this view
keeps the newest snapshot of every job (rules in `ingest.job_index`) in the local store, each fetched batch
written atomically with the offsets it came from, so a restart over the same state directory resumes from
that checkpoint and a replica with an empty one replays the topic (`reelstream.kafka.stored_view`).
Waiters subscribe to one job and receive each snapshot that becomes current, in order.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import OrderedDict
from collections.abc import Callable, Iterator
from typing import cast

from ingest.job_index import EVERY_JOB, MAX_SCAN, JobFacts, JobFilter, JobIndex, Snapshot, SortKey
from ingest.retention import Expiries, Retention, RetentionOf
from ingest.submission import placeholder_of
from reelstream.errors import InvalidRecordError
from reelstream.kafka.security import PLAINTEXT, KafkaSecurity
from reelstream.kafka.stored_view import CHECKPOINT_MAX_AGE_SECONDS, StoredView
from reelstream.local_store import Namespace
from schemas.errors import SerializationError
from schemas.events import JobStatus, SubmitJob
from schemas.serde import AvroSerde
from schemas.topics import COMMANDS, JOB_STATUS, Topic

logger = logging.getLogger(__name__)

UPDATES_BUFFER = 256
MAX_REMEMBERED_DELETIONS = 100_000


def as_stored(status: JobStatus) -> JobStatus:
    return status


class Updates:
    """The snapshots of one job that became current since subscribing, in order (each outranks the one
    before), then None once the job was deleted (its tombstone, a snapshot marked deleted, or this replica's
    deletion). Bounded: a reader that falls far behind loses the oldest intermediate ones, never the newest
    nor the end."""

    def __init__(self, job_id: str) -> None:
        self.job_id = job_id
        self._queue: asyncio.Queue[Snapshot | None] = asyncio.Queue(UPDATES_BUFFER)

    def offer(self, snapshot: Snapshot | None) -> None:
        if self._queue.full():
            self._queue.get_nowait()
        self._queue.put_nowait(snapshot)

    def end(self) -> None:
        """The job is gone: the reader gets None after what it has not read yet."""
        self.offer(None)

    async def get(self) -> Snapshot | None:
        return await self._queue.get()


class StatusView(StoredView[JobFacts]):
    """Construct freely (no I/O); `await start()` / `await stop()` from the application's lifespan."""

    LAYOUT = 2  # 2: the record in the tenant's listing, not the job's entry (ingest.job_keys)

    def __init__(
        self,
        bootstrap: str,
        serde: AvroSerde,
        state: Namespace,
        *,
        topic: Topic[JobStatus] = JOB_STATUS,
        client_id: str = "reelstream-ingest-view",
        retention: Retention | None = None,
        retention_of: RetentionOf | None = None,
        in_clear: Callable[[JobStatus], JobStatus] = as_stored,
        security: KafkaSecurity = PLAINTEXT,
        max_age: float = CHECKPOINT_MAX_AGE_SECONDS,
    ) -> None:
        """`retention`: the platform's; `retention_of`: a tenant's, its overrides applied (the tenant
        registry's lookup; None: `retention` for all); `in_clear`: a snapshot as the API shows it, its
        sealed fields opened (`ingest.sealed_jobs.SealedJobs.in_clear`; default: as stored)."""
        # the view applies JobFacts read from the topic's JobStatus records (`_decode`): its loop sees facts
        facts_topic = cast(Topic[JobFacts], topic)
        super().__init__(
            bootstrap,
            serde,
            state,
            topic=facts_topic,
            client_id=client_id,
            security=security,
            max_age=max_age,
        )
        self._serde, self._status_topic = serde, topic
        self.expiries = Expiries(retention or Retention(), state, retention_of)
        self._deleted: OrderedDict[str, None] = OrderedDict()  # jobs this replica deleted, newest last
        self._reaper: Callable[[JobStatus], None] | None = None
        self._index = JobIndex(
            state,
            lambda raw: serde.decode_seen(topic, raw),
            lambda raw: placeholder_of(cast(SubmitJob, serde.decode_seen(COMMANDS, raw))),
            self.expiries,
            self.batch,
        )
        self._subscribers: dict[str, set[Updates]] = {}
        self.in_clear = in_clear

    async def _decode(self, raw: bytes) -> JobFacts:
        """Only what the index needs: a replay builds no JobStatus (`ingest.job_keys.JobFacts`)."""
        return JobFacts.of_datum(await self._serde.writer_datum(raw))

    def _on_stored(self, key: str | None, value: JobFacts, raw: bytes) -> None:
        if value.deleted or value.job_id in self._deleted:  # after its deletion (ingest.deletion)
            self._index.remove(value.job_id)
            self._end_streams(value.job_id)
            if self._reaper is not None and self.caught_up:  # replayed ones: their tombstone follows
                status = self._status(raw)
                if status is not None:
                    self._reaper(status)
            return
        self._apply(value, raw, local=False)  # the index keeps the bytes (see ingest.job_index)

    def _check(self, key: str | None, value: JobFacts) -> None:
        """A snapshot is keyed by its own job id: under another key, compaction would keep the wrong one."""
        if not value.job_id or (key is not None and key != value.job_id):
            raise InvalidRecordError(f"a snapshot of job {value.job_id!r} under the key {key!r}")

    def _on_tombstone(self, key: str) -> bool:
        self._end_streams(key)
        if self.caught_up:  # read live: the job was deleted (only ingest.deletion tombstones a snapshot)
            self._remember_deleted(key)  # a snapshot of it still to come is reaped here too (see `deleting`)
        return self._index.remove(key)

    def _end_streams(self, job_id: str) -> None:
        """Tell whoever follows a deleted job that it is gone (an event stream then ends at once)."""
        for updates in self._subscribers.get(job_id, ()):
            updates.end()

    # ---- reading and writing the view ----------------------------------------------------------------

    def get(self, job_id: str) -> JobStatus | None:
        snapshot = self._index.get(job_id)
        return snapshot.status if snapshot else None

    def snapshot(self, job_id: str) -> Snapshot | None:
        return self._index.get(job_id)

    def page(
        self,
        tenant_id: str,
        limit: int,
        after: SortKey | None,
        where: JobFilter = EVERY_JOB,
        max_scan: int = MAX_SCAN,
    ) -> tuple[list[JobStatus], str | None]:
        return self._index.page(tenant_id, limit, after, where, max_scan)

    def reap_with(self, reaper: Callable[[JobStatus], None]) -> None:
        """Who is handed the snapshots of deleted jobs read live (before `start`)."""
        self._reaper = reaper

    def deleting(self, job_id: str) -> None:
        """Forget the job now and treat any later snapshot of it as one to reap. Every replica does the
        same for a tombstone it reads live, so a success the scheduler wrote after another replica's
        tombstone (it finished before the scheduler read the deletion's cancel) is never shown and is
        reaped by every replica that reads it, not only by the one that deleted the job."""
        self._remember_deleted(job_id)
        self._index.remove(job_id)
        self._end_streams(job_id)
        self.write_now()

    def _remember_deleted(self, job_id: str) -> None:
        self._deleted[job_id] = None
        self._deleted.move_to_end(job_id)
        if len(self._deleted) > MAX_REMEMBERED_DELETIONS:
            self._deleted.popitem(last=False)

    def apply(self, status: JobStatus, *, raw: bytes, local: bool = False) -> bool:
        """Record a snapshot (a local placeholder only fills a gap); notify subscribers if it is current.
        `raw`: the record it came from; a local placeholder's, the SubmitJob record it was made from
        (ingest.submission.placeholder_of), so it is kept as bytes without being serialized."""
        if not self._apply(JobFacts.of(status), raw, local=local, status=status):
            return False
        if local:  # written now; snapshots read from the topic are written with their batch's offsets
            self.note_schema(raw)
            self.write_now()
        return True

    def _apply(self, job: JobFacts, raw: bytes, *, local: bool, status: JobStatus | None = None) -> bool:
        if not self._index.apply(job, raw=raw, local=local):
            return False
        subscribers = self._subscribers.get(job.job_id, ())
        status = status or (self._status(raw) if subscribers else None)  # decoded for someone waiting only
        if status is not None:
            for updates in subscribers:
                updates.offer(Snapshot(status, local))
        return True

    def _status(self, raw: bytes) -> JobStatus | None:
        """The snapshot a record holds; None (logged) if it cannot be read as this code's JobStatus."""
        try:
            return self._serde.decode_seen(self._status_topic, raw)
        except SerializationError as exc:
            logger.warning("a status record cannot be decoded: %s", exc.code)
            return None

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
