"""The API's resources as typed, frozen dataclasses, kept in step with ingest's OpenAPI document.

`tests/test_openapi_models.py` compares every class here (field names, and each `Literal` enum) with the
schema of the same name in the live `/openapi.json`: a field added to the API fails that test until it is
added here. Unknown fields in a response are ignored, so an older SDK keeps working against a newer API.
"""

from __future__ import annotations

import dataclasses
import sys
import types
import typing
from dataclasses import dataclass, field
from typing import Any, Literal, TypeVar, Union, get_args, get_origin

JobStatus = Literal[
    "accepted", "queued", "dispatched", "running", "succeeded", "failed", "canceled", "rejected", "expired"
]
Stage = Literal["encode_text", "denoise", "decode", "encode_video", "upload"]
Priority = Literal["high", "normal", "low"]
Quality = Literal["preview", "standard"]
Tier = Literal[
    "fast", "full"
]  # full: every block of every step; fast: First-Block Cache (where the model has it)
WaitReason = Literal["throttled"]
LimitOver = Literal["rate", "queued"]
Role = Literal["submitter", "viewer", "admin", "operator"]
KeyStatus = Literal["active", "expired", "revoked"]
EventType = Literal[
    "endpoint.disabled",
    "job.canceled",
    "job.deleted",
    "job.expired",
    "job.failed",
    "job.progress",
    "job.queued",
    "job.rejected",
    "job.started",
    "job.succeeded",
]
DeliveryStatus = Literal["delivered", "failed"]
SlotState = Literal["busy", "idle"]
Variant = Literal["video", "poster"]

TERMINAL: frozenset[str] = frozenset({"succeeded", "failed", "canceled", "rejected", "expired"})

T = TypeVar("T")


@dataclass(frozen=True)
class Parameters:
    """Every render parameter, resolved (defaults filled in, seed drawn)."""

    model: str
    width: int
    height: int
    num_frames: int
    fps: int
    num_inference_steps: int
    guidance_scale: float | None = None
    seed: int | None = None
    quality: str | None = None
    tier: str | None = None


@dataclass(frozen=True)
class Artifact:
    key: str | None = None
    sha256: str | None = None
    bytes: int | None = None
    content_type: str | None = None
    duration_seconds: float | None = None
    frames: int | None = None
    width: int | None = None
    height: int | None = None
    fps: float | None = None
    poster_key: str | None = None
    renderer: str | None = None
    render_settings: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class JobError:
    code: str | None = None
    message: str | None = None
    retriable: bool | None = None


@dataclass(frozen=True)
class Job:
    id: str
    object: str
    status: JobStatus
    prompt: str
    created_at: str
    updated_at: str
    version: int
    stage: Stage | None = None
    negative_prompt: str | None = None
    parameters: Parameters | None = None
    metadata: dict[str, str] = field(default_factory=dict)
    has_webhook: bool = False
    timestamps: dict[str, str] = field(default_factory=dict)
    progress: float = 0.0
    queue_position: int | None = None
    eta_seconds: float | None = None
    attempt: int = 0
    artifact: Artifact | None = None
    error: JobError | None = None
    priority: Priority = "normal"
    deadline: str | None = None
    reason: WaitReason | None = None
    predicted_long: bool | None = None  # the long-job estimator's verdict at admission
    long_probability: float | None = None
    expires_at: str | None = None  # when the finished job and its video are deleted; None while active
    content_expires_at: str | None = None  # when a succeeded job's video and poster are deleted

    @property
    def terminal(self) -> bool:
        """True once the job can change no more (succeeded, failed, canceled, rejected, expired)."""
        return self.status in TERMINAL


@dataclass(frozen=True)
class JobList:
    data: list[Job]
    next_cursor: str | None
    object: str = "list"


@dataclass(frozen=True)
class ApiKey:
    """A key's metadata; never its secret."""

    object: str
    id: str
    prefix: str
    tenant: str
    roles: list[Role]
    status: KeyStatus
    created_at: str
    name: str | None = None
    expires_at: str | None = None
    revoked_at: str | None = None
    last_used_at: str | None = None  # when the answering server replica last accepted it, to the minute


@dataclass(frozen=True)
class ApiKeyCreated(ApiKey):
    """A new key, with the key itself: shown this once."""

    key: str = ""


