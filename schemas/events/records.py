"""Records of the services' own state: dead letters, idempotency claims, tenant limits, API keys."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from schemas.events.ids import new_id, utc_now

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
    gpu_budget_seconds: float | None = None  # per window (None: no budget)
    gpu_window_seconds: float | None = None
    gpu_remaining_seconds: float | None = None  # at occurred_at
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
    gang: int | None = None  # slots one job may take at once for low latency (streams.gang)
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
    mac: str | None = None  # reelstream.crypto.records: a record without a valid MAC is ignored


# ---- keys --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TenantKeyIssued:
    """A tenant's data key, wrapped by the key-encryption key `kek_id` (reelstream.crypto)."""

    tenant_id: str
    key_id: str
    kek_id: str
    wrapped_key: bytes
    created_at: datetime
    event_id: str = field(default_factory=new_id)
    occurred_at: datetime = field(default_factory=utc_now)


@dataclass(frozen=True)
class JobKeyIssued:
    """A job's data key, sealed under its tenant's data key (reelstream.crypto.job_fields)."""

    tenant_id: str
    job_id: str
    key_id: str
    sealed_key: str
    event_id: str = field(default_factory=new_id)
    occurred_at: datetime = field(default_factory=utc_now)
