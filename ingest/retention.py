"""How long a finished job and its video are kept, and which are due: pure (no Kafka, no clock of its own).

A job's record expires `records` after it finished (its terminal state's time), its video (a success's
artifact) `videos` after. Active jobs never expire. The platform's settings give the default `Retention`;
the operator may override either per tenant on its registry record (`of_tenant`).

`Expiries` keeps the finished jobs by tenant and FINISH time, not due time, in the status view's local
store: `R<len BE2><tenant><finished µs><job id>` (records) and `V…` (succeeded jobs with a video;
`reelstream.local_store`). A job's keys so depend on its snapshot only, and a tenant's changed override
applies to every job it already has at the next sweep with nothing recomputed: the sweep reads, per tenant
that has finished jobs, the one range `[tenant's first key, now - its retention]`, i.e. exactly the due
ones, never every job of the view, and holds nothing per job in memory. Tenants are found by skipping from
one tenant's prefix to the next (one seek per tenant). (A due-time layout would have to rewrite every key
of a tenant whose override changed; the previous `r`/`v` due-time keys are no longer read.)
"""

from __future__ import annotations

import math
import struct
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from ingest.job_keys import micros, ordered
from reelstream.local_store import Namespace
from schemas.events import JobState, JobStatus
from schemas.views import job_resource


@dataclass(frozen=True)
class Retention:
    records: timedelta = timedelta(days=30)
    videos: timedelta = timedelta(days=7)

    def overridden(self, records_days: int | None, videos_days: int | None) -> Retention:
        """This retention with a tenant's overrides (days; None keeps the default)."""
        return Retention(
            self.records if records_days is None else timedelta(days=records_days),
            self.videos if videos_days is None else timedelta(days=videos_days),
        )


def longest_video_override(videos: timedelta) -> int:
    """The longest video override in days: the object store's lifecycle rule deletes every object a day past
    the platform's video retention in whole days (`devstack.manager.lifecycle_days`, the chart's bucket Job),
    so a tenant's videos cannot be kept longer than that."""
    return max(1, math.ceil(videos.total_seconds() / 86400))


RetentionOf = Callable[[str], "Retention"]  # a tenant's retention, by tenant id


class Finishing(Protocol):
    """What retention reads of a job: a JobStatus, or the index's JobFacts."""

    @property
    def tenant_id(self) -> str: ...
    @property
    def state(self) -> JobState: ...
    @property
    def state_times(self) -> Mapping[str, datetime]: ...
    @property
    def updated_at(self) -> datetime: ...
    @property
    def artifact(self) -> object | None: ...


def finished_at(status: Finishing) -> datetime | None:
    if not status.state.terminal:
        return None
    return status.state_times.get(status.state.value, status.updated_at)


def expires_at(status: Finishing, retention: Retention) -> datetime | None:
    """When the job (its record, and its video if it still has one) is deleted; None while it is active."""
    finished = finished_at(status)
    return None if finished is None else finished + retention.records


def video_expires_at(status: Finishing, retention: Retention) -> datetime | None:
    """When a succeeded job's video and poster are deleted (the job record stays until `expires_at`)."""
    finished = finished_at(status)
    if finished is None or status.state is not JobState.SUCCEEDED or status.artifact is None:
        return None
    return finished + min(retention.videos, retention.records)


def retained_resource(status: JobStatus, retention: Retention) -> dict[str, Any]:
    """The job as the API shows it, with when it and its video expire (null while it runs)."""
    return job_resource(status, (expires_at(status, retention), video_expires_at(status, retention)))


_LEN = struct.Struct(">H")
RECORDS, VIDEOS = b"R", b"V"


def _prefix(kind: bytes, tenant_id: str) -> bytes:
    raw = tenant_id.encode()
    return kind + _LEN.pack(len(raw)) + raw


def _after(prefix: bytes) -> bytes:
    """The first key past every key that starts with `prefix` (its last byte is an id's: never 0xff)."""
    return prefix[:-1] + bytes([prefix[-1] + 1])


class Expiries:
    """The finished jobs by tenant and finish time. The status view writes `keys(status)` with each snapshot
    (and deletes them with it); `due_*` take out the ids due at `now` under each tenant's retention (the
    caller checks the job's current snapshot: one deleted or changed since is skipped there); `note` puts a
    job back (a sweep that failed). `retention_of` is the retention of a tenant (the application passes
    the tenant registry's lookup, `TenantTable.retention_lookup`); None: `retention` for every tenant."""

    def __init__(
        self, retention: Retention, store: Namespace, retention_of: RetentionOf | None = None
    ) -> None:
        self.retention = retention
        self.retention_of: RetentionOf = retention_of or (lambda tenant_id: retention)
        self._store = store

    def keys(self, status: Finishing, job_id: str) -> tuple[bytes, ...]:
        finished = finished_at(status)
        if finished is None:
            return ()
        tail = ordered(micros(finished)) + job_id.encode()
        video = status.state is JobState.SUCCEEDED and status.artifact is not None
        kinds = (RECORDS, VIDEOS) if video else (RECORDS,)
        return tuple(_prefix(kind, status.tenant_id) + tail for kind in kinds)

    def note(self, status: JobStatus) -> None:
        self._store.write(dict.fromkeys(self.keys(status, status.job_id), b""))

    def due_records(self, now: datetime) -> list[str]:
        return self._take(RECORDS, now, lambda r: r.records)

    def due_videos(self, now: datetime) -> list[str]:
        return self._take(VIDEOS, now, lambda r: min(r.videos, r.records))

    def _take(self, kind: bytes, now: datetime, keep: Callable[[Retention], timedelta]) -> list[str]:
        due: list[bytes] = []
        for tenant_id, prefix in self._tenants(kind):
            cutoff = micros(now - keep(self.retention_of(tenant_id)))
            due += [key for key, _ in self._store.scan(prefix, prefix + ordered(cutoff + 1))]
        self._store.write(dict.fromkeys(due))
        return [key[3 + _LEN.unpack_from(key, 1)[0] + 8 :].decode() for key in due]

    def _tenants(self, kind: bytes) -> list[tuple[str, bytes]]:
        """Every tenant with keys of `kind`, with its prefix: one seek per tenant."""
        found, start, end = [], kind, _after(kind)
        while (first := next(self._store.scan(start, end), None)) is not None:
            size = _LEN.unpack_from(first[0], 1)[0]
            prefix = first[0][: 3 + size]
            found.append((prefix[3:].decode(), prefix))
            start = _after(prefix)
        return found
