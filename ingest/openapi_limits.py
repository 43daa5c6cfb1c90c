"""The OpenAPI path and schemas of `GET /v1/limits` (ingest.limits): the caller's limits and its use."""

from __future__ import annotations

from typing import Any

from ingest.openapi_components import error_responses, json_response, ref
from ingest.openapi_usage import COUNT, SECONDS, STAMP, STRING

Json = dict[str, Any]
NULLABLE_STAMP: Json = {"oneOf": [STAMP, {"type": "null"}]}
POSITIVE: Json = {"type": "number", "exclusiveMinimum": 0}

LIMITS_SCHEMAS: Json = {
    "GpuBudget": {
        "type": "object",
        "description": "The tenant's budget of expected GPU seconds (the cost model's prediction per job). "
        "Admission charges a job's prediction when it admits it, and gives it back whole when the job ends "
        "before any attempt starts (canceled, deleted or expired while queued) or fails (a failure of a job "
        "admission validated is the platform's); a succeeded job, or one canceled while it rendered, keeps "
        "its charge. The budget refills at budget / window_seconds a second, up to budget.",
        "required": ["budget", "window_seconds", "used", "remaining"],
        "properties": {
            "budget": {**POSITIVE, "description": "GPU seconds a full budget holds"},
            "window_seconds": {**POSITIVE, "description": "the time an empty budget takes to refill"},
            "used": {**SECONDS, "description": "budget − remaining"},
            "remaining": {
                **SECONDS,
                "description": "GPU seconds left now; a job expected to take more waits",
            },
        },
    },
    "Limits": {
        "type": "object",
        "description": "The caller's tenant's limits and where it stands, as admission last published them "
        "(refilled to now); before it published anything for the tenant, the configured limits, unused "
        "(`as_of` null).",
        "required": [
            *("object", "tenant", "as_of", "rate", "burst", "tokens", "queued", "queued_cap"),
            *("running_cap", "over", "throttled_until", "gpu_seconds"),
        ],
        "properties": {
            "object": {"const": "limits"},
            "tenant": STRING,
            "as_of": {**NULLABLE_STAMP, "description": "when admission computed the state"},
            "rate": {**POSITIVE, "description": "submissions a second"},
            "burst": {**POSITIVE, "description": "submissions at once"},
            "tokens": {**SECONDS, "description": "submissions that may be made now (refilled to now)"},
            "queued": {**COUNT, "description": "jobs admitted and not yet finished"},
            "queued_cap": COUNT,
            "running_cap": {"oneOf": [COUNT, {"type": "null"}], "description": "null: no cap"},
            "over": {"oneOf": [{"enum": ["rate", "queued"]}, {"type": "null"}]},
            "throttled_until": NULLABLE_STAMP,
            "gpu_seconds": {"oneOf": [ref("GpuBudget"), {"type": "null"}]},
        },
    },
}


def limits_paths() -> Json:
    return {
        "/v1/limits": {
            "get": {
                "operationId": "getLimits",
                "summary": "The caller's limits and its use of them (submissions, queue, GPU budget)",
                "responses": {
                    "200": json_response("The tenant's limits.", "Limits"),
                    **error_responses(),
                },
            }
        }
    }
