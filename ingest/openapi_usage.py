"""The OpenAPI paths and schemas of usage metering (ingest.usage_routes, ingest.usage_report)."""

from __future__ import annotations

from typing import Any

from ingest.openapi_components import error_responses, json_response, ref
from ingest.usage_report import DEFAULT_DAYS
from schemas.events import USAGE_OUTCOMES

Json = dict[str, Any]
STRING: Json = {"type": "string"}
STAMP: Json = {"type": "string", "format": "date-time"}
SECONDS: Json = {"type": "number", "minimum": 0}
COUNT: Json = {"type": "integer", "minimum": 0}
INSTANT: Json = {"type": "string", "anyOf": [{"format": "date-time"}, {"format": "date"}]}


def _window_parameters(groups: tuple[str, ...]) -> list[Json]:
    instant = "an RFC 3339 timestamp with an offset or Z, or a date (its midnight UTC)"
    parameters: list[Json] = [
        {
            "name": "from",
            "in": "query",
            "description": f"start of the window, inclusive: {instant}; default {DEFAULT_DAYS} days before "
            "`to`; must be before `to` (else 422)",
            "schema": INSTANT,
        },
        {
            "name": "to",
            "in": "query",
            "description": f"end of the window, exclusive: {instant}; default now",
            "schema": INSTANT,
        },
    ]
    if len(groups) > 1:
        parameters.append(
            {
                "name": "group_by",
                "in": "query",
                "description": "one row per UTC day or per model",
                "schema": {"type": "string", "enum": list(groups), "default": groups[0]},
            }
        )
    return parameters


TOTALS_PROPERTIES: Json = {
    "attempts": {**COUNT, "description": "render attempts that held a GPU (each attempt once)"},
    "gpu_seconds": {**SECONDS, "description": "seconds the attempts held their GPU, as the workers measured"},
    "frames": {**COUNT, "description": "frames of the attempts that succeeded"},
    "gpu_seconds_by_outcome": {
        "type": "object",
        "required": list(USAGE_OUTCOMES),
        "properties": {outcome: SECONDS for outcome in USAGE_OUTCOMES},
        "additionalProperties": SECONDS,
    },
}
TOTALS_REQUIRED = list(TOTALS_PROPERTIES)
USAGE_TOTALS: Json = {"type": "object", "required": TOTALS_REQUIRED, "properties": TOTALS_PROPERTIES}


def _rows(key: str, key_schema: Json) -> Json:
    return {
        "type": "object",
        "required": [key, *TOTALS_REQUIRED],
        "properties": {key: key_schema, **TOTALS_PROPERTIES},
    }


USAGE_SCHEMAS: Json = {
    "UsageTotals": USAGE_TOTALS,
    "Usage": {
        "type": "object",
        "description": "The caller's tenant's GPU usage in a window; every attempt that held a GPU counts, "
        "canceled, failed and timed out ones too, each once, in the window that holds its end.",
        "required": ["object", "tenant", "from", "to", "group_by", "total", "data"],
        "properties": {
            "object": {"const": "usage"},
            "tenant": STRING,
            "from": STAMP,
            "to": STAMP,
            "group_by": {"type": "string", "enum": ["day", "model"]},
            "total": ref("UsageTotals"),
            "data": {
                "type": "array",
                "description": "one row per day (YYYY-MM-DD, UTC) or model with any usage, in key order",
                "items": {
                    "oneOf": [
                        _rows("day", {"type": "string", "format": "date"}),
                        _rows("model", STRING),
                    ]
                },
            },
        },
    },
    "TenantUsageTotals": {
        "type": "object",
        "description": "Every tenant's GPU usage in a window (the operator's view).",
        "required": ["object", "from", "to", "total", "data"],
        "properties": {
            "object": {"const": "usage_totals"},
            "from": STAMP,
            "to": STAMP,
            "total": ref("UsageTotals"),
            "data": {"type": "array", "items": _rows("tenant", STRING)},
        },
    },
}


def usage_paths() -> Json:
    return {
        "/v1/usage": {
            "get": {
                "operationId": "getUsage",
                "summary": "The caller's GPU usage, per day or per model",
                "parameters": _window_parameters(("day", "model")),
                "responses": {
                    "200": json_response("The tenant's usage in the window.", "Usage"),
                    **error_responses("Invalid", "Unavailable"),
                },
            }
        },
        "/v1/admin/usage": {
            "get": {
                "operationId": "getTenantUsageTotals",
                "summary": "Every tenant's GPU usage totals (scope admin)",
                "parameters": _window_parameters(("tenant",)),
                "responses": {
                    "200": json_response("Each tenant's usage in the window.", "TenantUsageTotals"),
                    **error_responses("Invalid", "Unavailable"),
                },
            }
        },
    }
