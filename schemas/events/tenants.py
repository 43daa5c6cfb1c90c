"""The tenant registry's record: a tenant exists once the platform operator created it."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from schemas.events.ids import new_id, utc_now


@dataclass(frozen=True)
class TenantRecord:
    """A tenant as the operator created it: its status, its limits (a ceiling its own admins may only
    lower) and how long its jobs and videos are kept (`retention_days`, `video_retention_days`: the
    operator's overrides in days; None: the platform's settings). Topic reelstream.tenants.registry
    (compacted), key tenant_id."""

    tenant_id: str
    name: str
    status: str  # "active" | "suspended"
    rate: float
    burst: float
    queued: int
    created_at: datetime
    retention_days: int | None = None
    running: int | None = None
    created_by: str | None = None
    video_retention_days: int | None = None
    gang: int | None = None  # slots one job may take at once for low latency (streams.gang); None: spare only
    event_id: str = field(default_factory=new_id)
    occurred_at: datetime = field(default_factory=utc_now)
