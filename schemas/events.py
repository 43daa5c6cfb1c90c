"""Frozen dataclasses mirroring schemas/avro/*.avsc, one class per Avro record of the same name.

Commands are imperative (`SubmitJob`), events past tense (`JobAdmitted`). Every record that travels on its
own carries `event_id` and `occurred_at`; `tests/unit/schemas` checks that fields and schemas agree.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum


class _Entropy:
    """Random bytes from the operating system's generator (`os.urandom`, as `uuid.uuid4` reads them), read
    4 KiB at a time: one system call per 256 ids rather than one per id (ingest makes two ids and a seed per
    submission; the calls were 7 % of its samples in a profile). A forked child starts with an empty buffer,
    so parent and child never hand out the same bytes."""

    def __init__(self, chunk: int = 4096) -> None:
        self._chunk = chunk
        self._reset()
        os.register_at_fork(after_in_child=self._reset)

    def _reset(self) -> None:
        self._buffer, self._taken = b"", 0
        self._lock = threading.Lock()  # a lock held in the parent at the fork would stay held in the child

    def take(self, n: int) -> bytes:
        with self._lock:
            if self._taken + n > len(self._buffer):
                self._buffer, self._taken = os.urandom(max(n, self._chunk)), 0
            start, self._taken = self._taken, self._taken + n
            return self._buffer[start : self._taken]


_entropy = _Entropy()


def new_id() -> str:
    """A random (version 4) UUID's hex: what `uuid.UUID(bytes=…, version=4).hex` gives, its version and
    variant bits set here (a third of its cost; two ids a submission)."""
    raw = bytearray(_entropy.take(16))
    raw[6] = raw[6] & 0x0F | 0x40  # version 4
    raw[8] = raw[8] & 0x3F | 0x80  # the RFC 4122 variant
    return raw.hex()


def random_below(bound: int) -> int:
    """A uniformly random integer in [0, bound), from the operating system's generator."""
    if bound <= 0:
        raise ValueError("bound must be positive")
    bits = bound.bit_length()
    while True:  # rejection sampling: no modulo bias
        value = int.from_bytes(_entropy.take((bits + 7) // 8), "big") >> (-bits % 8)
        if value < bound:
            return value


def utc_now() -> datetime:
    """Now, at the millisecond precision Avro's timestamp-millis keeps (so round trips compare equal)."""
    now = datetime.now(UTC)
    return now.replace(microsecond=now.microsecond // 1000 * 1000)


class JobState(StrEnum):
    ACCEPTED = "accepted"
    QUEUED = "queued"
    DISPATCHED = "dispatched"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELED = "canceled"
    REJECTED = "rejected"
    EXPIRED = "expired"

    @property
    def terminal(self) -> bool:
        return self in TERMINAL_STATES


TERMINAL_STATES = frozenset(
    {JobState.SUCCEEDED, JobState.FAILED, JobState.CANCELED, JobState.REJECTED, JobState.EXPIRED}
)


class RenderStage(StrEnum):
    ENCODE_TEXT = "encode_text"
    DENOISE = "denoise"
    DECODE = "decode"
    ENCODE_VIDEO = "encode_video"
    UPLOAD = "upload"


class JobEventType(StrEnum):
    ACCEPTED = "accepted"
    QUEUED = "queued"
    DISPATCHED = "dispatched"
    STARTED = "started"
    PROGRESS = "progress"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELED = "canceled"
    REJECTED = "rejected"
    EXPIRED = "expired"
    CANCEL_REQUESTED = "cancel_requested"
    REQUEUED = "requeued"


class Priority(StrEnum):
    HIGH = "high"
    NORMAL = "normal"
    LOW = "low"

    @property
    def rank(self) -> int:
        """0 runs first."""
        return ("high", "normal", "low").index(self.value)


class WorkerState(StrEnum):
    IDLE = "idle"
    BUSY = "busy"
    DRAINING = "draining"


class DeliveryOutcome(StrEnum):
    DELIVERED = "delivered"
    FAILED = "failed"
    GAVE_UP = "gave_up"


# ---- value types -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RequestedParams:
    model: str | None = None
    width: int | None = None
    height: int | None = None
    num_frames: int | None = None
    duration_seconds: float | None = None
    fps: int | None = None
    num_inference_steps: int | None = None
    guidance_scale: float | None = None
    seed: int | None = None
    quality: str | None = None


@dataclass(frozen=True, slots=True)  # no __dict__: the status view holds one per job
class RenderParams:
    model: str
    width: int
    height: int
    num_frames: int
    fps: int
    num_inference_steps: int
    guidance_scale: float
    seed: int
    quality: str = "standard"


@dataclass(frozen=True, slots=True)  # no __dict__: the status view holds one per job
class Artifact:
    key: str
    sha256: str
    bytes: int
    content_type: str
    duration_seconds: float
    frames: int
    width: int
    height: int
    fps: float
    poster_key: str | None = None
    renderer: str = ""
    render_settings: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)  # no __dict__: the status view holds one per job
class ErrorInfo:
    code: str
    message: str
    retriable: bool


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
    event_id: str = field(default_factory=new_id)
    occurred_at: datetime = field(default_factory=utc_now)


@dataclass(frozen=True)
class CancelJob:
    job_id: str
    tenant_id: str
    reason: str | None = None
    event_id: str = field(default_factory=new_id)
    occurred_at: datetime = field(default_factory=utc_now)


@dataclass(frozen=True)
class JobFinished:
    """From the scheduler to admission: an admitted job reached a final state, its place in its tenant's
    queue is free (admission releases it once, however often this is written)."""

    job_id: str
    tenant_id: str
    state: JobState
    event_id: str = field(default_factory=new_id)
    occurred_at: datetime = field(default_factory=utc_now)


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
    event_id: str = field(default_factory=new_id)
    occurred_at: datetime = field(default_factory=utc_now)


@dataclass(frozen=True)
class CancelRequested:
    job_id: str
    tenant_id: str
    pool_id: str
    reason: str | None = None
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
    event_id: str = field(default_factory=new_id)
    occurred_at: datetime = field(default_factory=utc_now)


@dataclass(frozen=True)
class CancelRender:
    job_id: str
    slot: int
    attempt: int
    event_id: str = field(default_factory=new_id)
    occurred_at: datetime = field(default_factory=utc_now)


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


@dataclass(frozen=True)
class JobEvent:
    job_id: str
    tenant_id: str
    type: JobEventType
    status: JobStatus
    event_id: str = field(default_factory=new_id)
    occurred_at: datetime = field(default_factory=utc_now)


@dataclass(frozen=True)
class WebhookDelivery:
    job_id: str
    tenant_id: str
    webhook_event_id: str
    target_host: str
    attempt: int
    outcome: DeliveryOutcome
    duration_ms: float
    status_code: int | None = None
    error: str | None = None
    endpoint_id: str | None = None  # a registered endpoint; None: the job's own webhook_url
    event_id: str = field(default_factory=new_id)
    occurred_at: datetime = field(default_factory=utc_now)


@dataclass(frozen=True)
class WebhookPingRequested:
    tenant_id: str
    endpoint_id: str
    url: str
    event_id: str = field(default_factory=new_id)
    occurred_at: datetime = field(default_factory=utc_now)


@dataclass(frozen=True)
class RetryWebhook:
    """One webhook to (re)deliver: a job event (to the job's URL or a registered endpoint) or a ping."""

    attempt: int
    due_at: datetime
    job_event: JobEvent | None = None
    traceparent: str | None = None
    ping: WebhookPingRequested | None = None
    endpoint_id: str | None = None
    webhook_id: str | None = None
    event_id: str = field(default_factory=new_id)
    occurred_at: datetime = field(default_factory=utc_now)


@dataclass(frozen=True)
class WebhookEndpointDisabled:
    endpoint_sha256: str
    tenant_id: str
    target_host: str
    status_code: int
    webhook_event_id: str
    event_id: str = field(default_factory=new_id)
    occurred_at: datetime = field(default_factory=utc_now)


@dataclass(frozen=True)
class WebhookSecretIssued:
    """A tenant's signing secret (`occurred_at` is its created_at); retired by a tombstone."""

    tenant_id: str
    secret_id: str
    secret: str
    expires_at: datetime | None = None
    created_by: str | None = None
    event_id: str = field(default_factory=new_id)
    occurred_at: datetime = field(default_factory=utc_now)


@dataclass(frozen=True)
class WebhookEndpointRegistered:
    """A tenant's registered webhook endpoint; an empty `event_types` filter lets every type through."""

    tenant_id: str
    endpoint_id: str
    url: str
    event_types: list[str] = field(default_factory=list)
    description: str | None = None
    event_id: str = field(default_factory=new_id)
    occurred_at: datetime = field(default_factory=utc_now)


Command = SubmitJob | CancelJob | JobFinished
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
DispatchCommand = DispatchRender | CancelRender


# ---- reliability -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class DeadLetter:
    stage: str
    source_topic: str
    partition: int
    offset: int
    error_code: str
    error_message: str
    key: bytes | None = None
    value: bytes | None = None
    headers: dict[str, bytes] = field(default_factory=dict)
    replays: int = 0
    event_id: str = field(default_factory=new_id)
    occurred_at: datetime = field(default_factory=utc_now)


@dataclass(frozen=True)
class IdempotencyRecord:
    tenant_id: str
    idempotency_key: str
    request_sha256: str
    job_id: str
    completed: bool
    expires_at: datetime
    event_id: str = field(default_factory=new_id)
    occurred_at: datetime = field(default_factory=utc_now)


# ---- tenant limits -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class TenantLimitState:
    """A tenant's limits and its use of them as admission last saw them (`occurred_at` is its updated_at)."""

    tenant_id: str
    rate: float
    burst: float
    tokens: float
    tokens_at: datetime
    full_at: datetime
    queued: int
    queued_cap: int
    running: int | None = None
    running_cap: int | None = None
    over: str | None = None  # "rate" | "queued"
    throttled_until: datetime | None = None
    event_id: str = field(default_factory=new_id)
    occurred_at: datetime = field(default_factory=utc_now)


@dataclass(frozen=True)
class TenantLimitsSet:
    """Limits an admin set for a tenant at run time (they replace the configured ones)."""

    tenant_id: str
    rate: float
    burst: float
    queued: int
    running: int | None = None
    set_by: str | None = None
    event_id: str = field(default_factory=new_id)
    occurred_at: datetime = field(default_factory=utc_now)


# ---- identity ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ApiKeyRecord:
    """An API key as the key store keeps it: metadata and a salted hash, never the secret."""

    key_id: str
    tenant_id: str
    roles: tuple[str, ...]
    salt: str
    secret_sha256: str
    created_at: datetime
    expires_at: datetime | None = None
    revoked: bool = False
    revoked_at: datetime | None = None
    name: str | None = None
    created_by: str | None = None
    event_id: str = field(default_factory=new_id)
    occurred_at: datetime = field(default_factory=utc_now)
