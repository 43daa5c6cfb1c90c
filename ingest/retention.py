"""How long a finished job and its video are kept, and which are due: pure (no Kafka, no clock of its own).

A job's record expires `records` after it finished (its terminal state's time), its video (a success's
artifact) `videos` after. Active jobs never expire. `Expiries` keeps the finished jobs in two heaps by due
time, so a sweep looks at the due ones only, never at every job of the view.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from schemas.events import JobState, JobStatus
from schemas.views import job_resource


@dataclass(frozen=True)
class Retention:
    records: timedelta = timedelta(days=30)
    videos: timedelta = timedelta(days=7)


def finished_at(status: JobStatus) -> datetime | None:
    if not status.state.terminal:
        return None
    return status.state_times.get(status.state.value, status.updated_at)


def expires_at(status: JobStatus, retention: Retention) -> datetime | None:
    """When the job (its record, and its video if it still has one) is deleted; None while it is active."""
    finished = finished_at(status)
    return None if finished is None else finished + retention.records


def video_expires_at(status: JobStatus, retention: Retention) -> datetime | None:
    """When a succeeded job's video and poster are deleted (the job record stays until `expires_at`)."""
    finished = finished_at(status)
    if finished is None or status.state is not JobState.SUCCEEDED or status.artifact is None:
        return None
    return finished + min(retention.videos, retention.records)


def retained_resource(status: JobStatus, retention: Retention) -> dict[str, Any]:
    """The job as the API shows it, with when it and its video expire (null while it runs)."""
    return job_resource(status, (expires_at(status, retention), video_expires_at(status, retention)))


class Expiries:
    """The finished jobs by due time. `note` every snapshot; `due_*` pops the ids due at `now` (the caller
    checks the job's current snapshot: one deleted or changed since is skipped there)."""

    def __init__(self, retention: Retention) -> None:
        self.retention = retention
        self._records: list[tuple[datetime, str]] = []
        self._videos: list[tuple[datetime, str]] = []

    def note(self, status: JobStatus) -> None:
        record = expires_at(status, self.retention)
        if record is not None:
            heapq.heappush(self._records, (record, status.job_id))
        video = video_expires_at(status, self.retention)
        if video is not None:
            heapq.heappush(self._videos, (video, status.job_id))

    def due_records(self, now: datetime) -> list[str]:
        return _pop_due(self._records, now)

    def due_videos(self, now: datetime) -> list[str]:
        return _pop_due(self._videos, now)

    def __len__(self) -> int:
        return len(self._records) + len(self._videos)


def _pop_due(heap: list[tuple[datetime, str]], now: datetime) -> list[str]:
    due: list[str] = []
    while heap and heap[0][0] <= now:
        due.append(heapq.heappop(heap)[1])
    return due
