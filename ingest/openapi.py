"""The OpenAPI 3.1 document of the ingest API, written by hand; `GET /openapi.json` serves it.

Tests check that every route of the app is described here and that the Job schema has exactly the fields
of `schemas.views.job_resource`.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from ingest.openapi_components import RESPONSES, SCHEMAS, error_responses, json_response, ref
from ingest.routes import DEFAULT_PAGE, MAX_PAGE

Json = dict[str, Any]

JOB_ID: Json = {"name": "job_id", "in": "path", "required": True, "schema": {"type": "string"}}
LOCATION: Json = {"Location": {"description": "the job's URL", "schema": {"type": "string"}}}
PUBLIC: list[Json] = []  # `security: []` — no credentials needed


def _list_operation() -> Json:
    return {
        "operationId": "listJobs",
        "summary": "The caller's jobs, newest first",
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
                "description": "the `next_cursor` of the previous page",
                "schema": {"type": "string"},
            },
        ],
        "responses": {
            "200": json_response("A page of jobs.", "JobList"),
            **error_responses("Invalid"),
        },
    }


def _jobs_paths() -> Json:
    return {
        "/v1/jobs": {
            "post": {
                "operationId": "submitJob",
                "summary": "Submit a text-to-video job",
                "description": "Answers 202 once the job is durably recorded; rendering happens later.",
                "requestBody": {
                    "required": True,
                    "content": {"application/json": {"schema": ref("JobRequest")}},
                },
                "responses": {
                    "202": json_response("Accepted; parameters resolved.", "Job", LOCATION),
                    **error_responses("Malformed", "TooLarge", "Invalid", "Unavailable"),
                },
            },
            "get": _list_operation(),
        },
        "/v1/jobs/{job_id}": {
            "get": {
                "operationId": "getJob",
                "summary": "One job",
                "parameters": [JOB_ID],
                "responses": {"200": json_response("The job.", "Job"), **error_responses("NotFound")},
            }
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
                "summary": "Download the video",
                "parameters": [JOB_ID],
                "responses": {
                    "302": {
                        "description": "Redirect to a short-lived signed URL of the MP4.",
                        "headers": {"Location": {"schema": {"type": "string", "format": "uri"}}},
                    },
                    **error_responses("NotFound", "Conflict", "Unavailable"),
                },
            }
        },
        "/v1/jobs/{job_id}/events": {
            "get": {
                "operationId": "streamJobEvents",
                "summary": "The job's snapshots as server-sent events",
                "description": "`event: status`, `id: <version>`, `data: <Job JSON>`: the current snapshot, "
                "then every newer one; the stream ends after a terminal state. Comment lines keep it alive.",
                "parameters": [JOB_ID],
                "responses": {
                    "200": {
                        "description": "An event stream of Job snapshots.",
                        "content": {"text/event-stream": {"schema": {"type": "string"}}},
                    },
                    **error_responses("NotFound"),
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
                "responses": {
                    "200": {"description": "OpenAPI 3.1", "content": {"application/json": {}}},
                    **error_responses(),
                },
            }
        },
    }


@cache
def _document() -> Json:
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "reelstream",
            "version": "1.0.0",
            "description": "Asynchronous text-to-video: submit a prompt, follow the job, download the MP4.",
        },
        "security": [{"bearer": []}],
        "paths": {**_service_paths(), **_jobs_paths(), **_job_action_paths()},
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer", "description": "an API key"}},
            "schemas": SCHEMAS,
            "responses": RESPONSES,
        },
    }


def openapi_document() -> Json:
    return _document()


async def openapi_endpoint(request: Request) -> Response:
    return JSONResponse(openapi_document())
