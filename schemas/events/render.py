"""The scheduler's inbox (admitted jobs, cancels, workers' reports, ticks) and its commands to the workers
on `reelstream.render.dispatch`."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from schemas.events.ids import new_id, utc_now
from schemas.events.values import Artifact, ErrorInfo, Priority, RenderParams, RenderStage, WorkerState

# ---- the scheduler inbox ---------------------------------------------------------------------------


@dataclass(frozen=True)
class JobAdmitted:
    job_id: str
    tenant_id: str
    pool_id: str
    prompt: str
    params: RenderParams
    submitted_at: datetime
    negative_prompt: str | None = None
    webhook_url: str | None = None
    metadata: dict[str, str] = field(default_factory=dict)
    priority: Priority = Priority.NORMAL
    deadline: datetime | None = None
    running_cap: int | None = None  # the tenant's cap on jobs running at once when admitted
    predicted_long: bool = False  # the long-job estimator's verdict (reelstream.long_jobs)
    long_probability: float | None = None  # its probability; None: not estimated
    job_key_id: str | None = (
        None  # set: prompt, negative_prompt, webhook_url sealed (reelstream.crypto.job_fields)
    )
    prompt_words: int | None = None  # counted by admission before the prompt travels sealed
    max_gang_slots: int | None = None  # low latency: the most slots one job may take (streams.gang)
    event_id: str = field(default_factory=new_id)
    occurred_at: datetime = field(default_factory=utc_now)


@dataclass(frozen=True)
class CancelRequested:
    job_id: str
    tenant_id: str
    pool_id: str
    reason: str | None = None
    delete: bool = False  # forwarded from CancelJob.delete
    event_id: str = field(default_factory=new_id)
    occurred_at: datetime = field(default_factory=utc_now)


@dataclass(frozen=True)
class RenderStarted:
    job_id: str
    slot: int
    attempt: int
    worker_id: str
    event_id: str = field(default_factory=new_id)
    occurred_at: datetime = field(default_factory=utc_now)


@dataclass(frozen=True)
class RenderProgress:
    job_id: str
    slot: int
    attempt: int
    stage: RenderStage
    step: int
    total_steps: int
    progress: float
    event_id: str = field(default_factory=new_id)
    occurred_at: datetime = field(default_factory=utc_now)


@dataclass(frozen=True)
class RenderSucceeded:
    job_id: str
    slot: int
    attempt: int
    artifact: Artifact
    render_seconds: float
    event_id: str = field(default_factory=new_id)
    occurred_at: datetime = field(default_factory=utc_now)


@dataclass(frozen=True)
class RenderFailed:
    job_id: str
    slot: int
    attempt: int
    error: ErrorInfo
    event_id: str = field(default_factory=new_id)
    occurred_at: datetime = field(default_factory=utc_now)


@dataclass(frozen=True)
class WorkerHeartbeat:
    worker_id: str
    pool_id: str
    slot: int
    state: WorkerState
    renderer: str
    job_id: str | None = None
    attempt: int | None = None
    gpu_name: str | None = None
    gpu_memory_bytes: int | None = None
    max_work_units: int | None = None
    event_id: str = field(default_factory=new_id)
    occurred_at: datetime = field(default_factory=utc_now)


@dataclass(frozen=True)
class SchedulerTick:
    pool_id: str
    event_id: str = field(default_factory=new_id)
    occurred_at: datetime = field(default_factory=utc_now)


InboxEvent = (
    JobAdmitted
    | CancelRequested
    | RenderStarted
    | RenderProgress
    | RenderSucceeded
    | RenderFailed
    | WorkerHeartbeat
    | SchedulerTick
)


# ---- render.dispatch -------------------------------------------------------------------------------


@dataclass(frozen=True)
class DispatchRender:
    job_id: str
    slot: int
    attempt: int
    tenant_id: str
    prompt: str
    params: RenderParams
    artifact_key: str
    negative_prompt: str | None = None
    lease_expires_at: datetime | None = None
    deadline_multiple: float = 1.0  # > 1 on the retry of a job predicted long (streams.scheduling)
    job_key_id: str | None = None  # set: prompt and negative_prompt sealed (reelstream.crypto.job_fields)
    gang_size: int = 1  # slots rendering this attempt together (streams.gang); 1: alone
    gang_rank: int = 0  # 0: the gang's leader, which alone reports progress and the outcome
    gang_leader_slot: int | None = None  # where the gang rendezvous; None: no gang
    event_id: str = field(default_factory=new_id)
    occurred_at: datetime = field(default_factory=utc_now)


@dataclass(frozen=True)
class CancelRender:
    job_id: str
    slot: int
    attempt: int
    event_id: str = field(default_factory=new_id)
    occurred_at: datetime = field(default_factory=utc_now)


DispatchCommand = DispatchRender | CancelRender
