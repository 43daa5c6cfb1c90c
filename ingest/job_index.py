"""The index of job snapshots behind the status view, kept in the local store (`reelstream.local_store`):
no Kafka, no asyncio, nothing per job in memory.

Rules: per job the snapshot with the highest `version` wins and an older one never overwrites a newer one;
a local placeholder (the `accepted` snapshot ingest records right after a submit) only fills a gap and is
replaced by any real snapshot, whatever its version. Jobs are also indexed per tenant, newest first, for
cursor pagination, which can filter by state, model and creation time (`JobFilter`) without decoding a
record: the tenant key's value is the job's state and model (layout: `ingest.job_keys`).

A job's listing keeps the snapshot's record as it came from Kafka (a local placeholder: the SubmitJob record
it is made from), decoded only when read, so the index never decodes more than it needs, and opaque fields
(prompts, encrypted or not) are never looked at. The record sits in the tenant's key, not the job's: a page
reads one contiguous range, a GET two small point reads. Writes go to a `Batch` the view commits with the
offsets they came from; reads see it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from ingest.job_keys import (
    CURSOR_PATTERN,
    EPOCH,
    EVERY_JOB,
    MAX_SCAN,
    Entry,
    JobFacts,
    JobFilter,
    Listing,
    SortKey,
    decode_cursor,
    encode_cursor,
    job_key,
    micros,
    ordered,
    sort_key,
    split_tenant_key,
    tenant_key,
    tenant_prefix,
)
from ingest.retention import Expiries
from reelstream.local_store import Batch, Namespace
from schemas.events import JobStatus

__all__ = [
    "CURSOR_PATTERN",
    "EPOCH",
    "EVERY_JOB",
    "MAX_SCAN",
    "JobFacts",
    "JobFilter",
    "JobIndex",
    "Snapshot",
    "SortKey",
    "decode_cursor",
    "encode_cursor",
    "sort_key",
]


@dataclass(frozen=True, slots=True)
class Snapshot:
    status: JobStatus
    local: bool = False

    @property
    def rank(self) -> tuple[int, int]:
        """Orders snapshots of one job: by version, and a real snapshot above a local one of equal version."""
        return (self.status.version, 0 if self.local else 1)


class JobIndex:
    """`decode` turns a kept record back into its JobStatus; `decode_local`, the record a local placeholder
    is made from; `expiries`, the due-time keys written beside each finished job; `batch`, where writes go
    (the view's, committed with its offsets)."""

    def __init__(
        self,
        store: Namespace,
        decode: Callable[[bytes], JobStatus],
        decode_local: Callable[[bytes], JobStatus],
        expiries: Expiries | None = None,
        batch: Batch | None = None,
    ) -> None:
        self.store = store
        self._decode, self._decode_local = decode, decode_local
        self._expiries = expiries
        self.batch: Batch = batch if batch is not None else store.batch()

    def get(self, job_id: str) -> Snapshot | None:
        entry = self._entry(job_id)
        if entry is None:
            return None
        value = self.batch.get(tenant_key(entry.tenant_id, (entry.first, job_id)))
        if value is None:  # the entry and its listing are written and deleted in one batch
            raise RuntimeError(f"the local store holds job {job_id} without its listing")
        return Snapshot(self._status(Listing.unpack(value)), local=not entry.real)

    def apply(self, job: JobFacts, *, raw: bytes, local: bool = False) -> bool:
        """Record a snapshot if it is newer than what is known; True when it became the current one. `raw`:
        the record `job` was read from (a local placeholder: made from), kept as it is."""
        old = self._entry(job.job_id)
        rank = (job.version, 0 if local else 1)
        if old is not None and (local or rank <= old.rank):
            return False
        first = -micros(job.created_at)
        dues = self._expiries.keys(job, job.job_id) if self._expiries is not None and not local else ()
        new = Entry(job.version, not local, job.tenant_id, first, job.state.value, job.model, dues)
        if old is not None:
            self._unindex(job.job_id, old)
        self.batch.put(job_key(job.job_id), new.pack())
        self.batch.put(tenant_key(job.tenant_id, (first, job.job_id)), new.listing(raw))
        for due in dues:
            self.batch.put(due, b"")
        return True

    def remove(self, job_id: str) -> bool:
        """A tombstone: forget the job and every key pointing at it. True if it was known."""
        old = self._entry(job_id)
        if old is None:
            return False
        self._unindex(job_id, old)
        self.batch.delete(job_key(job_id))
        return True

    def _entry(self, job_id: str) -> Entry | None:
        packed = self.batch.get(job_key(job_id))
        return None if packed is None else Entry.unpack(packed)

    def _status(self, listing: Listing) -> JobStatus:
        return (self._decode if listing.real else self._decode_local)(listing.record)

    def _unindex(self, job_id: str, entry: Entry) -> None:
        self.batch.delete(tenant_key(entry.tenant_id, (entry.first, job_id)))
        for due in entry.due_keys:
            self.batch.delete(due)

    def page(
        self,
        tenant_id: str,
        limit: int,
        after: SortKey | None = None,
        where: JobFilter = EVERY_JOB,
        max_scan: int = MAX_SCAN,
    ) -> tuple[list[JobStatus], str | None]:
        """Up to `limit` jobs of a tenant that `where` admits, newest first, strictly after the cursor; and
        the next cursor (None: no more). A filtered page looks at most `max_scan` jobs, so it may hold fewer
        than `limit`, even none, with a cursor to go on from. One range scan of the tenant's keys."""
        prefix = tenant_prefix(tenant_id)
        first, stop = where.keys()
        start = prefix + ordered(first)
        if after is not None:
            start = max(start, tenant_key(tenant_id, after) + b"\0")  # strictly after the cursor's key
        end = prefix + ordered(stop) if stop < 2**63 else prefix + b"\xff" * 9
        chosen: list[Listing] = []
        last, more = None, False
        for scanned, (raw_key, value) in enumerate(self.store.scan(start, end)):
            if len(chosen) >= limit or scanned >= max_scan:
                more = True
                break
            last = split_tenant_key(tenant_id, raw_key)
            listing = Listing.unpack(value)
            if where.admits(listing.state, listing.model):
                chosen.append(listing)
        jobs = [self._status(listing) for listing in chosen]
        return jobs, encode_cursor(last) if more and last is not None else None
