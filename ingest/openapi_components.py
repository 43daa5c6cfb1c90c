"""The components of the OpenAPI document (schemas and shared responses), from the constants the code uses.
The job request's schema depends on the models served: ingest.openapi_jobs."""

from __future__ import annotations

from typing import Any

from ingest.admin import MAX_COUNT
from ingest.problems import PROBLEM_JSON
from ingest.routes import MAX_REASON_CHARS
from reelstream.config.formats import MAX_GANG
from schemas.events import JobState, RenderStage

Json = dict[str, Any]


def ref(name: str) -> Json:
    return {"$ref": f"#/components/schemas/{name}"}


def _nullable(schema: Json) -> Json:
    return {"oneOf": [schema, {"type": "null"}]}


def _problem(description: str, schema: Json | None = None) -> Json:
    return {"description": description, "content": {PROBLEM_JSON: {"schema": schema or ref("Problem")}}}


def json_response(description: str, schema: str, headers: Json | None = None) -> Json:
    response: Json = {"description": description, "content": {"application/json": {"schema": ref(schema)}}}
    if headers:
        response["headers"] = headers
    return response


RATE_LIMIT_HEADERS: Json = {
    "RateLimit-Policy": {
        "description": 'IETF RateLimit header fields draft: `"burst";q=<bucket size>;w=<seconds to refill '
        'it>, "queued";q=<cap on unfinished jobs>`',
        "schema": {"type": "string"},
    },
    "RateLimit": {
        "description": '`"burst";r=<submissions left>;t=<seconds until the bucket is full>, '
        '"queued";r=<queue places left>` (the tenant\'s state as admission last published it)',
        "schema": {"type": "string"},
    },
}

RESPONSES: Json = {
    "Malformed": _problem("The body is not JSON, or a header is malformed (`errors` names it)."),
    "Unauthorized": {
        **_problem(
            "No bearer token; an unknown, expired or revoked API key; or a JWT that is expired, not yet "
            "valid, for another audience or issuer, signed by an unknown key or with an algorithm not "
            "allowed, or without the tenant claim (`detail` says which)."
        ),
        "headers": {"WWW-Authenticate": {"schema": {"type": "string"}}},
    },
    "NotFound": _problem(
        "No such job for this caller (another tenant's job reads as unknown), or no such API key."
    ),
    "Conflict": {
        **_problem(
            "The job's state does not allow this operation; a request with the same Idempotency-Key is "
            "still being accepted (retry after Retry-After); or a PUT's job id is taken."
        ),
        "headers": {"Retry-After": {"schema": {"type": "integer"}}},
    },
    "Gone": _problem("The job's video and poster were deleted by its retention (see `content_expires_at`)."),
    "TooLarge": _problem("The body is too large."),
    "UnsupportedMediaType": _problem(
        "The body is not declared `application/json` (or another `+json` type)."
    ),
    "RequestTimeout": _problem("The body did not arrive within the server's body-read timeout."),
    "TooManyStreams": {
        **_problem("The tenant holds as many event streams on this server as it may; close one."),
        "headers": {"Retry-After": {"schema": {"type": "integer", "minimum": 1}}},
    },
    "Invalid": _problem(
        "Invalid fields (`errors` names each of them); a job whose fields are each valid but together ask "
        "for more work than its model or the pool allows (type `.../workload-too-large`: prompt workload "
        "exceeds resource allocation thresholds; `limit` names the limit, see each model's `max_work_units` "
        "and the pool's largest slot); or an Idempotency-Key reused with another body (type "
        "`.../idempotency-key-reused`, no `errors`).",
        {"anyOf": [ref("WorkloadProblem"), ref("ValidationProblem"), ref("Problem")]},
    ),
    "Unavailable": {
        **_problem("A dependency did not answer in time; retry after the given delay."),
        "headers": {"Retry-After": {"schema": {"type": "integer"}}},
    },
    "Forbidden": _problem(
        "The caller's roles do not grant the scope this route needs (type `.../forbidden`), or the caller's "
        "tenant is suspended by the platform operator (type `.../tenant-suspended`)."
    ),
    "TooManyRequests": {
        **_problem(
            "The tenant is clearly over its submission rate or queue cap (type `.../rate-limited`). "
            "Admission stays the authority: a submission that passes may still be rejected `rate_limited`."
        ),
        "headers": {
            "Retry-After": {
                "description": "seconds; the wait plus jitter, so throttled clients do not return together",
                "schema": {"type": "integer", "minimum": 1},
            },
            **RATE_LIMIT_HEADERS,
        },
    },
}


