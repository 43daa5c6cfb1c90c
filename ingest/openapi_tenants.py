"""The OpenAPI paths and schemas of the tenant registry (ingest.tenants), the platform operator's routes, and
the schemas of key rotation (ingest.key_rotation)."""

from __future__ import annotations

from typing import Any

from ingest.key_rotation import DEFAULT_OVERLAP_SECONDS, MAX_OVERLAP_SECONDS
from ingest.openapi_components import NO_NUL, error_responses, json_response, ref
from ingest.openapi_webhooks import NO_CONTENT
from ingest.openapi_webhooks import TENANT as TENANT_PARAM
from ingest.tenant_lifecycle import MAX_REASON_CHARS
from ingest.tenant_registry import STATUSES, TENANT_PATTERN
from ingest.tenants import MAX_NAME_CHARS, MAX_RETENTION_DAYS

Json = dict[str, Any]
STAMP: Json = {"type": "string", "format": "date-time"}

RETENTION_DAYS: Json = {"type": "integer", "minimum": 1, "maximum": MAX_RETENTION_DAYS}
RETENTION_FIELDS: Json = {
    "retention_days": {
        **RETENTION_DAYS,
        "description": "days a finished job's record is kept; absent: the platform's setting",
    },
    "video_retention_days": {
        **RETENTION_DAYS,
        "description": "days a succeeded job's video and poster are kept (never past the record); absent: "
        "the platform's setting. At most the platform's video retention rounded up to whole days (the "
        "bucket's lifecycle rule deletes objects a day after it); more answers 422",
    },
}
TENANT_RETENTION_REQUEST: Json = {
    "type": "object",
    "additionalProperties": False,
    "properties": RETENTION_FIELDS,
    "description": "replaces both overrides: an absent one goes back to the platform's setting",
}
NULLABLE_DAYS: Json = {"oneOf": [{"type": "integer"}, {"type": "null"}]}
TENANT_REQUEST: Json = {
    "type": "object",
    "additionalProperties": False,
    "required": ["id"],
    "properties": {
        "id": {"type": "string", "pattern": f"^{TENANT_PATTERN.pattern}$"},
        "name": {
            "type": "string",
            "minLength": 1,
            "maxLength": MAX_NAME_CHARS,
            "description": "absent: the id",
        },
        "limits": {**ref("TenantLimitsRequest"), "description": "absent: the configured limits"},
        **RETENTION_FIELDS,
    },
}
TENANT_LIMITS_CEILING: Json = {
    "type": "object",
    "required": ["rate", "burst", "queued", "running", "gang"],
    "properties": {
        "rate": {"type": "number"},
        "burst": {"type": "number"},
        "queued": {"type": "integer"},
        "running": {"oneOf": [{"type": "integer"}, {"type": "null"}]},
        "gang": {"oneOf": [{"type": "integer"}, {"type": "null"}]},
    },
    "description": "the ceiling the operator set; the tenant's admins may only lower its limits",
}
TENANT: Json = {
    "type": "object",
    "required": [
        "object",
        "id",
        "name",
        "status",
        "limits",
        "retention_days",
        "video_retention_days",
        "created_at",
        "updated_at",
    ],
    "properties": {
        "object": {"const": "tenant"},
        "id": {"type": "string"},
        "name": {"type": "string"},
        "status": {"type": "string", "enum": list(STATUSES)},
        "limits": TENANT_LIMITS_CEILING,
        "retention_days": {
            **NULLABLE_DAYS,
            "description": "the operator's override of the job record retention (null: the platform's)",
        },
        "video_retention_days": {
            **NULLABLE_DAYS,
            "description": "the operator's override of the video retention (null: the platform's)",
        },
        "created_at": STAMP,
        "updated_at": STAMP,
    },
}
TENANT_LIST: Json = {
    "type": "object",
    "required": ["object", "data"],
    "properties": {"object": {"const": "list"}, "data": {"type": "array", "items": ref("Tenant")}},
}
API_KEY_ROTATE_REQUEST: Json = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "overlap_seconds": {
            "type": "integer",
            "minimum": 0,
            "maximum": MAX_OVERLAP_SECONDS,
            "description": f"how long the old key stays valid; absent: {DEFAULT_OVERLAP_SECONDS}",
        }
    },
}
API_KEY_ROTATED: Json = {
    "allOf": [
        ref("ApiKeyCreated"),
        {"type": "object", "required": ["replaces"], "properties": {"replaces": ref("ApiKey")}},
    ]
}
TENANT_STATUS_REQUEST: Json = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "reason": {
            "type": "string",
            "minLength": 1,
            "maxLength": MAX_REASON_CHARS,
            "pattern": NO_NUL,
            "description": "why (kept in ingest's log); no NUL character",
        }
    },
}
TENANT_SCHEMAS: Json = {
    "TenantStatusRequest": TENANT_STATUS_REQUEST,
    "TenantRequest": TENANT_REQUEST,
    "TenantRetentionRequest": TENANT_RETENTION_REQUEST,
    "Tenant": TENANT,
    "TenantList": TENANT_LIST,
    "ApiKeyRotateRequest": API_KEY_ROTATE_REQUEST,
    "ApiKeyRotated": API_KEY_ROTATED,
}


