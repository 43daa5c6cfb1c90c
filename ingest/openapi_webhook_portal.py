"""The OpenAPI paths and schemas of endpoint updates, secret rotation, the delivery log and resends
(ingest.webhook_portal, ingest.webhook_deliveries)."""

from __future__ import annotations

from typing import Any

from ingest.openapi_components import error_responses, json_response, ref
from ingest.webhook_admin import MAX_DESCRIPTION_CHARS
from ingest.webhook_deliveries import DEFAULT_LIMIT, MAX_LIMIT, MAX_RESEND_BATCH
from ingest.webhook_portal import DEFAULT_OVERLAP_SECONDS, MAX_OVERLAP_SECONDS
from reelstream.webhooks.messages import DEFAULT_TYPE_NAMES, SUBSCRIBABLE_TYPE_NAMES
from reelstream.webhooks.targets import MAX_URL_CHARS

Json = dict[str, Any]
STRING: Json = {"type": "string"}
STAMP: Json = {"type": "string", "format": "date-time"}
NULLABLE_STRING: Json = {"oneOf": [STRING, {"type": "null"}]}
NULLABLE_INT: Json = {"oneOf": [{"type": "integer"}, {"type": "null"}]}
ENDPOINT_BASE = "/v1/admin/tenants/{tenant}/webhook-endpoints/{endpoint_id}"

EVENT_TYPES: Json = {
    "type": "array",
    "items": {"enum": sorted(SUBSCRIBABLE_TYPE_NAMES)},
    "description": "the event types delivered; absent or empty: the default ones ("
    + ", ".join(sorted(DEFAULT_TYPE_NAMES))
    + "); job.queued, job.started and job.progress (throttled) only when named",
}
URL: Json = {"type": "string", "format": "uri", "pattern": "^https?://", "maxLength": MAX_URL_CHARS}


DELIVERY_PROPERTIES: Json = {
    "object": {"const": "webhook_delivery"},
    "id": {**STRING, "description": "this attempt's id (resend it by this id)"},
    "endpoint_id": STRING,
    "webhook_id": {**STRING, "description": "the webhook-id header: the same on every attempt"},
    "event_type": {**NULLABLE_STRING, "description": "job.succeeded, ping, …"},
    "job_id": NULLABLE_STRING,
    "attempt": {"type": "integer"},
    "status": {"enum": ["delivered", "failed"]},
    "status_code": NULLABLE_INT,
    "error_class": {**NULLABLE_STRING, "description": "why no answer came (ConnectError, …)"},
    "latency_ms": {"type": "number"},
    "attempted_at": STAMP,
}


def _query(name: str, schema: Json, description: str, required: bool = False) -> Json:
    return {"name": name, "in": "query", "required": required, "schema": schema, "description": description}


PORTAL_SCHEMAS: Json = {
    "WebhookEndpointUpdate": {
        "type": "object",
        "additionalProperties": False,
        "minProperties": 1,
        "description": "The fields to change; what is absent is kept.",
        "properties": {
            "url": URL,
            "event_types": EVENT_TYPES,
            "description": {"type": "string", "maxLength": MAX_DESCRIPTION_CHARS},
            "enabled": {"type": "boolean", "description": "false: nothing is delivered to it"},
        },
    },
    "WebhookSecretRotation": {
        "type": "object",
        "additionalProperties": False,
        "properties": {
            "overlap_seconds": {
                "type": "integer",
                "minimum": 0,
                "maximum": MAX_OVERLAP_SECONDS,
                "default": DEFAULT_OVERLAP_SECONDS,
                "description": "how long the old secret keeps signing (both signatures are sent)",
            }
        },
    },
    "WebhookSecretRotated": {
        "allOf": [
            ref("WebhookSecret"),
            {
                "type": "object",
                "required": ["secret", "rotated"],
                "properties": {"rotated": ref("WebhookSecret")},
            },
        ]
    },
    "WebhookDelivery": {
        "type": "object",
        "required": list(DELIVERY_PROPERTIES),
        "properties": DELIVERY_PROPERTIES,
    },
    "WebhookDeliveryList": {
        "type": "object",
        "required": ["object", "data", "next_cursor"],
        "properties": {
            "object": {"const": "list"},
            "data": {"type": "array", "items": ref("WebhookDelivery")},
            "next_cursor": {**NULLABLE_STRING, "description": "the next (older) page's cursor; null: last"},
        },
    },
    "WebhookResend": {
        "type": "object",
        "required": ["object", "endpoint_id", "webhook_id", "delivery_id", "resend_id", "requested_at"],
        "properties": {
            "object": {"const": "webhook_resend"},
            "endpoint_id": STRING,
            "webhook_id": STRING,
            "delivery_id": STRING,
            "resend_id": STRING,
            "requested_at": STAMP,
        },
    },
    "WebhookResendBatch": {
        "type": "object",
        "required": ["object", "endpoint_id", "since", "count", "skipped", "data"],
        "properties": {
            "object": {"const": "webhook_resend_batch"},
            "endpoint_id": STRING,
            "since": STAMP,
            "count": {"type": "integer"},
            "skipped": {"type": "integer", "description": "failed deliveries that cannot be resent"},
            "data": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["webhook_id", "delivery_id", "resend_id"],
                    "properties": {"webhook_id": STRING, "delivery_id": STRING, "resend_id": STRING},
                },
            },
        },
    },
}


