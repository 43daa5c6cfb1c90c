"""Frozen dataclasses mirroring schemas/avro/*.avsc, one class per Avro record of the same name.

Commands are imperative (`SubmitJob`), events past tense (`JobAdmitted`). Every record that travels on its
own carries `event_id` and `occurred_at`; `tests/unit/schemas` checks that fields and schemas agree.

One module per concept: `values` (enums and nested value types), `jobs` (job commands, statuses and
events), `render` (the scheduler's inbox and its dispatch commands), `webhooks`, `records` (dead letters,
idempotency, tenant limits, API keys), `usage` (GPU usage records), `tenants` (the tenant registry),
`pools` (the pool snapshot) and `ids` (ids and timestamps). Every name is re-exported here, so
`from schemas.events import X` imports any of them.
"""

from __future__ import annotations

from schemas.events.ids import new_id, random_below, utc_now
from schemas.events.jobs import (
    DELETED_CODE,
    CancelJob,
    Command,
    JobEvent,
    JobFinished,
    JobStatus,
    SubmitJob,
    is_deleted,
)
from schemas.events.pools import PoolSlot, PoolSlotJob, PoolSnapshot, TenantQueue
from schemas.events.records import (
    ApiKeyRecord,
    DeadLetter,
    IdempotencyRecord,
    JobKeyIssued,
    TenantKeyIssued,
    TenantLimitsSet,
    TenantLimitState,
)
from schemas.events.render import (
    CancelRender,
    CancelRequested,
    DispatchCommand,
    DispatchRender,
    InboxEvent,
    JobAdmitted,
    RenderFailed,
    RenderProgress,
    RenderStarted,
    RenderSucceeded,
    SchedulerTick,
    WorkerHeartbeat,
)
from schemas.events.tenants import TenantRecord
from schemas.events.usage import USAGE_OUTCOMES, GpuUsageRecorded, attempt_id_of
from schemas.events.values import (
    TERMINAL_STATES,
    Artifact,
    DeliveryOutcome,
    ErrorInfo,
    JobEventType,
    JobState,
    Priority,
    RenderParams,
    RenderStage,
    RequestedParams,
    WorkerState,
)
from schemas.events.webhooks import (
    RetryWebhook,
    WebhookDelivery,
    WebhookEndpointDisabled,
    WebhookEndpointHealth,
    WebhookEndpointRegistered,
    WebhookPingRequested,
    WebhookSecretIssued,
)

__all__ = [
    "DELETED_CODE",
    "TERMINAL_STATES",
    "USAGE_OUTCOMES",
    "ApiKeyRecord",
    "Artifact",
    "CancelJob",
    "CancelRender",
    "CancelRequested",
    "Command",
    "DeadLetter",
    "DeliveryOutcome",
    "DispatchCommand",
    "DispatchRender",
    "ErrorInfo",
    "GpuUsageRecorded",
    "IdempotencyRecord",
    "InboxEvent",
    "JobAdmitted",
    "JobEvent",
    "JobEventType",
    "JobFinished",
    "JobKeyIssued",
    "JobState",
    "JobStatus",
    "PoolSlot",
    "PoolSlotJob",
    "PoolSnapshot",
    "Priority",
    "RenderFailed",
    "RenderParams",
    "RenderProgress",
    "RenderStage",
    "RenderStarted",
    "RenderSucceeded",
    "RequestedParams",
    "RetryWebhook",
    "SchedulerTick",
    "SubmitJob",
    "TenantKeyIssued",
    "TenantLimitState",
    "TenantLimitsSet",
    "TenantQueue",
    "TenantRecord",
    "WebhookDelivery",
    "WebhookEndpointDisabled",
    "WebhookEndpointHealth",
    "WebhookEndpointRegistered",
    "WebhookPingRequested",
    "WebhookSecretIssued",
    "WorkerHeartbeat",
    "WorkerState",
    "attempt_id_of",
    "is_deleted",
    "new_id",
    "random_below",
    "utc_now",
]
