"""How long a finished job and its video are kept, and which are due: pure (no Kafka, no clock of its own).

A job's record expires `records` after it finished (its terminal state's time), its video (a success's
artifact) `videos` after. Active jobs never expire. `Expiries` keeps the finished jobs by due time in
the status view's local store (`r<due µs><job id>`, `v<due µs><job id>`: `reelstream.local_store`), so a
sweep reads the due ones only, one range scan, never every job of the view, and nothing per job is held in
memory.
"""

from __future__ import annotations

from collections.abc import Mapping
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


class Finishing(Protocol):
    """What retention reads of a job: a JobStatus, or the index's JobFacts."""

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


class Expiries:
    """The finished jobs by due time. The status view writes `keys(status)` with each snapshot (and deletes
    them with it); `due_*` take out the ids due at `now` (the caller checks the job's current snapshot: one
    deleted or changed since is skipped there); `note` puts a job back (a sweep that failed)."""

    def __init__(self, retention: Retention, store: Namespace) -> None:
        self.retention = retention
        self._store = store

    def keys(self, status: Finishing, job_id: str) -> tuple[bytes, ...]:
        dues = ((b"r", expires_at(status, self.retention)), (b"v", video_expires_at(status, self.retention)))
        return tuple(kind + ordered(micros(due)) + job_id.encode() for kind, due in dues if due)

    def note(self, status: JobStatus) -> None:
        self._store.write(dict.fromkeys(self.keys(status, status.job_id), b""))

    def due_records(self, now: datetime) -> list[str]:
        return self._take(b"r", now)

    def due_videos(self, now: datetime) -> list[str]:
        return self._take(b"v", now)

    def _take(self, kind: bytes, now: datetime) -> list[str]:
        due = [key for key, _ in self._store.scan(kind, kind + ordered(micros(now) + 1))]
        self._store.write(dict.fromkeys(due))
        return [key[9:].decode() for key in due]
