"""The OpenAPI 3.1 document of the ingest API, written by hand; `GET /openapi.json` serves it.

Tests check that every route of the app is described here and that the Job schema has exactly the fields
of `schemas.views.job_resource`.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from ingest.context import context_of
from ingest.idempotency import JOB_ID_PATTERN, KEY_HEADER, MAX_KEY_CHARS, REPLAYED_HEADER
from ingest.job_index import CURSOR_PATTERN
from ingest.list_filters import list_filter_parameters
from ingest.openapi_components import (
    RATE_LIMIT_HEADERS,
    RESPONSES,
    SCHEMAS,
    error_responses,
    json_response,
    ref,
)
from ingest.openapi_console import CONSOLE_SCHEMAS, console_paths
from ingest.openapi_jobs import job_request_schema
from ingest.openapi_limits import LIMITS_SCHEMAS, limits_paths
from ingest.openapi_pool import POOL_SCHEMAS, pool_paths
from ingest.openapi_stats import STATS_SCHEMAS, stats_paths
from ingest.openapi_tenants import TENANT_SCHEMAS, tenant_paths
from ingest.openapi_usage import USAGE_SCHEMAS, usage_paths
from ingest.openapi_webhooks import TENANT, WEBHOOK_SCHEMAS, webhook_admin_paths
from ingest.routes import DEFAULT_PAGE, MAX_PAGE
from reelstream.models import BUILTIN_MODELS, ModelRegistry

Json = dict[str, Any]
STRING: Json = {"type": "string"}

JOB_ID: Json = {"name": "job_id", "in": "path", "required": True, "schema": {"type": "string"}}
LOCATION: Json = {"Location": {"description": "the job's URL", "schema": {"type": "string"}}}
REPLAYED: Json = {
    REPLAYED_HEADER: {
        "description": "`true` when an earlier request with this key (or id) created the job: nothing new "
        "was submitted and the body is that job as it is now",
        "schema": {"type": "string", "enum": ["true"]},
    }
}
IDEMPOTENCY_KEY: Json = {
    "name": KEY_HEADER,
    "in": "header",
    "required": False,
    "description": "IETF httpapi idempotency-key draft. Scoped to the caller's tenant and kept "
    "for at least 24 hours: the same key with the same body answers the job the first request created "
    f"(`{REPLAYED_HEADER}: true`, no second job); with another body 422; while the first request is "
    "still being accepted 409 with Retry-After. A 503 is safe to retry with the same key.",
    "schema": {"type": "string", "minLength": 1, "maxLength": MAX_KEY_CHARS, "pattern": "^[!-~]+$"},
}
CHOSEN_JOB_ID: Json = {
    "name": "job_id",
    "in": "path",
    "required": True,
    "schema": {"type": "string", "pattern": f"^{JOB_ID_PATTERN.pattern}$"},
}
PUBLIC: list[Json] = []  # `security: []` — no credentials needed


def _list_operation(models: ModelRegistry) -> Json:
    return {
        "operationId": "listJobs",
        "summary": "The caller's jobs, newest first",
        "description": "Filtered, a page looks at a bounded number of jobs: it may hold fewer than `limit`, "
        "even none, and still have a `next_cursor`; follow it until it is null.",
        "parameters": [
            {
                "name": "limit",
                "in": "query",
                "schema": {
                    "type": "integer",
                    "minimum": 1,
                    "maximum": MAX_PAGE,
                    "default": DEFAULT_PAGE,
                },
            },
            {
                "name": "after",
                "in": "query",
                "description": "the `next_cursor` of the previous page: jobs created before it",
                "schema": {"type": "string", "pattern": f"^{CURSOR_PATTERN.pattern}$"},
            },
            *list_filter_parameters(models.ids),
        ],
        "responses": {
            "200": json_response("A page of jobs.", "JobList"),
            **error_responses("Invalid"),
        },
    }


def _put_operation() -> Json:
    return {
        "operationId": "putJob",
        "summary": "Submit a job under an id the client chose (idempotent)",
        "description": "The first PUT creates the job (201). Repeating it with the same body answers 200 "
        f"with the job as it is now and `{REPLAYED_HEADER}: true`; nothing new is submitted. An id that "
        "exists with another body, was created by POST, belongs to another tenant or was last PUT more than "
        "24 hours ago answers 409 `job-id-unavailable`, which says only that the id is taken.",
        "parameters": [CHOSEN_JOB_ID],
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": ref("JobRequest")}},
        },
        "responses": {
            "201": json_response("Created; parameters resolved.", "Job", {**LOCATION, **RATE_LIMIT_HEADERS}),
            "200": json_response("The job an earlier identical PUT created.", "Job", REPLAYED),
            **error_responses(
                "Malformed", "Conflict", "TooLarge", "Invalid", "TooManyRequests", "Unavailable"
            ),
        },
    }


def _jobs_paths(models: ModelRegistry) -> Json:
    return {
        "/v1/jobs": {
            "post": {
                "operationId": "submitJob",
                "summary": "Submit a text-to-video job",
                "description": "Answers 202 once the job is durably recorded; rendering happens later.",
                "parameters": [IDEMPOTENCY_KEY],
                "requestBody": {
                    "required": True,
                    "content": {"application/json": {"schema": ref("JobRequest")}},
                },
                "responses": {
                    "202": json_response(
                        "Accepted; parameters resolved. RateLimit headers once the tenant's limit "
                        "state is known.",
                        "Job",
                        {**LOCATION, **REPLAYED, **RATE_LIMIT_HEADERS},
                    ),
                    **error_responses(
                        "Malformed", "Conflict", "TooLarge", "Invalid", "TooManyRequests", "Unavailable"
                    ),
                },
            },
            "get": _list_operation(models),
        },
        "/v1/jobs/{job_id}": {
            "get": {
                "operationId": "getJob",
                "summary": "One job",
                "parameters": [JOB_ID],
                "responses": {"200": json_response("The job.", "Job"), **error_responses("NotFound")},
            },
            "put": _put_operation(),
            "delete": {
                "operationId": "deleteJob",
                "summary": "Delete a job and its video",
                "description": "Cancels the job if it is active, deletes its video and poster, removes its "
                "record and announces `job.deleted` (the only webhook the job sends from then on; a render "
                "in progress never leaves a video). Afterwards the job is unknown: a repeat answers 404. "
                "Finished jobs are also deleted by their retention (`expires_at`).",
                "parameters": [JOB_ID],
                "responses": {
                    "204": {"description": "Deleted."},
                    **error_responses("NotFound", "Unavailable"),
                },
            },
        },
    }


def _job_action_paths() -> Json:
    return {
        "/v1/jobs/{job_id}/cancel": {
            "post": {
                "operationId": "cancelJob",
                "summary": "Ask for a job to be canceled",
                "parameters": [JOB_ID],
                "requestBody": {
                    "required": False,
                    "content": {"application/json": {"schema": ref("CancelRequest")}},
                },
                "responses": {
                    "202": json_response("Cancellation requested; the job as it is now.", "Job"),
                    **error_responses("NotFound", "Conflict", "Malformed", "Invalid", "Unavailable"),
                },
            }
        },
        "/v1/jobs/{job_id}/content": {
            "get": {
                "operationId": "getJobContent",
                "summary": "Download the video or its poster",
                "parameters": [
                    JOB_ID,
                    {
                        "name": "variant",
                        "in": "query",
                        "required": False,
                        "schema": {"type": "string", "enum": ["video", "poster"], "default": "video"},
                        "description": "video: the MP4 (H.264, faststart); poster: its first frame as a JPEG",
                    },
                    {
                        "name": "disposition",
                        "in": "query",
                        "required": False,
                        "schema": {"type": "string", "enum": ["inline", "attachment"], "default": "inline"},
                        "description": "attachment: the signed URL answers as a download named "
                        "`<job id>.mp4` (or `.jpg`)",
                    },
                ],
                "responses": {
                    "302": {
                        "description": "Redirect to a short-lived signed URL of the MP4 or the poster.",
                        "headers": {"Location": {"schema": {"type": "string", "format": "uri"}}},
                    },
                    "200": json_response(
                        "With `Accept: application/json`: the signed URL itself (the console's player and "
                        "download link use it; a browser's fetch cannot read a cross-origin redirect).",
                        "ContentUrl",
                    ),
                    **error_responses("NotFound", "Conflict", "Gone", "Invalid", "Unavailable"),
                },
            }
        },
        "/v1/jobs/{job_id}/events": {
            "get": {
                "operationId": "streamJobEvents",
                "summary": "The job's snapshots as server-sent events",
                "description": "`event: status`, `id: <version>`, `data: <Job JSON>`: the current snapshot "
                "(with `retry:`, the reconnection delay), then every newer one; the stream ends after a "
                "terminal state or after the server's maximum stream lifetime (reconnect: the current "
                "snapshot comes first); a job deleted meanwhile ends it at once with `event: job.deleted`. "
                "Comment lines keep it alive. A tenant may hold a bounded number of streams at once.",
                "parameters": [
                    JOB_ID,
                    {
                        "name": "Last-Event-ID",
                        "in": "header",
                        "required": False,
                        "description": "the `id` of the last event a reconnecting client received: the "
                        "stream starts after that version",
                        "schema": {"type": "string"},
                    },
                ],
                "responses": {
                    "200": {
                        "description": "An event stream of Job snapshots (and `job.deleted`, last).",
                        "content": {
                            "text/event-stream": {
                                "schema": {"oneOf": [ref("JobEvent"), ref("JobDeletedEvent")]}
                            }
                        },
                    },
                    **error_responses("NotFound", "TooManyStreams"),
                },
            }
        },
    }


def _service_paths() -> Json:
    health = json_response("Status.", "Health")
    return {
        "/healthz": {
            "get": {
                "operationId": "healthz",
                "summary": "Liveness",
                "security": PUBLIC,
                "responses": {"200": health},
            }
        },
        "/readyz": {
            "get": {
                "operationId": "readyz",
                "summary": "Readiness: producer started and status view caught up",
                "security": PUBLIC,
                "responses": {"200": health, "503": {"$ref": "#/components/responses/Unavailable"}},
            }
        },
        "/openapi.json": {
            "get": {
                "operationId": "openapi",
                "summary": "This document",
                "security": PUBLIC,
                "responses": {
                    "200": {"description": "OpenAPI 3.1", "content": {"application/json": {}}},
                    **error_responses(),
                },
            }
        },
    }


def _admin_paths() -> Json:
    return {
        "/v1/admin/tenants/{tenant}/limits": {
            "put": {
                "operationId": "putTenantLimits",
                "summary": "Set a tenant's limits (the operator; a tenant admin may only lower its own)",
                "description": "Replaces the configured limits of the tenant. Admission applies them from "
                "the next command it reads after the change (normally within a second or two). The "
                "operator's limits become the tenant's ceiling; a tenant admin's above it answer 403.",
                "parameters": [TENANT],
                "requestBody": {
                    "required": True,
                    "content": {"application/json": {"schema": ref("TenantLimitsRequest")}},
                },
                "responses": {
                    "200": json_response("The limits now in force for the tenant.", "TenantLimits"),
                    **error_responses("NotFound", "Malformed", "TooLarge", "Invalid", "Unavailable"),
                },
            }
        },
        **_key_paths(),
        **tenant_paths(),
    }


def _key_paths() -> Json:
    no_store = {"Cache-Control": {"description": "`no-store`", "schema": STRING}}
    return {
        "/v1/admin/keys": {
            "post": {
                "operationId": "createApiKey",
                "summary": "Create an API key (a tenant admin for its tenant, the operator for any)",
                "description": "Mints `rs_live_<id>_<secret>` for a tenant with the given roles and optional "
                "expiry. Only a salted SHA-256 of the secret is stored (compacted topic "
                "`reelstream.auth.keys`); every ingest replica accepts the key once its view has read it.",
                "requestBody": {
                    "required": True,
                    "content": {"application/json": {"schema": ref("ApiKeyRequest")}},
                },
                "responses": {
                    "201": json_response(
                        "The new key, with its secret (shown once).",
                        "ApiKeyCreated",
                        {**no_store, "Location": {"schema": STRING}},
                    ),
                    **error_responses("NotFound", "Malformed", "TooLarge", "Invalid", "Unavailable"),
                },
            },
            "get": {
                "operationId": "listApiKeys",
                "summary": "List API keys' metadata (scope admin); never a secret",
                "parameters": [{"name": "tenant", "in": "query", "required": False, "schema": STRING}],
                "responses": {
                    "200": json_response("Every key (of the tenant), oldest first.", "ApiKeyList", no_store),
                    **error_responses("NotFound", "Unavailable"),
                },
            },
        },
        "/v1/admin/keys/{key_id}": {
            "delete": {
                "operationId": "revokeApiKey",
                "summary": "Revoke an API key (scope admin); idempotent",
                "description": "The key is refused (401) at once by this replica and, within a fetch, by "
                "every other one. A revocation is final.",
                "parameters": [{"name": "key_id", "in": "path", "required": True, "schema": STRING}],
                "responses": {
                    "200": json_response("The key, now revoked.", "ApiKey", no_store),
                    **error_responses("NotFound", "Unavailable"),
                },
            }
        },
    }


@cache
def _document(models: ModelRegistry) -> Json:
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "reelstream",
            "version": "1.0.0",
            "description": "Asynchronous text-to-video: submit a prompt, follow the job, download the MP4.",
        },
        "security": [{"bearer": []}],
        "paths": {
            **_service_paths(),
            **_jobs_paths(models),
            **_job_action_paths(),
            **_admin_paths(),
            **webhook_admin_paths(),
            **usage_paths(),
            **pool_paths(),
            **limits_paths(),
            **stats_paths(),
            **console_paths(PUBLIC),
        },
        "components": {
            "securitySchemes": {
                "bearer": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "an API key (`rs_live_…`, or a configured one), or a JWT from the "
                    "configured OIDC provider (RS256/ES256; tenant and roles from its claims)",
                }
            },
            "schemas": {
                "JobRequest": job_request_schema(models),
                **SCHEMAS,
                **WEBHOOK_SCHEMAS,
                **USAGE_SCHEMAS,
                **POOL_SCHEMAS,
                **STATS_SCHEMAS,
                **LIMITS_SCHEMAS,
                **CONSOLE_SCHEMAS,
                **TENANT_SCHEMAS,
            },
            "responses": RESPONSES,
        },
    }


def openapi_document(models: ModelRegistry = BUILTIN_MODELS) -> Json:
    """The document for an ingest whose pools serve `models` (its JobRequest's model enum and bounds)."""
    return _document(models)


async def openapi_endpoint(request: Request) -> Response:
    pipeline = context_of(request).settings.pipeline
    return JSONResponse(openapi_document(pipeline.models.served(pipeline.pool_models)))