def error_responses(*names: str) -> Json:
    """The error responses of an operation: 401 and 403 always; with "Malformed" (it reads a body), also
    413, 415 and 408."""
    if "Malformed" in names:
        names = (*names, "TooLarge", "UnsupportedMediaType", "RequestTimeout")
    codes = {
        "Malformed": "400",
        "Unauthorized": "401",
        "Forbidden": "403",
        "NotFound": "404",
        "Conflict": "409",
        "Gone": "410",
        "TooLarge": "413",
        "UnsupportedMediaType": "415",
        "RequestTimeout": "408",
        "TooManyStreams": "429",
        "Invalid": "422",
        "TooManyRequests": "429",
        "Unavailable": "503",
    }
    return {codes[n]: {"$ref": f"#/components/responses/{n}"} for n in ("Unauthorized", "Forbidden", *names)}


INTEGER: Json = {"type": "integer"}
WORKLOAD_PROBLEM: Json = {
    "allOf": [
        ref("ValidationProblem"),
        {
            "type": "object",
            "description": "A job over a work limit: `requested` > `maximum` of `limit` (max_work_units: the "
            "model's, num_frames × width × height × num_inference_steps, ×2 with guidance; "
            "pool_max_work_units: the pool's largest slot, num_frames × width × height).",
            "required": ["limit", "maximum", "requested"],
            "properties": {
                "limit": {"enum": ["max_work_units", "pool_max_work_units"]},
                "maximum": {"type": "integer", "minimum": 1},
                "requested": {"type": "integer", "minimum": 1},
            },
        },
    ]
}
NUMBER: Json = {"type": "number"}
STRING: Json = {"type": "string"}
STAMP: Json = {"type": "string", "format": "date-time"}

# A free-text field the server refuses with a NUL character (422 naming it): the part of that rule a JSON
# Schema can state (an unpaired surrogate, refused too, it cannot).
NO_NUL = "^[^\\u0000]*$"

CANCEL_REQUEST: Json = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "reason": {
            "type": "string",
            "maxLength": MAX_REASON_CHARS,
            "pattern": NO_NUL,
            "description": "why (kept with the job); no NUL character",
        }
    },
}

PARAMETERS: Json = {
    "type": "object",
    "description": "Every render parameter, resolved (defaults filled in, seed drawn).",
    "required": ["model", "width", "height", "num_frames", "fps", "num_inference_steps"],
    "properties": {
        "model": STRING,
        "width": INTEGER,
        "height": INTEGER,
        "num_frames": INTEGER,
        "fps": INTEGER,
        "num_inference_steps": INTEGER,
        "guidance_scale": NUMBER,
        "seed": INTEGER,
        "quality": {"type": "string", "description": "`standard` or one of the model's presets (`preview`)"},
        "tier": {
            "type": "string",
            "description": "`full`, or `fast` (First-Block Cache) where the model has it",
        },
    },
}

ARTIFACT: Json = {
    "type": "object",
    "properties": {
        "key": STRING,
        "sha256": STRING,
        "bytes": INTEGER,
        "content_type": STRING,
        "duration_seconds": NUMBER,
        "frames": INTEGER,
        "width": INTEGER,
        "height": INTEGER,
        "fps": NUMBER,
        "poster_key": _nullable(STRING),
        "renderer": STRING,
        "render_settings": {
            "type": "object",
            "additionalProperties": STRING,
            "description": "the levers of this render: attention kernel, VAE tiling, compile, ...",
        },
    },
}

JOB_ERROR: Json = {
    "type": "object",
    "properties": {"code": STRING, "message": STRING, "retriable": {"type": "boolean"}},
}

