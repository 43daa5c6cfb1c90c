"""A job's commands on `reelstream.jobs.commands` and what clients read of it (`reelstream.jobs.status`,
`reelstream.jobs.events`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from schemas.events.ids import new_id, utc_now
from schemas.events.values import (
    Artifact,
    ErrorInfo,
    JobEventType,
    JobState,
    Priority,
    RenderParams,
    RenderStage,
    RequestedParams,
)

# ---- commands on reelstream.jobs.commands ----------------------------------------------------------


@dataclass(frozen=True)
class SubmitJob:
    job_id: str
    tenant_id: str
    prompt: str
    params: RequestedParams
    negative_prompt: str | None = None
    webhook_url: str | None = None
    metadata: dict[str, str] = field(default_factory=dict)
    priority: Priority = Priority.NORMAL
    deadline: datetime | None = None
    job_key_id: str | None = (
        None  # set: prompt, negative_prompt, webhook_url sealed (reelstream.crypto.job_fields)
    )
    event_id: str = field(default_factory=new_id)
    occurred_at: datetime = field(default_factory=utc_now)


@dataclass(frozen=True)
class CancelJob:
    job_id: str
    tenant_id: str
    reason: str | None = None
    delete: bool = False  # a deletion: the job ends without an artifact and with no webhook but job.deleted
    event_id: str = field(default_factory=new_id)
    occurred_at: datetime = field(default_factory=utc_now)


@dataclass(frozen=True)
class JobFinished:
    """From the scheduler to admission: an admitted job reached a final state, its place in its tenant's
    queue is free (admission releases it once, however often this is written)."""

    job_id: str
    tenant_id: str
    state: JobState
    model: str | None = None
    predicted_long: bool | None = None  # the estimator's verdict at admission (None: none)
    render_seconds: float | None = None  # the successful render's time (the truth for "long")
    started: bool | None = None  # an attempt began running (None: an older writer; taken as started)
    event_id: str = field(default_factory=new_id)
    occurred_at: datetime = field(default_factory=utc_now)


Command = SubmitJob | CancelJob | JobFinished


# ---- what clients and internal teams read ----------------------------------------------------------


@dataclass(frozen=True, slots=True)  # no __dict__: the status view holds one per job
class JobStatus:
    job_id: str
    tenant_id: str
    state: JobState
    prompt: str
    created_at: datetime
    updated_at: datetime
    stage: RenderStage | None = None
    negative_prompt: str | None = None
    params: RenderParams | None = None
    webhook_url: str | None = None
    metadata: dict[str, str] = field(default_factory=dict)
    state_times: dict[str, datetime] = field(default_factory=dict)
    progress: float = 0.0
    queue_position: int | None = None
    eta_seconds: float | None = None
    attempt: int = 0
    slot: int | None = None
    artifact: Artifact | None = None
    error: ErrorInfo | None = None
    version: int = 0
    priority: Priority = Priority.NORMAL
    deadline: datetime | None = None
    reason: str | None = None  # while queued: "throttled" (its tenant is at its running cap)
    predicted_long: bool = False  # the long-job estimator's verdict at admission
    long_probability: float | None = None
    job_key_id: str | None = (
        None  # set: prompt, negative_prompt, webhook_url sealed (reelstream.crypto.job_fields)
    )
    prompt_words: int | None = None  # counted by admission before the prompt travels sealed


DELETED_CODE = "deleted"  # ErrorInfo.code of a job ended by its deletion (CancelJob.delete)


def is_deleted(status: JobStatus) -> bool:
    """A snapshot of a job that is being (or was) deleted: readers drop it, the notifier stays silent."""
    return status.error is not None and status.error.code == DELETED_CODE


@dataclass(frozen=True)
class JobEvent:
    job_id: str
    tenant_id: str
    type: JobEventType
    status: JobStatus
    event_id: str = field(default_factory=new_id)
    occurred_at: datetime = field(default_factory=utc_now)
