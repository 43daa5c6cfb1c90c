"""The OpenAPI paths and schemas of a tenant's webhook secrets and endpoints (ingest.webhook_admin)."""

from __future__ import annotations

from typing import Any

from ingest.openapi_components import error_responses, json_response, ref
from ingest.openapi_webhook_portal import (
    EVENT_TYPES,
    PORTAL_SCHEMAS,
    update_endpoint_operation,
    webhook_portal_paths,
)
from ingest.tenant_registry import TENANT_PATTERN
from ingest.webhook_admin import MAX_DESCRIPTION_CHARS, MAX_ENDPOINTS, MAX_SECRETS
from reelstream.webhooks.targets import MAX_URL_CHARS

Json = dict[str, Any]
STRING: Json = {"type": "string"}
STAMP: Json = {"type": "string", "format": "date-time"}
NULLABLE_STAMP: Json = {"oneOf": [STAMP, {"type": "null"}]}


def _path(name: str) -> Json:
    return {"name": name, "in": "path", "required": True, "schema": STRING}


TENANT: Json = {
    "name": "tenant",
    "in": "path",
    "required": True,
    "schema": {"type": "string", "pattern": f"^{TENANT_PATTERN.pattern}$"},
}
BASE = "/v1/admin/tenants/{tenant}"
NO_CONTENT: Json = {"description": "Done."}

WEBHOOK_SECRET_REQUEST: Json = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "expires_at": {
            **STAMP,
            "description": "not used for signing after this instant; absent: until retired",
        }
    },
}
WEBHOOK_SECRET: Json = {
    "type": "object",
    "required": ["object", "id", "tenant", "created_at", "expires_at"],
    "properties": {
        "object": {"const": "webhook_secret"},
        "id": STRING,
        "tenant": STRING,
        "secret": {
            "type": "string",
            "pattern": "^whsec_",
            "description": "Standard Webhooks secret; in the create response only, never again",
        },
        "created_at": STAMP,
        "expires_at": NULLABLE_STAMP,
    },
}
WEBHOOK_ENDPOINT_REQUEST: Json = {
    "type": "object",
    "additionalProperties": False,
    "required": ["url"],
    "properties": {
        "url": {"type": "string", "format": "uri", "pattern": "^https?://", "maxLength": MAX_URL_CHARS},
        "event_types": EVENT_TYPES,
        "description": {"type": "string", "maxLength": MAX_DESCRIPTION_CHARS},
    },
}
WEBHOOK_ENDPOINT: Json = {
    "type": "object",
    "required": ["object", "id", "tenant", "url", "event_types", "description", "enabled", "created_at"],
    "properties": {
        "object": {"const": "webhook_endpoint"},
        "id": STRING,
        "tenant": STRING,
        "url": STRING,
        "event_types": {"type": "array", "items": STRING},
        "description": {"oneOf": [STRING, {"type": "null"}]},
        "enabled": {"type": "boolean"},
        "created_at": STAMP,
        "secret_id": {**STRING, "description": "in the create response of a tenant's first secret only"},
        "secret": {
            "type": "string",
            "pattern": "^whsec_",
            "description": "the tenant's first signing secret, created with its first endpoint: shown once",
        },
    },
}
WEBHOOK_PING: Json = {
    "type": "object",
    "required": ["object", "id", "endpoint_id", "tenant", "requested_at"],
    "properties": {
        "object": {"const": "webhook_ping"},
        "id": {**STRING, "description": "the webhook-id the ping is delivered under"},
        "endpoint_id": STRING,
        "tenant": STRING,
        "requested_at": STAMP,
    },
}


def _list(item: str) -> Json:
    return {
        "type": "object",
        "required": ["object", "data"],
        "properties": {"object": {"const": "list"}, "data": {"type": "array", "items": ref(item)}},
    }


WEBHOOK_SCHEMAS: Json = {
    "WebhookSecretRequest": WEBHOOK_SECRET_REQUEST,
    "WebhookSecret": WEBHOOK_SECRET,
    "WebhookSecretList": _list("WebhookSecret"),
    "WebhookEndpointRequest": WEBHOOK_ENDPOINT_REQUEST,
    "WebhookEndpoint": WEBHOOK_ENDPOINT,
    "WebhookEndpointList": _list("WebhookEndpoint"),
    "WebhookPing": WEBHOOK_PING,
    **PORTAL_SCHEMAS,
    "WebhookEnableRequest": {
        "type": "object",
        "additionalProperties": False,
        "description": "Exactly one of the two: the URL, or its SHA-256 (its key on the endpoints topic).",
        "properties": {
            "url": {"type": "string", "format": "uri", "pattern": "^https?://", "maxLength": MAX_URL_CHARS},
            "endpoint_sha256": {"type": "string", "pattern": "^[0-9a-f]{64}$"},
        },
        "oneOf": [{"required": ["url"]}, {"required": ["endpoint_sha256"]}],
    },
    "WebhookEndpointEnabled": {
        "type": "object",
        "required": ["object", "endpoint_sha256", "enabled_at"],
        "properties": {
            "object": {"const": "webhook_endpoint_enabled"},
            "endpoint_sha256": STRING,
            "enabled_at": {"type": "string", "format": "date-time"},
        },
    },
}