JOB: Json = {
    "type": "object",
    "required": ["id", "object", "status", "prompt", "created_at", "updated_at", "version"],
    "properties": {
        "id": STRING,
        "object": {"const": "job"},
        "status": {"type": "string", "enum": [s.value for s in JobState]},
        "stage": _nullable({"type": "string", "enum": [s.value for s in RenderStage]}),
        "prompt": STRING,
        "negative_prompt": _nullable(STRING),
        "parameters": _nullable(ref("Parameters")),
        "metadata": {"type": "object", "additionalProperties": STRING},
        "has_webhook": {"type": "boolean"},
        "created_at": STAMP,
        "updated_at": STAMP,
        "timestamps": {"type": "object", "additionalProperties": STAMP},
        "progress": {"type": "number", "minimum": 0, "maximum": 1},
        "queue_position": _nullable(INTEGER),
        "eta_seconds": _nullable(NUMBER),
        "attempt": INTEGER,
        "artifact": _nullable(ref("Artifact")),
        "error": _nullable(ref("JobError")),
        "version": {"type": "integer", "description": "grows with every snapshot of the job"},
        "priority": {"type": "string", "enum": ["high", "normal", "low"]},
        "deadline": _nullable(STAMP),
        "reason": {
            "oneOf": [{"type": "string", "enum": ["throttled"]}, {"type": "null"}],
            "description": "why a queued job waits: `throttled` while its tenant runs as many jobs as its "
            "concurrency cap allows",
        },
        "predicted_long": {
            "type": "boolean",
            "description": "the long-job estimator's verdict at admission: is this potentially a long task "
            "(a render over REELSTREAM_LONG_JOB_SECONDS)?",
        },
        "long_probability": _nullable({"type": "number", "minimum": 0, "maximum": 1}),
        "expires_at": {
            **_nullable(STAMP),
            "description": "when the finished job, its events and its video are deleted "
            "(REELSTREAM_JOB_RETENTION_SECONDS after it finished); null while it is active",
        },
        "content_expires_at": {
            **_nullable(STAMP),
            "description": "when a succeeded job's video and poster are deleted "
            "(REELSTREAM_VIDEO_RETENTION_SECONDS after it finished; its content then answers 410)",
        },
    },
}

JOB_LIST: Json = {
    "type": "object",
    "required": ["data", "next_cursor"],
    "properties": {
        "object": {"const": "list"},
        "data": {"type": "array", "items": ref("Job")},
        "next_cursor": _nullable(STRING),
    },
}

HEALTH: Json = {"type": "object", "properties": {"status": STRING}}

PROBLEM: Json = {
    "type": "object",
    "description": "RFC 9457 problem details",
    "required": ["type", "title", "status"],
    "properties": {
        "type": {"type": "string", "format": "uri"},
        "title": STRING,
        "status": INTEGER,
        "detail": STRING,
        "instance": STRING,
    },
}

VALIDATION_PROBLEM: Json = {
    "allOf": [
        ref("Problem"),
        {
            "type": "object",
            "required": ["errors"],
            "properties": {
                "errors": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "required": ["field", "message"],
                        "properties": {"field": STRING, "message": STRING},
                    },
                }
            },
        },
    ]
}

TENANT_LIMITS_REQUEST: Json = {
    "type": "object",
    "additionalProperties": False,
    "required": ["rate", "burst"],
    "properties": {
        "rate": {"type": "number", "exclusiveMinimum": 0, "description": "submissions a second"},
        "burst": {"type": "number", "minimum": 1, "description": "submissions at once"},
        "queued": {
            "type": "integer",
            "minimum": 1,
            "maximum": MAX_COUNT,
            "description": "jobs admitted and not finished",
        },
        "running": {
            "type": "integer",
            "minimum": 1,
            "maximum": MAX_COUNT,
            "description": "jobs rendering at once; absent: no cap",
        },
        "gang": {
            "type": "integer",
            "enum": [1 << n for n in range(MAX_GANG.bit_length())],
            "description": "low latency: slots one job may render on at once (a power of two, capped by the "
            "pool's REELSTREAM_GANG_MAX_SLOTS); absent: a gang only from spare idle slots",
        },
    },
}
TENANT_LIMITS: Json = {
    "type": "object",
    "required": ["object", "tenant", "rate", "burst", "queued", "running", "gang", "updated_at"],
    "properties": {
        "object": {"const": "tenant_limits"},
        "tenant": STRING,
        "rate": NUMBER,
        "burst": NUMBER,
        "queued": INTEGER,
        "running": _nullable(INTEGER),
        "gang": _nullable(INTEGER),
        "updated_at": STAMP,
    },
}

