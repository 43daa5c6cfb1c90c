"""The pool snapshot: a GPU pool's slots and queue as its scheduler sees it (`reelstream.pools.state`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from schemas.events.ids import new_id, utc_now


@dataclass(frozen=True)
class PoolSlotJob:
    job_id: str
    tenant_id: str
    model: str
    attempt: int
    since: datetime
    gang: list[int] = field(default_factory=list)  # every slot of the attempt's gang, leader first; [] alone


@dataclass(frozen=True)
class PoolSlot:
    slot: int
    worker_id: str
    gpu_name: str
    last_seen: datetime
    job: PoolSlotJob | None = None


@dataclass(frozen=True)
class TenantQueue:
    tenant_id: str
    queued: int


@dataclass(frozen=True)
class PoolSnapshot:
    pool_id: str
    slots: tuple[PoolSlot, ...]
    queues: tuple[TenantQueue, ...]
    event_id: str = field(default_factory=new_id)
    occurred_at: datetime = field(default_factory=utc_now)
