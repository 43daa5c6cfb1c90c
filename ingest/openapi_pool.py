"""The OpenAPI path and schemas of the operator's pool view, `GET /v1/admin/pool` (ingest.pool)."""

from __future__ import annotations

from typing import Any

from ingest.openapi_components import error_responses, json_response, ref

Json = dict[str, Any]
STRING: Json = {"type": "string"}
STAMP: Json = {"type": "string", "format": "date-time"}
COUNT: Json = {"type": "integer", "minimum": 0}

POOL_SCHEMAS: Json = {
    "PoolSlotJob": {
        "type": "object",
        "description": "The attempt a busy slot renders (never its prompt).",
        "required": ["id", "tenant", "model", "attempt", "since", "gang"],
        "properties": {
            "id": STRING,
            "tenant": STRING,
            "model": STRING,
            "attempt": {"type": "integer", "minimum": 1},
            "since": {**STAMP, "description": "when the attempt was dispatched to the slot"},
            "gang": {
                "type": "array",
                "items": {"type": "integer", "minimum": 0},
                "description": "every slot rendering this attempt together (a gang), the leader first; "
                "empty: this slot alone",
            },
        },
    },
    "PoolSlot": {
        "type": "object",
        "required": ["slot", "worker_id", "gpu_name", "last_seen", "state", "job"],
        "properties": {
            "slot": {**COUNT, "description": "the slot's index in its pool"},
            "worker_id": STRING,
            "gpu_name": {"oneOf": [STRING, {"type": "null"}], "description": "as the worker reported it"},
            "last_seen": {**STAMP, "description": "the worker's last heartbeat"},
            "state": {"type": "string", "enum": ["busy", "idle"]},
            "job": {"oneOf": [ref("PoolSlotJob"), {"type": "null"}], "description": "null when idle"},
        },
    },
    "TenantQueue": {
        "type": "object",
        "required": ["tenant", "queued"],
        "properties": {"tenant": STRING, "queued": {**COUNT, "description": "jobs waiting in the pool"}},
    },
    "Pool": {
        "type": "object",
        "required": ["pool", "taken_at", "busy", "idle", "queued", "slots", "queues"],
        "properties": {
            "pool": STRING,
            "taken_at": {**STAMP, "description": "when the scheduler took this snapshot"},
            "busy": {**COUNT, "description": "slots rendering a job"},
            "idle": {**COUNT, "description": "slots free"},
            "queued": {**COUNT, "description": "jobs waiting, every tenant's"},
            "slots": {"type": "array", "items": ref("PoolSlot"), "description": "by slot index"},
            "queues": {
                "type": "array",
                "items": ref("TenantQueue"),
                "description": "tenants with jobs waiting, by tenant id",
            },
        },
    },
    "PoolState": {
        "type": "object",
        "description": "Each GPU pool as its scheduler last published it (the operator's view).",
        "required": ["object", "data"],
        "properties": {
            "object": {"const": "pool_state"},
            "data": {"type": "array", "items": ref("Pool"), "description": "by pool id"},
        },
    },
}


def pool_paths() -> Json:
    return {
        "/v1/admin/pool": {
            "get": {
                "operationId": "getPool",
                "summary": "The GPU pools: slots busy and idle, jobs queued per tenant (platform operator)",
                "responses": {
                    "200": json_response("Each pool's newest snapshot.", "PoolState"),
                    **error_responses("Unavailable"),
                },
            }
        },
    }