@dataclass(frozen=True)
class ApiKeyRotated(ApiKeyCreated):
    """A rotated key's successor (with the key, shown this once) and the old key, now expiring."""

    replaces: ApiKey | None = None


@dataclass(frozen=True)
class ApiKeyList:
    object: str
    data: list[ApiKey]


@dataclass(frozen=True)
class WebhookEndpoint:
    object: str
    id: str
    tenant: str
    url: str
    event_types: list[str]
    description: str | None
    enabled: bool
    created_at: str
    secret_id: str | None = None  # the tenant's first endpoint: its first secret, shown this once
    secret: str | None = None


@dataclass(frozen=True)
class WebhookEndpointList:
    object: str
    data: list[WebhookEndpoint]


@dataclass(frozen=True)
class WebhookSecret:
    object: str
    id: str
    tenant: str
    created_at: str
    expires_at: str | None
    secret: str | None = None  # in the create response only


@dataclass(frozen=True)
class WebhookSecretRotated(WebhookSecret):
    """The new secret (`.secret`, shown this once) and the old one, now expiring (`.rotated`)."""

    rotated: WebhookSecret | None = None


@dataclass(frozen=True)
class WebhookDelivery:
    """One attempt to deliver to a registered endpoint (the delivery log)."""

    object: str
    id: str
    endpoint_id: str
    webhook_id: str
    event_type: str | None
    job_id: str | None
    attempt: int
    status: DeliveryStatus
    status_code: int | None
    error_class: str | None
    latency_ms: float
    attempted_at: str


@dataclass(frozen=True)
class WebhookDeliveryList:
    object: str
    data: list[WebhookDelivery]
    next_cursor: str | None


@dataclass(frozen=True)
class WebhookResend:
    object: str
    endpoint_id: str
    webhook_id: str
    delivery_id: str
    resend_id: str
    requested_at: str


@dataclass(frozen=True)
class WebhookResendItem:
    webhook_id: str
    delivery_id: str
    resend_id: str


@dataclass(frozen=True)
class WebhookResendBatch:
    object: str
    endpoint_id: str
    since: str
    count: int
    skipped: int
    data: list[WebhookResendItem]


@dataclass(frozen=True)
class WebhookSecretList:
    object: str
    data: list[WebhookSecret]


@dataclass(frozen=True)
class WebhookPing:
    object: str
    id: str
    endpoint_id: str
    tenant: str
    requested_at: str


@dataclass(frozen=True)
class WebhookEndpointEnabled:
    object: str
    endpoint_sha256: str
    enabled_at: str


@dataclass(frozen=True)
class TenantLimits:
    object: str
    tenant: str
    rate: float
    burst: float
    queued: int
    running: int | None
    updated_at: str
    gang: int | None = None  # slots one job may take at once for low latency; None: spare slots only


UsageGroup = Literal["day", "model"]


@dataclass(frozen=True)
class UsageTotals:
    attempts: int
    gpu_seconds: float
    frames: int
    gpu_seconds_by_outcome: dict[str, float]


@dataclass(frozen=True)
class UsageRow(UsageTotals):
    """One row of a usage report: its key is `day` (YYYY-MM-DD, UTC), `model` or `tenant`."""

    day: str | None = None
    model: str | None = None
    tenant: str | None = None

    @property
    def key(self) -> str:
        return self.day or self.model or self.tenant or ""


@dataclass(frozen=True)
class Usage:
    object: str
    tenant: str
    from_: str
    to: str
    group_by: UsageGroup
    total: UsageTotals
    data: list[UsageRow]


@dataclass(frozen=True)
class TenantUsageTotals:
    object: str
    from_: str
    to: str
    total: UsageTotals
    data: list[UsageRow]


@dataclass(frozen=True)
class RenderLoadStats:
    """Render seconds (running to succeeded) of succeeded jobs; the three figures are None when count is 0."""

    count: int
    mean_seconds: float | None
    p50_seconds: float | None
    p95_seconds: float | None


@dataclass(frozen=True)
class RenderLoadClass(RenderLoadStats):
    """One class of a render-load report: a range of frames or of prompt words (`class` in JSON)."""

    class_: str = ""