def _body(schema: str, required: bool = True) -> Json:
    return {"required": required, "content": {"application/json": {"schema": ref(schema)}}}


def update_endpoint_operation(tenant: Json, endpoint_id: Json) -> Json:
    return {
        "operationId": "updateWebhookEndpoint",
        "summary": "Change a registered endpoint's URL, event types, description or enabled flag",
        "description": "The URL is checked as at registration. A disabled endpoint gets nothing (its "
        "pending retries are dead-lettered) until it is enabled again.",
        "parameters": [tenant, endpoint_id],
        "requestBody": _body("WebhookEndpointUpdate"),
        "responses": {
            "200": json_response("The endpoint as it is now.", "WebhookEndpoint"),
            **error_responses("NotFound", "Malformed", "Invalid", "Unavailable"),
        },
    }


def webhook_portal_paths(tenant: Json, path: Any) -> Json:
    """`path(name)`: a path parameter."""
    endpoint = [tenant, path("endpoint_id")]
    return {
        "/v1/admin/tenants/{tenant}/webhook-secrets/{secret_id}/rotate": {
            "post": {
                "operationId": "rotateWebhookSecret",
                "summary": "Replace a signing secret, the old one signing too for an overlap",
                "description": "Creates a new secret (its value in this response only) and makes the old "
                "one expire after `overlap_seconds`: until then every delivery carries both signatures. "
                "409 when the tenant already has its most active secrets.",
                "parameters": [tenant, path("secret_id")],
                "requestBody": _body("WebhookSecretRotation", required=False),
                "responses": {
                    "201": json_response("The new secret, and the old one's expiry.", "WebhookSecretRotated"),
                    **error_responses("NotFound", "Conflict", "Malformed", "Invalid", "Unavailable"),
                },
            }
        },
        f"{ENDPOINT_BASE}/deliveries": {
            "get": {
                "operationId": "listWebhookDeliveries",
                "summary": "A registered endpoint's delivery attempts, newest first",
                "description": "Every attempt within the deliveries topic's retention, up to the newest "
                "REELSTREAM_WEBHOOK_DELIVERY_LOG_PER_ENDPOINT per endpoint.",
                "parameters": [
                    *endpoint,
                    _query("status", {"enum": ["failed", "delivered"]}, "only these attempts"),
                    _query("cursor", {"type": "string", "pattern": "^[0-9]{1,18}$"}, "a next_cursor"),
                    _query(
                        "limit",
                        {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT, "default": DEFAULT_LIMIT},
                        "page size",
                    ),
                ],
                "responses": {
                    "200": json_response("Newest first.", "WebhookDeliveryList"),
                    **error_responses("NotFound", "Invalid", "Unavailable"),
                },
            }
        },
        f"{ENDPOINT_BASE}/deliveries/{{delivery_id}}/resend": {
            "post": {
                "operationId": "resendWebhookDelivery",
                "summary": "Send a logged delivery again, under the same webhook-id",
                "description": "The notifier makes the attempt (retried like any other); the body is the "
                "job as it is now. A receiver that already has the webhook-id drops it.",
                "parameters": [*endpoint, path("delivery_id")],
                "responses": {
                    "202": json_response("The resend is queued.", "WebhookResend"),
                    **error_responses("NotFound", "Conflict", "Invalid", "Unavailable"),
                },
            }
        },
        f"{ENDPOINT_BASE}/resend-failed": {
            "post": {
                "operationId": "resendFailedWebhookDeliveries",
                "summary": "Send again every message the endpoint never received since a time",
                "description": "One resend per webhook-id whose every logged attempt since `since` failed "
                f"(at most {MAX_RESEND_BATCH}); for recovery after an outage.",
                "parameters": [*endpoint, _query("since", STAMP, "an ISO 8601 date-time", required=True)],
                "responses": {
                    "202": json_response("The resends are queued.", "WebhookResendBatch"),
                    **error_responses("NotFound", "Conflict", "Invalid", "Unavailable"),
                },
            }
        },
    }
