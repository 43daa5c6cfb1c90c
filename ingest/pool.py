"""The operator's view of the GPU pools, `GET /v1/admin/pool` (platform only): each pool's slots busy and idle
and its jobs queued per tenant, as its scheduler last published them (ingest.pool_view); 503 until this
replica's view has caught up."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from ingest.context import context_of
from schemas.events import PoolSlot, PoolSnapshot

Json = dict[str, Any]


def pool_body(pools: list[PoolSnapshot]) -> Json:
    """The `PoolState` document (ingest.openapi_pool)."""
    return {"object": "pool_state", "data": [_pool(p) for p in pools]}


def _pool(snapshot: PoolSnapshot) -> Json:
    busy = sum(1 for s in snapshot.slots if s.job is not None)
    return {
        "pool": snapshot.pool_id,
        "taken_at": snapshot.occurred_at.isoformat(),
        "busy": busy,
        "idle": len(snapshot.slots) - busy,
        "queued": sum(q.queued for q in snapshot.queues),
        "slots": [_slot(s) for s in snapshot.slots],
        "queues": [{"tenant": q.tenant_id, "queued": q.queued} for q in snapshot.queues],
    }


def _slot(slot: PoolSlot) -> Json:
    job = slot.job
    return {
        "slot": slot.slot,
        "worker_id": slot.worker_id,
        "gpu_name": slot.gpu_name or None,
        "last_seen": slot.last_seen.isoformat(),
        "state": "idle" if job is None else "busy",
        "job": None
        if job is None
        else {
            "id": job.job_id,
            "tenant": job.tenant_id,
            "model": job.model,
            "attempt": job.attempt,
            "since": job.since.isoformat(),
            "gang": list(job.gang),
        },
    }


async def get_pool(request: Request) -> Response:
    return JSONResponse(pool_body(context_of(request).pool_view().pools()))