@dataclass(frozen=True)
class RenderLoad:
    object: str
    tenant: str
    from_: str | None
    to: str | None
    limit: int
    complete: bool
    total: RenderLoadStats
    by_frames: list[RenderLoadClass]
    by_prompt_words: list[RenderLoadClass]


@dataclass(frozen=True)
class GpuBudget:
    """Expected GPU seconds a tenant's jobs may take per window: charged at admission, given back for a job
    that ended before it started or failed, refilled at budget / window_seconds a second."""

    budget: float
    window_seconds: float
    used: float
    remaining: float


@dataclass(frozen=True)
class Limits:
    """The caller's limits and its use of them (as_of None: nothing published yet, the configured limits)."""

    object: str
    tenant: str
    as_of: str | None
    rate: float
    burst: float
    tokens: float
    queued: int
    queued_cap: int
    running_cap: int | None
    over: LimitOver | None
    throttled_until: str | None
    gpu_seconds: GpuBudget | None


@dataclass(frozen=True)
class PoolSlotJob:
    """The attempt a busy slot renders (never its prompt)."""

    id: str
    tenant: str
    model: str
    attempt: int
    since: str
    gang: list[int] = field(default_factory=list)  # the slots rendering it together, leader first; [] alone


@dataclass(frozen=True)
class PoolSlot:
    slot: int
    worker_id: str
    gpu_name: str | None
    last_seen: str
    state: SlotState
    job: PoolSlotJob | None


@dataclass(frozen=True)
class TenantQueue:
    tenant: str
    queued: int


@dataclass(frozen=True)
class Pool:
    """A GPU pool as its scheduler last published it: slots busy and idle, jobs queued per tenant."""

    pool: str
    taken_at: str
    busy: int
    idle: int
    queued: int
    slots: list[PoolSlot]
    queues: list[TenantQueue]


@dataclass(frozen=True)
class PoolState:
    object: str
    data: list[Pool]


@dataclass(frozen=True)
class TenantCeiling:
    """The limits the operator set for a tenant: its own admins may only lower them."""

    rate: float
    burst: float
    queued: int
    running: int | None
    gang: int | None = None  # slots one job may take at once for low latency; None: spare slots only


@dataclass(frozen=True)
class Tenant:
    object: str
    id: str
    name: str
    status: str
    limits: TenantCeiling
    retention_days: int | None  # the operator's overrides in days; None: the platform's settings
    created_at: str
    updated_at: str
    video_retention_days: int | None = None


@dataclass(frozen=True)
class TenantList:
    object: str
    data: list[Tenant]


def _convert(hint: Any, value: Any) -> Any:
    """`value` (decoded JSON) as the annotated type: nested dataclasses and lists of them are built."""
    if value is None:
        return None
    origin = get_origin(hint)
    if origin in (Union, types.UnionType):
        options = [arg for arg in get_args(hint) if arg is not type(None)]
        return _convert(options[0], value) if len(options) == 1 else value
    if origin is list:
        (item,) = get_args(hint)
        return [_convert(item, element) for element in value]
    if isinstance(hint, type) and dataclasses.is_dataclass(hint):
        return from_json(hint, value)
    return value


def from_json(cls: type[T], data: dict[str, Any]) -> T:
    """An instance of the dataclass `cls` from a decoded JSON object; fields it does not know are ignored."""
    hints = typing.get_type_hints(cls, vars(sys.modules[__name__]))
    assert dataclasses.is_dataclass(cls)
    names = {f.name for f in dataclasses.fields(cls)}
    values = {name: _convert(hints[name], data[_wire(name)]) for name in names if _wire(name) in data}
    return cls(**values)


def _wire(name: str) -> str:
    """The JSON name of a field: a trailing underscore avoids a Python keyword (`from_` is `from`)."""
    return name[:-1] if name.endswith("_") else name


def to_json(resource: Any) -> dict[str, Any]:
    """A resource as plain JSON-ready data (for `--json` output), under the API's field names."""
    renamed: dict[str, Any] = _renamed(dataclasses.asdict(resource))
    return renamed


def _renamed(value: Any) -> Any:
    if isinstance(value, dict):
        return {_wire(k): _renamed(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_renamed(v) for v in value]
    return value
