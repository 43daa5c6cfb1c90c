"""Every topic of reelstream, declared once: name, the records its values hold, key, partitions, retention.

Topics are created from these declarations (reelstream.kafka.admin) and the Helm chart's KafkaTopics are
generated from them too, so partition counts and compaction cannot drift between code and cluster.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from schemas.codec import schema_for
from schemas.events import (
    ApiKeyRecord,
    CancelJob,
    CancelRender,
    CancelRequested,
    Command,
    DeadLetter,
    DispatchRender,
    GpuUsageRecorded,
    IdempotencyRecord,
    InboxEvent,
    JobAdmitted,
    JobEvent,
    JobFinished,
    JobKeyIssued,
    JobStatus,
    PoolSnapshot,
    RenderFailed,
    RenderProgress,
    RenderStarted,
    RenderSucceeded,
    RetryWebhook,
    SchedulerTick,
    SubmitJob,
    TenantKeyIssued,
    TenantLimitsSet,
    TenantLimitState,
    TenantRecord,
    WebhookDelivery,
    WebhookEndpointDisabled,
    WebhookEndpointHealth,
    WebhookEndpointRegistered,
    WebhookPingRequested,
    WebhookSecretIssued,
    WorkerHeartbeat,
)

T = TypeVar("T")

DAY_MS = 24 * 3600 * 1000
# the keys topics: a tombstoned key (a shredded job or tenant) must physically leave the log, not wait for its
# segment to roll in a week and a tenth of the topic to be stale: every record may be compacted within an hour
SHREDDING_CONFIG = {"segment.ms": str(10 * 60 * 1000), "max.compaction.lag.ms": str(3600 * 1000)}


@dataclass(frozen=True)
class Topic(Generic[T]):
    """A topic bound to its value contract. Keys are UTF-8 strings (`key` names what they hold)."""

    name: str
    value_types: tuple[type[T], ...]
    key: str
    partitions: int
    compacted: bool = False
    retention_ms: int | None = 7 * DAY_MS
    extra_config: dict[str, str] = field(default_factory=dict)

    @property
    def subject(self) -> str:
        """Registry subject (TopicNameStrategy), what a Confluent client looks up by default."""
        return f"{self.name}-value"

    @property
    def schema(self) -> str:
        return schema_for(tuple(t.__name__ for t in self.value_types))

    @property
    def is_union(self) -> bool:
        return len(self.value_types) > 1

    def config(self) -> dict[str, str]:
        cfg = {"cleanup.policy": "compact" if self.compacted else "delete"}
        if self.retention_ms is not None and not self.compacted:
            cfg["retention.ms"] = str(self.retention_ms)
        if self.compacted:
            cfg["min.compaction.lag.ms"] = "60000"
        return {**cfg, **self.extra_config}


COMMANDS: Topic[Command] = Topic(
    "reelstream.jobs.commands",
    (SubmitJob, CancelJob, JobFinished),
    key="tenant_id",
    partitions=12,
    # short: a Kafka client's SubmitJob carries its prompt in clear until admission seals what it forwards
    retention_ms=1 * DAY_MS,
)
SCHEDULER_INBOX: Topic[InboxEvent] = Topic(
    "reelstream.scheduler.inbox",
    (
        JobAdmitted,
        CancelRequested,
        RenderStarted,
        RenderProgress,
        RenderSucceeded,
        RenderFailed,
        WorkerHeartbeat,
        SchedulerTick,  # new branches go last: the union only grows (BACKWARD compatible)
    ),
    key="pool_id",
    partitions=1,  # one partition per GPU pool: a total order over everything the pool's scheduler sees
)
RENDER_DISPATCH: Topic[DispatchRender | CancelRender] = Topic(
    "reelstream.render.dispatch",
    (DispatchRender, CancelRender),
    key="job_id",
    partitions=8,  # partition i is GPU slot i; the scheduler picks the partition, never the key
    retention_ms=1 * DAY_MS,
)
JOB_STATUS: Topic[JobStatus] = Topic(
    "reelstream.jobs.status",
    (JobStatus,),
    key="job_id",
    partitions=12,
    compacted=True,
    retention_ms=None,
)
JOB_EVENTS: Topic[JobEvent] = Topic("reelstream.jobs.events", (JobEvent,), key="job_id", partitions=12)
WEBHOOK_DELIVERIES: Topic[WebhookDelivery] = Topic(
    "reelstream.webhooks.deliveries",
    (WebhookDelivery,),
    key="job_id",
    partitions=6,
)
WEBHOOK_ENDPOINTS: Topic[WebhookEndpointDisabled] = Topic(
    "reelstream.webhooks.endpoints",
    (WebhookEndpointDisabled,),
    key="endpoint_sha256",
    partitions=1,  # small; every notifier reads all of it at start and then follows it
    compacted=True,
    retention_ms=None,
)
WEBHOOK_HEALTH: Topic[WebhookEndpointHealth] = Topic(
    "reelstream.webhooks.health",
    (WebhookEndpointHealth,),
    key="endpoint_sha256",
    partitions=1,  # one record per failing endpoint; every notifier reads all of it at start, then follows
    compacted=True,
    retention_ms=None,
)
# A tenant's own webhook configuration, set by admin calls and followed whole by every notifier (and ingest):
# one record per secret / endpoint, so creating one never rewrites another; deleting one is a tombstone.
WEBHOOK_SECRETS: Topic[WebhookSecretIssued] = Topic(
    "reelstream.webhooks.secrets",
    (WebhookSecretIssued,),
    key="tenant_id/secret_id",
    partitions=1,
    compacted=True,
    retention_ms=None,
)
WEBHOOK_REGISTRATIONS: Topic[WebhookEndpointRegistered] = Topic(
    "reelstream.webhooks.registrations",
    (WebhookEndpointRegistered,),
    key="tenant_id/endpoint_id",
    partitions=1,
    compacted=True,
    retention_ms=None,
)
WEBHOOK_PINGS: Topic[WebhookPingRequested] = Topic(
    "reelstream.webhooks.pings",
    (WebhookPingRequested,),
    key="tenant_id",
    partitions=1,
    retention_ms=1 * DAY_MS,
)
# a tenant admin's resend of logged deliveries (ingest): the notifier makes the attempt, same webhook-id
WEBHOOK_RESENDS: Topic[RetryWebhook] = Topic(
    "reelstream.webhooks.resends",
    (RetryWebhook,),
    key="tenant_id",
    partitions=1,
    retention_ms=1 * DAY_MS,
)

# Webhook retries wait in delay tiers: one topic per distinct delay of the retry schedule (seconds before
# attempts 1, 2, …; the first attempt is made at once). Every record of a tier waits the same delay, so a
# tier is FIFO by due time and its consumer only ever waits for the head of a partition. Tier topics have
# the partitions of jobs.events: a retry stays on the partition number its event came from.
DEFAULT_WEBHOOK_RETRY_SCHEDULE: tuple[float, ...] = (0, 5, 300, 1800, 7200, 18000, 36000, 36000)


def tier_label(delay_seconds: float) -> str:
    """`5` → `5s`, `300` → `5m`, `7200` → `2h`, `0.5` → `500ms`: the largest whole unit."""
    millis = round(delay_seconds * 1000)
    if millis == 0:
        return "0s"
    for unit, size in (("h", 3_600_000), ("m", 60_000), ("s", 1000)):
        if millis and millis % size == 0:
            return f"{millis // size}{unit}"
    return f"{millis}ms"


def retry_topic(delay_seconds: float) -> Topic[RetryWebhook]:
    """The tier topic of one retry delay, e.g. `reelstream.webhooks.retry.5m`."""
    return Topic(
        f"reelstream.webhooks.retry.{tier_label(delay_seconds)}",
        (RetryWebhook,),
        key="job_id",
        partitions=12,
    )


def retry_tiers(schedule: tuple[float, ...]) -> tuple[Topic[RetryWebhook], ...]:
    """The tier topics of a schedule: one per distinct delay before a retry (attempt 2 on), shortest first."""
    return tuple(retry_topic(d) for d in sorted(set(schedule[1:])))


WEBHOOK_RETRIES = retry_tiers(DEFAULT_WEBHOOK_RETRY_SCHEDULE)

IDEMPOTENCY: Topic[IdempotencyRecord] = Topic(
    "reelstream.ingest.idempotency",
    (IdempotencyRecord,),
    key="tenant_id/idempotency_key",
    partitions=12,
    compacted=True,
    retention_ms=None,  # keys live ≥ 24 h: expired ones are tombstoned by ingest
)

TENANT_LIMITS: Topic[TenantLimitState] = Topic(
    "reelstream.tenants.limits",
    (TenantLimitState,),
    key="tenant_id",
    partitions=12,  # as many as the commands topic: admission writes each tenant's state from its partition
    compacted=True,
    retention_ms=None,
)
TENANT_LIMIT_SETTINGS: Topic[TenantLimitsSet] = Topic(
    "reelstream.tenants.limit-settings",
    (TenantLimitsSet,),
    key="tenant_id",
    partitions=1,  # a few records per tenant, read whole by every admission replica
    compacted=True,
    retention_ms=None,
)
API_KEYS: Topic[ApiKeyRecord] = Topic(
    "reelstream.auth.keys",
    (ApiKeyRecord,),
    key="key_id",
    partitions=1,  # small; every ingest replica reads all of it at start and then follows it
    compacted=True,
    retention_ms=None,  # a revoked key is tombstoned by ingest after a grace period
)
TENANTS: Topic[TenantRecord] = Topic(
    "reelstream.tenants.registry",
    (TenantRecord,),
    key="tenant_id",
    partitions=1,  # one record per tenant, read whole by every ingest replica
    compacted=True,
    retention_ms=None,  # a tenant stays until the operator deletes it
)

# Tenants' data keys, wrapped by a key-encryption key (reelstream.crypto): written by ingest only, read
# whole by every service that opens sealed material. A record per data key; a tombstone shreds one.
TENANT_KEYS: Topic[TenantKeyIssued] = Topic(
    "reelstream.keys.tenants",
    (TenantKeyIssued,),
    key="tenant_id/key_id",
    partitions=1,
    compacted=True,
    retention_ms=None,
    extra_config=SHREDDING_CONFIG,
)

# Jobs' data keys, each sealed under its tenant's data key (reelstream.crypto.job_fields): written by ingest
# (each submission) and admission (a Kafka client's plaintext submission), read by the services that need a
# job's prompt or webhook URL in clear: ingest, admission, the workers, the notifier. A tombstone (the job
# deleted) shreds the key, and so the job's prompt, negative prompt and webhook URL in every topic.
JOB_KEYS: Topic[JobKeyIssued] = Topic(
    "reelstream.keys.jobs",
    (JobKeyIssued,),
    key="tenant_id/job_id",
    partitions=12,
    compacted=True,
    retention_ms=None,
    extra_config=SHREDDING_CONFIG,
)

# One record per render attempt that held a GPU, for billing: keyed by attempt id (`job_id/attempt`) and
# compacted, so an attempt reported again (a worker's retry) replaces its record instead of counting twice.
USAGE_EVENTS: Topic[GpuUsageRecorded] = Topic(
    "reelstream.usage.events",
    (GpuUsageRecorded,),
    key="attempt_id",
    partitions=12,
    compacted=True,
    retention_ms=None,
)

# Each pool's slots and queue as its scheduler last saw them (streams.pool_snapshot), for the operator's view
# (GET /v1/admin/pool): one record per pool, so ingest reads all of it at start and then follows it.
POOL_STATE: Topic[PoolSnapshot] = Topic(
    "reelstream.pools.state",
    (PoolSnapshot,),
    key="pool_id",
    partitions=1,
    compacted=True,
    retention_ms=None,
)


def dead_letter_topic(stage: str) -> Topic[DeadLetter]:
    """Where a stage parks records it cannot process (original bytes, headers, error): `reelstream dlq`."""
    return Topic(
        f"reelstream.dlq.{stage}", (DeadLetter,), key="source key", partitions=1, retention_ms=30 * DAY_MS
    )


DLQ_STAGES = ("admission", "scheduler", "notifier", "worker", "ingest")  # ingest: its views
DEAD_LETTERS: dict[str, Topic[DeadLetter]] = {stage: dead_letter_topic(stage) for stage in DLQ_STAGES}

ALL_TOPICS: tuple[Topic[Any], ...] = (
    COMMANDS,
    SCHEDULER_INBOX,
    RENDER_DISPATCH,
    JOB_STATUS,
    JOB_EVENTS,
    WEBHOOK_DELIVERIES,
    WEBHOOK_ENDPOINTS,
    WEBHOOK_HEALTH,
    WEBHOOK_SECRETS,
    WEBHOOK_REGISTRATIONS,
    WEBHOOK_PINGS,
    WEBHOOK_RESENDS,
    *WEBHOOK_RETRIES,
    IDEMPOTENCY,
    TENANT_LIMITS,
    TENANT_LIMIT_SETTINGS,
    API_KEYS,
    TENANT_KEYS,
    JOB_KEYS,
    USAGE_EVENTS,
    TENANTS,
    POOL_STATE,
    *DEAD_LETTERS.values(),
)