def _body(schema: str, required: bool = True) -> Json:
    return {"required": required, "content": {"application/json": {"schema": ref(schema)}}}


def webhook_admin_paths() -> Json:
    return {
        f"{BASE}/webhook-secrets": {
            "get": {
                "operationId": "listWebhookSecrets",
                "summary": "A tenant's active webhook signing secrets, without their values (scope admin)",
                "parameters": [TENANT],
                "responses": {
                    "200": json_response("Oldest first.", "WebhookSecretList"),
                    **error_responses("NotFound", "Invalid", "Unavailable"),
                },
            },
            "post": {
                "operationId": "createWebhookSecret",
                "summary": "Create a signing secret for a tenant's webhooks (scope admin)",
                "description": "The value is shown in this response only. Every delivery to the tenant is "
                "signed with each of its active secrets (`webhook-signature: v1,<a> v1,<b>`), so receivers "
                "can move to a new secret before the old one is retired. A tenant without one gets no "
                f"delivery. At most {MAX_SECRETS} active at once: 409 when the tenant has them already.",
                "parameters": [TENANT],
                "requestBody": _body("WebhookSecretRequest", required=False),
                "responses": {
                    "201": json_response("The new secret, with its value.", "WebhookSecret"),
                    **error_responses(
                        "NotFound", "Conflict", "Malformed", "TooLarge", "Invalid", "Unavailable"
                    ),
                },
            },
        },
        f"{BASE}/webhook-secrets/{{secret_id}}": {
            "delete": {
                "operationId": "retireWebhookSecret",
                "summary": "Retire a signing secret: deliveries from now on no longer carry its signature",
                "parameters": [TENANT, _path("secret_id")],
                "responses": {"204": NO_CONTENT, **error_responses("NotFound", "Invalid", "Unavailable")},
            }
        },
        f"{BASE}/webhook-endpoints": {
            "get": {
                "operationId": "listWebhookEndpoints",
                "summary": "A tenant's registered webhook endpoints (scope admin)",
                "parameters": [TENANT],
                "responses": {
                    "200": json_response("Oldest first.", "WebhookEndpointList"),
                    **error_responses("NotFound", "Invalid", "Unavailable"),
                },
            },
            "post": {
                "operationId": "createWebhookEndpoint",
                "summary": "Register an endpoint for a tenant's job events (scope admin)",
                "description": "Each job event of the tenant whose type the filter names is delivered to "
                "the endpoint, besides the job's own webhook_url: its own delivery, with its own "
                "webhook-id, retries and dead letter. The URL's syntax is checked here; where it points is "
                f"checked at each delivery. At most {MAX_ENDPOINTS} per tenant. The tenant's first "
                "endpoint also creates its first signing secret, shown in this response only.",
                "parameters": [TENANT],
                "requestBody": _body("WebhookEndpointRequest"),
                "responses": {
                    "201": json_response("The endpoint.", "WebhookEndpoint"),
                    **error_responses("NotFound", "Malformed", "TooLarge", "Invalid", "Unavailable"),
                },
            },
        },
        f"{BASE}/webhook-endpoints/{{endpoint_id}}": {
            "delete": {
                "operationId": "deleteWebhookEndpoint",
                "summary": "Remove a registered endpoint; its pending retries are dead-lettered",
                "parameters": [TENANT, _path("endpoint_id")],
                "responses": {"204": NO_CONTENT, **error_responses("NotFound", "Invalid", "Unavailable")},
            },
            "patch": update_endpoint_operation(TENANT, _path("endpoint_id")),
        },
        f"{BASE}/webhook-endpoints/{{endpoint_id}}/ping": {
            "post": {
                "operationId": "pingWebhookEndpoint",
                "summary": "Send a signed `ping` event to a registered endpoint",
                "description": 'The body delivered is `{"type": "ping", "timestamp": …, "data": {"tenant": '
                '…, "endpoint_id": …}}`, signed and retried like any other webhook.',
                "parameters": [TENANT, _path("endpoint_id")],
                "responses": {
                    "202": json_response("The ping is queued.", "WebhookPing"),
                    **error_responses("NotFound", "Invalid", "Unavailable"),
                },
            }
        },
        **webhook_portal_paths(TENANT, _path),
        "/v1/admin/webhooks/enable": {
            "post": {
                "operationId": "enableWebhookEndpoint",
                "summary": "Re-enable a webhook URL disabled after answering 410 Gone (platform operator)",
                "description": "A URL that answers 410 is disabled for every tenant: its deliveries are "
                "dead-lettered (`endpoint_gone`) unsent. This lifts that; deliveries resume once the "
                "notifiers have read it (seconds). Harmless for a URL that is not disabled.",
                "requestBody": _body("WebhookEnableRequest"),
                "responses": {
                    "200": json_response("Re-enabled.", "WebhookEndpointEnabled"),
                    **error_responses("NotFound", "Malformed", "TooLarge", "Invalid", "Unavailable"),
                },
            }
        },
    }