NO_STORE: Json = {"Cache-Control": {"description": "`no-store`", "schema": {"type": "string"}}}


def tenant_paths() -> Json:
    """The operator's tenant routes and key rotation (the key routes' other paths: ingest.openapi)."""
    return {
        "/v1/admin/keys/{key_id}/rotate": {
            "post": {
                "operationId": "rotateApiKey",
                "summary": "Rotate an API key: a successor now, the old key kept for an overlap window",
                "description": "The successor has the key's tenant, roles, name and expiry and is in this "
                "response only. The old key stays valid for `overlap_seconds` (default 86400; an "
                "earlier expiry stays), then is refused. A revoked or expired key answers 409.",
                "parameters": [
                    {"name": "key_id", "in": "path", "required": True, "schema": {"type": "string"}}
                ],
                "requestBody": {
                    "required": False,
                    "content": {"application/json": {"schema": ref("ApiKeyRotateRequest")}},
                },
                "responses": {
                    "201": json_response(
                        "The successor, with its secret (shown once), and the old key's new expiry.",
                        "ApiKeyRotated",
                        {**NO_STORE, "Location": {"schema": {"type": "string"}}},
                    ),
                    **error_responses("NotFound", "Conflict", "Malformed", "Invalid", "Unavailable"),
                },
            }
        },
        "/v1/admin/tenants": {
            "post": {
                "operationId": "createTenant",
                "summary": "Create a tenant (platform operator)",
                "description": "A tenant must exist before keys, limits or webhook endpoints are made for "
                "it. Its limits are the ceiling its own admins may only lower.",
                "requestBody": {
                    "required": True,
                    "content": {"application/json": {"schema": ref("TenantRequest")}},
                },
                "responses": {
                    "201": json_response(
                        "The tenant.", "Tenant", {"Location": {"schema": {"type": "string"}}}
                    ),
                    **error_responses("Malformed", "Conflict", "Invalid", "Unavailable"),
                },
            },
            "get": {
                "operationId": "listTenants",
                "summary": "List tenants (platform operator)",
                "responses": {
                    "200": json_response("Every tenant, by id.", "TenantList"),
                    **error_responses("Unavailable"),
                },
            },
        },
        "/v1/admin/tenants/{tenant}": {
            "get": {
                "operationId": "getTenant",
                "summary": "Read a tenant (the operator, or the tenant's own admin)",
                "description": "Another tenant answers 404, exactly like one that does not exist.",
                "parameters": [TENANT_PARAM],
                "responses": {
                    "200": json_response("The tenant.", "Tenant"),
                    **error_responses("NotFound", "Invalid", "Unavailable"),
                },
            },
            "delete": {
                "operationId": "deleteTenant",
                "summary": "Delete a tenant (platform operator)",
                "description": "Revokes every key of the tenant, removes its webhook endpoints and signing "
                "secrets, marks its record `deleted` (the id is not given again; the tenant answers 404 "
                "from then on) and crypto-shreds its data keys.",
                "parameters": [
                    TENANT_PARAM,
                    {
                        "name": "confirm",
                        "in": "query",
                        "required": True,
                        "description": "the tenant id again (deletion cannot be undone); otherwise 422",
                        "schema": {"type": "string"},
                    },
                ],
                "responses": {"204": NO_CONTENT, **error_responses("NotFound", "Invalid", "Unavailable")},
            },
        },
        "/v1/admin/tenants/{tenant}/retention": {
            "put": {
                "operationId": "putTenantRetention",
                "summary": "Set a tenant's retention overrides (platform operator)",
                "description": "Replaces both overrides (an absent one: the platform's setting). Every job "
                "of the tenant follows at the next retention sweep, those that already finished included: "
                "`expires_at` and `content_expires_at` on its jobs change at once.",
                "parameters": [TENANT_PARAM],
                "requestBody": {
                    "required": True,
                    "content": {"application/json": {"schema": ref("TenantRetentionRequest")}},
                },
                "responses": {
                    "200": json_response("The tenant, with its overrides.", "Tenant"),
                    **error_responses("NotFound", "Malformed", "Invalid", "Unavailable"),
                },
            }
        },
        **{
            f"/v1/admin/tenants/{{tenant}}/{action}": {
                "post": {
                    "operationId": f"{action}Tenant",
                    "summary": f"{action.capitalize()} a tenant (platform operator)",
                    "description": description,
                    "parameters": [TENANT_PARAM],
                    "requestBody": {
                        "required": False,
                        "content": {"application/json": {"schema": ref("TenantStatusRequest")}},
                    },
                    "responses": {
                        "200": json_response("The tenant, with its new status.", "Tenant"),
                        **error_responses("NotFound", "Malformed", "Invalid", "Unavailable"),
                    },
                }
            }
            for action, description in (
                (
                    "suspend",
                    "Every key and token of the tenant answers 403 (type `.../tenant-suspended`) until it is "
                    "resumed; jobs already admitted are not held back. Suspending a suspended tenant changes "
                    "nothing.",
                ),
                ("resume", "The tenant's keys and tokens work again."),
            )
        },
    }
