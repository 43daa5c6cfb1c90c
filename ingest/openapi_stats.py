"""The OpenAPI path and schemas of the load visualization served to the console (ingest.render_load)."""

from __future__ import annotations

from typing import Any

from ingest.job_index import MAX_SCAN
from ingest.openapi_components import error_responses, json_response, ref
from ingest.openapi_usage import INSTANT, STRING
from ingest.render_load import DEFAULT_LIMIT, MAX_LIMIT
from ingest.tenant_registry import TENANT_PATTERN
from reelstream.load_metrics import FRAME_CLASS_NAMES, PROMPT_WORD_CLASS_NAMES

Json = dict[str, Any]
NULLABLE_SECONDS: Json = {"oneOf": [{"type": "number", "minimum": 0}, {"type": "null"}]}
LOAD_STATS_PROPERTIES: Json = {
    "count": {"type": "integer", "minimum": 0, "description": "succeeded jobs counted"},
    "mean_seconds": {**NULLABLE_SECONDS, "description": "mean render seconds (running to succeeded)"},
    "p50_seconds": {**NULLABLE_SECONDS, "description": "median render seconds (nearest rank)"},
    "p95_seconds": {**NULLABLE_SECONDS, "description": "95th percentile render seconds (nearest rank)"},
}
STATS_REQUIRED = list(LOAD_STATS_PROPERTIES)


def _classes(names: tuple[str, ...], what: str) -> Json:
    return {
        "type": "array",
        "description": f"one row per {what} class, every class in this order, empty ones too (count 0, "
        f"nulls): {', '.join(names)}",
        "items": ref("RenderLoadClass"),
    }


STATS_SCHEMAS: Json = {
    "RenderLoadStats": {"type": "object", "required": STATS_REQUIRED, "properties": LOAD_STATS_PROPERTIES},
    "RenderLoadClass": {
        "type": "object",
        "required": ["class", *STATS_REQUIRED],
        "properties": {
            "class": {**STRING, "description": "a range of frames or prompt words, e.g. 32-85 or 170+"},
            **LOAD_STATS_PROPERTIES,
        },
    },
    "RenderLoad": {
        "type": "object",
        "description": "Render seconds of the caller's tenant's succeeded jobs by clip length (frames) and "
        "by prompt length (words), in the bounded classes of the Grafana load panel.",
        "required": [
            *("object", "tenant", "from", "to", "limit", "complete"),
            *("total", "by_frames", "by_prompt_words"),
        ],
        "properties": {
            "object": {"const": "render_load"},
            "tenant": STRING,
            "from": {"oneOf": [{"type": "string", "format": "date-time"}, {"type": "null"}]},
            "to": {"oneOf": [{"type": "string", "format": "date-time"}, {"type": "null"}]},
            "limit": {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT},
            "complete": {
                "type": "boolean",
                "description": "true: the read reached the window's oldest job, so every succeeded job in "
                "it was counted; false: it stopped at `limit` jobs or at its scan bound "
                f"({MAX_SCAN:,} of the tenant's jobs), so older succeeded jobs may be left out",
            },
            "total": ref("RenderLoadStats"),
            "by_frames": _classes(FRAME_CLASS_NAMES, "frames"),
            "by_prompt_words": _classes(PROMPT_WORD_CLASS_NAMES, "prompt words"),
        },
    },
}


def stats_paths() -> Json:
    instant = "an RFC 3339 timestamp with an offset or Z, or a date (its midnight UTC)"
    return {
        "/v1/stats/render-load": {
            "get": {
                "operationId": "getRenderLoad",
                "summary": "Render seconds by frame count and by prompt length (the caller's tenant; the "
                "operator's: any tenant)",
                "parameters": [
                    {
                        "name": "from",
                        "in": "query",
                        "description": f"only jobs created at or after: {instant}; must be before `to`",
                        "schema": INSTANT,
                    },
                    {
                        "name": "to",
                        "in": "query",
                        "description": f"only jobs created before: {instant}",
                        "schema": INSTANT,
                    },
                    {
                        "name": "limit",
                        "in": "query",
                        "description": "the newest succeeded jobs (by creation) to aggregate",
                        "schema": {
                            "type": "integer",
                            "minimum": 1,
                            "maximum": MAX_LIMIT,
                            "default": DEFAULT_LIMIT,
                        },
                    },
                    {
                        "name": "tenant",
                        "in": "query",
                        "description": "whose jobs (default: the caller's tenant); the platform operator "
                        "may name any tenant, anyone else only their own (another answers 404)",
                        "schema": {"type": "string", "pattern": f"^{TENANT_PATTERN.pattern}$"},
                    },
                ],
                "responses": {
                    "200": json_response("The tenant's render load.", "RenderLoad"),
                    **error_responses("NotFound", "Invalid"),
                },
            }
        }
    }