ROLE: Json = {"type": "string", "enum": ["submitter", "viewer", "admin", "operator"]}
API_KEY_REQUEST: Json = {
    "type": "object",
    "additionalProperties": False,
    "required": ["tenant"],
    "properties": {
        "tenant": {"type": "string", "pattern": "^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$"},
        "roles": {"type": "array", "items": ROLE, "minItems": 1, "description": "absent: [submitter]"},
        "expires_at": {
            **STAMP,
            "description": "absent: the key does not expire; an instant already past makes an expired key",
        },
        "name": {"type": "string", "maxLength": 100, "description": "a label for people"},
    },
}
API_KEY: Json = {
    "type": "object",
    "description": "A key's metadata; never its secret, never its hash.",
    "required": ["object", "id", "prefix", "tenant", "roles", "status", "created_at"],
    "properties": {
        "object": {"const": "api_key"},
        "id": {"type": "string", "pattern": "^[0-9a-f]{16}$"},
        "prefix": {"type": "string", "description": "`rs_live_<id>`: how the key begins"},
        "tenant": STRING,
        "roles": {"type": "array", "items": ROLE},
        "name": _nullable(STRING),
        "status": {"type": "string", "enum": ["active", "expired", "revoked"]},
        "created_at": STAMP,
        "expires_at": _nullable(STAMP),
        "revoked_at": _nullable(STAMP),
        "last_used_at": {
            **_nullable(STAMP),
            "description": "when the answering ingest replica last accepted the key, to the minute (kept in "
            "its memory; null: not since it started)",
        },
    },
}
API_KEY_CREATED: Json = {
    "allOf": [
        ref("ApiKey"),
        {
            "type": "object",
            "required": ["key"],
            "properties": {
                "key": {
                    "type": "string",
                    "pattern": "^rs_live_[0-9a-f]{16}_[A-Za-z0-9_-]{43}$",
                    "description": "The key itself, shown this once: only a salted hash is stored.",
                }
            },
        },
    ]
}
API_KEY_LIST: Json = {
    "type": "object",
    "required": ["object", "data"],
    "properties": {"object": {"const": "list"}, "data": {"type": "array", "items": ref("ApiKey")}},
}

CONTENT_URL: Json = {
    "type": "object",
    "required": ["object", "url", "expires_in"],
    "properties": {
        "object": {"const": "content_url"},
        "url": {"type": "string", "format": "uri", "description": "a signed GET URL of the object store"},
        "expires_in": {"type": "integer", "description": "seconds the URL stays valid"},
    },
}

JOB_EVENT: Json = {
    "type": "object",
    "description": "One server-sent event of a job's stream (comment lines, the heartbeats, are not events). "
    "The first carries `retry`: the reconnection delay in milliseconds.",
    "required": ["event", "id", "data"],
    "additionalProperties": False,
    "properties": {
        "event": {"const": "status"},
        "id": {"type": "string", "pattern": "^[0-9]+$", "description": "the snapshot's version"},
        "retry": {"type": "integer", "minimum": 0},
        "data": {
            "type": "string",
            "contentMediaType": "application/json",
            "contentSchema": ref("Job"),
            "description": "the Job, as JSON",
        },
    },
}

JOB_DELETED_EVENT: Json = {
    "type": "object",
    "description": "The last event of a stream whose job was deleted while it was open (by any replica, "
    "the API or the retention sweep); the stream ends after it and the job then reads 404.",
    "required": ["event", "data"],
    "additionalProperties": False,
    "properties": {
        "event": {"const": "job.deleted"},
        "data": {
            "type": "string",
            "contentMediaType": "application/json",
            "contentSchema": {
                "type": "object",
                "required": ["id", "object", "deleted"],
                "properties": {
                    "id": {"type": "string"},
                    "object": {"const": "job"},
                    "deleted": {"const": True},
                },
            },
            "description": '`{"id": <job id>, "object": "job", "deleted": true}`',
        },
    },
}

SCHEMAS: Json = {
    "CancelRequest": CANCEL_REQUEST,
    "JobEvent": JOB_EVENT,
    "JobDeletedEvent": JOB_DELETED_EVENT,
    "Parameters": PARAMETERS,
    "Artifact": ARTIFACT,
    "JobError": JOB_ERROR,
    "Job": JOB,
    "JobList": JOB_LIST,
    "Health": HEALTH,
    "ContentUrl": CONTENT_URL,
    "Problem": PROBLEM,
    "ValidationProblem": VALIDATION_PROBLEM,
    "WorkloadProblem": WORKLOAD_PROBLEM,
    "TenantLimitsRequest": TENANT_LIMITS_REQUEST,
    "TenantLimits": TENANT_LIMITS,
    "ApiKeyRequest": API_KEY_REQUEST,
    "ApiKey": API_KEY,
    "ApiKeyCreated": API_KEY_CREATED,
    "ApiKeyList": API_KEY_LIST,
}
