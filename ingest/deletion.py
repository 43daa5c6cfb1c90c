"""Deleting a job: `DELETE /v1/jobs/{id}` and the retention sweep both come here.

In order: (1) an active job gets `CancelJob(delete=True)`: the scheduler ends it canceled with error code
"deleted" whatever its attempt reports later, so it never succeeds and its worker's render stops; (2)
`job.deleted` goes on the events feed (the notifier's only webhook for the job from then on); (3) the job's
objects (every attempt's video and poster, by name: no service may list the bucket) are removed; (4) the job's
`jobs.status` record is tombstoned; (5) the job's key on `reelstream.keys.jobs` is tombstoned: its prompt,
negative prompt and webhook URL, sealed in every topic, are shredded (reelstream.crypto.job_fields). A
snapshot of the job that still arrives afterwards (the scheduler's own, marked "deleted"; a success that raced
the deletion) is reaped by every replica that reads it live: the objects removed again, the snapshot and the
key tombstoned again, so neither an artifact nor a record nor a key outlives the deletion.
Every step is idempotent.

The sweep: finished jobs past their record retention are deleted as above; succeeded jobs past their video
retention lose the video and poster (the record stays, its content answers 410). The retention is the
tenant's: the platform's settings with the operator's overrides on the tenant's registry record
(`ingest.retention`). Every replica sweeps; a second deletion of the same objects or record is harmless.
Logs carry job and tenant ids only.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import replace
from datetime import datetime

from ingest.retention import Expiries, Retention, expires_at, video_expires_at
from ingest.status_view import StatusView
from reelstream.kafka.clients import PRODUCE_ERRORS, Publisher
from reelstream.object_store import ObjectStore, ObjectStoreError, poster_key_for, video_key
from schemas.events import (
    DELETED_CODE,
    CancelJob,
    ErrorInfo,
    JobEvent,
    JobEventType,
    JobStatus,
    utc_now,
)
from schemas.topics import COMMANDS, JOB_EVENTS

logger = logging.getLogger(__name__)

Clock = Callable[[], datetime]
Tombstone = Callable[[str], Awaitable[None]]
Shred = Callable[[str, str], Awaitable[None]]  # (tenant id, job id): the job's key tombstoned
Expiry = Callable[[JobStatus, Retention], datetime | None]  # expires_at or video_expires_at
REAP_QUEUE = 10_000


def object_keys(status: JobStatus) -> list[str]:
    """A job's objects, by name: each attempt's video and poster up to the one after the snapshot's (a
    dispatch racing the delete); a later one is the bucket's lifecycle rule's (nothing may list it)."""
    videos = [video_key(status.tenant_id, status.job_id, n) for n in range(1, max(status.attempt, 0) + 2)]
    return [key for video in videos for key in (video, poster_key_for(video))]


class Deleter:
    """Construct freely (no I/O); `run_reaper()` runs as a task of the application's lifespan."""

    def __init__(
        self,
        publisher: Publisher,
        store: ObjectStore,
        tombstone: Tombstone,
        view: StatusView,
        clock: Clock = utc_now,
        shred: Shred | None = None,
    ) -> None:
        self._publisher, self._store, self._tombstone, self._view = publisher, store, tombstone, view
        self.clock = clock
        self._shred = shred
        self._reap: asyncio.Queue[JobStatus] = asyncio.Queue(REAP_QUEUE)
        view.reap_with(self._reap_later)

    async def delete(self, status: JobStatus, why: str) -> None:
        """Delete the job `status` is the current snapshot of; `why`: "client" or "expired"."""
        job_id, tenant_id = status.job_id, status.tenant_id
        self._view.deleting(job_id)  # later snapshots of it are reaped, not shown
        if not status.state.terminal:
            cancel = CancelJob(job_id, tenant_id, reason="deleted", delete=True)
            await self._publisher.publish(COMMANDS, tenant_id, cancel)
        now = self.clock()
        gone = replace(
            status,
            error=ErrorInfo(DELETED_CODE, f"deleted ({why})", False),
            artifact=None,
            updated_at=now,
            version=status.version + 1,
        )
        event = JobEvent(job_id, tenant_id, JobEventType.DELETED, gone, occurred_at=now)
        await self._publisher.publish(JOB_EVENTS, job_id, event)
        await self._remove_objects(status)
        await self._tombstone(job_id)
        await self._shred_key(status)  # (5) the prompt, negative prompt and webhook URL in every topic
        logger.info(
            "job %s of tenant %s deleted (%s)",
            job_id,
            tenant_id,
            why,
            extra={"job_id": job_id, "tenant_id": tenant_id},
        )

    async def _remove_objects(self, status: JobStatus) -> None:
        await asyncio.to_thread(self._store.remove, object_keys(status))

    # ---- snapshots that arrive after a deletion --------------------------------------------------------

    def _reap_later(self, status: JobStatus) -> None:
        if self._reap.full():
            logger.warning("reap queue full; job %s is reaped by its next snapshot", status.job_id)
            return
        self._reap.put_nowait(status)

    async def reap(self, status: JobStatus) -> None:
        await self._remove_objects(status)
        await self._tombstone(status.job_id)
        await self._shred_key(status)

    async def _shred_key(self, status: JobStatus) -> None:
        if self._shred is not None:
            await self._shred(status.tenant_id, status.job_id)

    async def run_reaper(self) -> None:
        while True:
            status = await self._reap.get()
            try:
                await self.reap(status)
            except (*PRODUCE_ERRORS, ObjectStoreError) as exc:  # its next snapshot or a later sweep retries
                logger.warning("reaping job %s failed: %s", status.job_id, type(exc).__name__)

    # ---- retention --------------------------------------------------------------------------------------

    async def sweep(self, expiries: Expiries) -> list[str]:
        """Delete what is due at `clock()`; returns the ids of the jobs deleted or whose video was removed.
        A job the broker or the object store failed is due again at the next sweep, and so is one taken but
        no longer due (its tenant's override lengthened meanwhile)."""
        now, swept, again = self.clock(), list[str](), list[JobStatus]()
        for job_id in expiries.due_records(now):
            status = self._due(job_id, expires_at, expiries, now, again)
            if status is not None and await self._attempt(self.delete(status, "expired"), status, again):
                swept.append(job_id)
        for job_id in expiries.due_videos(now):
            status = self._due(job_id, video_expires_at, expiries, now, again)
            if status is not None and await self._attempt(self._remove_objects(status), status, again):
                swept.append(job_id)
                fields = {"job_id": job_id, "tenant_id": status.tenant_id}
                logger.info("video of job %s expired", job_id, extra=fields)
        for status in again:
            expiries.note(status)
        return swept

    def _due(
        self, job_id: str, when: Expiry, expiries: Expiries, now: datetime, again: list[JobStatus]
    ) -> JobStatus | None:
        """The job's current snapshot if it is due under its tenant's retention now; None if it was deleted
        already, or is not due (then noted again)."""
        status = self._view.get(job_id)
        if status is None:
            return None
        due = when(status, expiries.retention_of(status.tenant_id))
        if due is None or due > now:
            if due is not None:
                again.append(status)
            return None
        return status

    @staticmethod
    async def _attempt(work: Awaitable[None], status: JobStatus, failed: list[JobStatus]) -> bool:
        try:
            await work
        except (*PRODUCE_ERRORS, ObjectStoreError) as exc:
            logger.warning("retention of job %s failed: %s", status.job_id, type(exc).__name__)
            failed.append(status)
            return False
        return True
