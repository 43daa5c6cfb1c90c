"""Webhook records: deliveries, pings, retries, disabled endpoints, tenants' secrets and endpoints."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from schemas.events.ids import new_id, utc_now
from schemas.events.jobs import JobEvent
from schemas.events.values import DeliveryOutcome


@dataclass(frozen=True)
class WebhookDelivery:
    job_id: str
    tenant_id: str
    webhook_event_id: str
    attempt: int
    outcome: DeliveryOutcome
    duration_ms: float
    status_code: int | None = None
    error: str | None = None
    endpoint_id: str | None = None  # a registered endpoint; None: the job's own webhook_url
    event_id: str = field(default_factory=new_id)
    occurred_at: datetime = field(default_factory=utc_now)
    event_type: str | None = None  # job.succeeded, ping, endpoint.disabled, ...; None: an older record
    target_host: str = ""  # no longer written: the endpoint is `endpoint_id`, a job's own URL the job's


@dataclass(frozen=True)
class WebhookPingRequested:
    tenant_id: str
    endpoint_id: str
    url: str
    event_id: str = field(default_factory=new_id)
    occurred_at: datetime = field(default_factory=utc_now)


@dataclass(frozen=True)
class RetryWebhook:
    """One webhook to (re)deliver: a job event (to the job's URL or a registered endpoint), a ping, or the
    notice that another endpoint of the tenant was disabled (to a registered endpoint)."""

    attempt: int
    due_at: datetime
    job_event: JobEvent | None = None
    traceparent: str | None = None
    ping: WebhookPingRequested | None = None
    endpoint_id: str | None = None
    webhook_id: str | None = None
    event_id: str = field(default_factory=new_id)
    occurred_at: datetime = field(default_factory=utc_now)
    endpoint_disabled: WebhookEndpointDisabled | None = None


@dataclass(frozen=True)
class WebhookEndpointDisabled:
    endpoint_sha256: str
    tenant_id: str
    status_code: int
    webhook_event_id: str
    event_id: str = field(default_factory=new_id)
    occurred_at: datetime = field(default_factory=utc_now)
    endpoint_id: str | None = None  # a registered endpoint; None: a job's own webhook_url
    target_host: str = ""  # no longer written (see WebhookDelivery)


@dataclass(frozen=True)
class WebhookEndpointHealth:
    """An endpoint's shared health (reelstream.webhooks.endpoint_health): failures in a row, since when,
    the backoff; the later `occurred_at` wins between replicas."""

    endpoint_sha256: str
    tenant_id: str
    endpoint: str  # tenant id and origin, never a path or query
    failures: int
    failing_since: datetime | None = None
    backoff_until: datetime | None = None
    disabled: bool = False
    event_id: str = field(default_factory=new_id)
    occurred_at: datetime = field(default_factory=utc_now)


@dataclass(frozen=True)
class WebhookSecretIssued:
    """A tenant's signing secret (`occurred_at` is its created_at); retired by a tombstone. It travels sealed
    (`sealed_secret`, reelstream.crypto); `secret` is only the legacy plaintext form and is never written."""

    tenant_id: str
    secret_id: str
    secret: str | None = None
    sealed_secret: str | None = None
    expires_at: datetime | None = None
    created_by: str | None = None
    event_id: str = field(default_factory=new_id)
    occurred_at: datetime = field(default_factory=utc_now)


@dataclass(frozen=True)
class WebhookEndpointRegistered:
    """A tenant's registered webhook endpoint; an empty `event_types` filter lets the default types through
    (reelstream.webhooks.messages.DEFAULT_TYPE_NAMES). `occurred_at` is its registration (an update keeps
    it); a disabled one (`enabled` False) gets nothing."""

    tenant_id: str
    endpoint_id: str
    url: str
    event_types: list[str] = field(default_factory=list)
    description: str | None = None
    event_id: str = field(default_factory=new_id)
    occurred_at: datetime = field(default_factory=utc_now)
    enabled: bool = True
