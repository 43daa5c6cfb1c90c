"""Writing a job's snapshot and its lifecycle event: the two records every state change produces."""

from __future__ import annotations

from reelstream.kafka.clients import Publisher
from schemas.events import JobEvent, JobEventType, JobStatus
from schemas.topics import JOB_EVENTS, JOB_STATUS


def job_event(status: JobStatus, event_type: JobEventType) -> JobEvent:
    """The lifecycle event that announces `status`."""
    return JobEvent(
        job_id=status.job_id,
        tenant_id=status.tenant_id,
        type=event_type,
        status=status,
        occurred_at=status.updated_at,
    )


async def publish_change(publisher: Publisher, status: JobStatus, event_type: JobEventType) -> None:
    """Snapshot first (the view clients read), then the event (what subscribers and the notifier follow)."""
    await publisher.publish(JOB_STATUS, status.job_id, status)
    await publisher.publish(JOB_EVENTS, status.job_id, job_event(status, event_type))
