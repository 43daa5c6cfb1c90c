"""The job routes: submit (POST, or PUT with a chosen id), read, list, cancel, download. Thin: parse,
call the core, answer.

Errors are raised, never rendered here (`ingest.problems` holds the one table). Logs carry job and tenant
ids only: never a prompt, a key, a webhook URL or a presigned URL.
"""

from __future__ import annotations

import logging
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response

from ingest import acceptance, limits
from ingest.auth import principal_of
from ingest.context import IngestContext, context_of
from ingest.errors import (
    ContentExpired,
    JobIdUnavailable,
    JobNotFound,
    JobStateConflict,
    NotReady,
    PayloadTooLarge,
    StorageUnavailable,
    UnsupportedMediaType,
)
from ingest.idempotency import JOB_ID_PATTERN, KEY_HEADER, REPLAYED_HEADER, put_key, validate_key
from ingest.job_index import decode_cursor
from ingest.list_filters import job_filter
from ingest.retention import retained_resource, video_expires_at
from ingest.submission import STRING, check_shape, parse_json_object
from reelstream.object_store import ObjectStoreError
from reelstream.params import FieldError, InvalidRequest, ascii_int, parse_int
from schemas.events import CancelJob, JobState, JobStatus, utc_now
from schemas.topics import COMMANDS

logger = logging.getLogger(__name__)

MAX_BODY_BYTES = 64 * 1024
DEFAULT_PAGE = 20
MAX_PAGE = 100
MAX_REASON_CHARS = 500


async def read_body(request: Request, limit: int = MAX_BODY_BYTES) -> bytes:
    """The request body, refusing (413) anything larger than `limit` before reading it all, and (415) a
    body not declared JSON. An empty body needs no Content-Type (the routes that allow one)."""
    declared = request.headers.get("content-length", "")
    size = ascii_int(declared, 20)  # anything else is no declaration: the stream below is counted
    if size is not None and size > limit:
        raise PayloadTooLarge(f"the body must be at most {limit} bytes")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise PayloadTooLarge(f"the body must be at most {limit} bytes")
    if body and not is_json_media_type(request.headers.get("content-type", "")):
        raise UnsupportedMediaType("the body must be sent as application/json")
    return bytes(body)


def is_json_media_type(content_type: str) -> bool:
    """`application/json` or `application/<anything>+json`, with any parameters (`; charset=utf-8`)."""
    media_type = content_type.split(";", 1)[0].strip().lower()
    return media_type == "application/json" or (
        media_type.startswith("application/") and media_type.endswith("+json")
    )


def owned_job(context: IngestContext, tenant_id: str, job_id: str) -> JobStatus:
    """The caller's job; another tenant's job is reported exactly like an unknown one."""
    status = context.view.get(job_id)
    if status is None or status.tenant_id != tenant_id:
        raise JobNotFound(job_id)
    return status


class JobJSONResponse(JSONResponse):
    """Starlette's JSON response rendered by orjson (a job resource: about a third of json's cost, on every
    submission's 202); what orjson refuses (an int beyond 64 bits) is rendered as before."""

    def render(self, content: Any) -> bytes:
        try:
            return orjson.dumps(content)
        except orjson.JSONEncodeError:
            return super().render(content)


def job_response(
    context: IngestContext, status: JobStatus, status_code: int = 200, headers: dict[str, str] | None = None
) -> Response:
    return JobJSONResponse(resource(context, status), status_code=status_code, headers=headers)


def resource(context: IngestContext, status: JobStatus) -> dict[str, Any]:
    return retained_resource(
        context.view.in_clear(status), context.view.expiries.retention_of(status.tenant_id)
    )


async def submit_job(request: Request) -> Response:
    """POST /v1/jobs; with an `Idempotency-Key`, a repeat answers the job the first request created."""
    context, tenant_id = context_of(request), principal_of(request).tenant_id
    raw_key = request.headers.get(KEY_HEADER)
    body = await read_body(request)
    if raw_key is None:
        limits.enforce(context, tenant_id)
        status = await acceptance.submit(context, tenant_id, body)
        headers = {"Location": f"/v1/jobs/{status.job_id}", **limits.headers(context, tenant_id)}
        return job_response(context, status, 202, headers)
    accepted = await acceptance.accept(context, tenant_id, validate_key(raw_key), body)
    headers = {"Location": f"/v1/jobs/{accepted.status.job_id}"}
    if accepted.replayed:
        headers[REPLAYED_HEADER] = "true"
    else:
        headers.update(limits.headers(context, tenant_id))
    return job_response(context, accepted.status, 202, headers)


async def put_job(request: Request) -> Response:
    """PUT /v1/jobs/{id}: create the job under a client-chosen id; repeating it is harmless."""
    context, tenant_id = context_of(request), principal_of(request).tenant_id
    job_id = request.path_params["job_id"]
    if not JOB_ID_PATTERN.fullmatch(job_id):
        raise InvalidRequest([FieldError("job_id", "must be 8 to 64 characters of A-Z, a-z, 0-9, _ and -")])
    body = await read_body(request)
    now = utc_now()
    existing, record = context.view.get(job_id), context.keys.for_job(job_id, now)
    if (existing is not None and existing.tenant_id != tenant_id) or (
        record is not None and record.tenant_id != tenant_id
    ):
        raise JobIdUnavailable(job_id)
    key = put_key(job_id)
    if existing is not None and context.keys.get(tenant_id, key, now) is None:
        raise JobIdUnavailable(job_id)  # created otherwise (POST) or so long ago that its body is forgotten
    accepted = await acceptance.accept(
        context, tenant_id, key, body, job_id=job_id, mismatch=JobIdUnavailable(job_id)
    )
    if accepted.replayed:
        return job_response(context, accepted.status, 200, {REPLAYED_HEADER: "true"})
    headers = {"Location": f"/v1/jobs/{job_id}", **limits.headers(context, tenant_id)}
    return job_response(context, accepted.status, 201, headers)


async def get_job(request: Request) -> Response:
    context, tenant_id = context_of(request), principal_of(request).tenant_id
    return job_response(context, owned_job(context, tenant_id, request.path_params["job_id"]))


async def delete_job(request: Request) -> Response:
    """DELETE /v1/jobs/{id}: cancel it if active, delete its video and poster, tombstone its record and
    announce `job.deleted` (ingest.deletion). 204; afterwards the job is unknown, so a repeat answers 404."""
    context, tenant_id = context_of(request), principal_of(request).tenant_id
    job_id = request.path_params["job_id"]
    status = owned_job(context, tenant_id, job_id)
    if context.deleter is None:
        raise NotReady("job deletion is not available")
    try:
        await context.deleter.delete(status, "client")
    except ObjectStoreError as exc:  # the record stays; a retry of the DELETE finishes the deletion
        raise StorageUnavailable(exc.message) from exc
    return Response(status_code=204)


CONTENT_VARIANTS = ("video", "poster")
DISPOSITIONS = ("inline", "attachment")


def page_limit(raw: str | None) -> int:
    return parse_int("limit", raw, 1, MAX_PAGE, default=DEFAULT_PAGE)


async def list_jobs(request: Request) -> Response:
    context, tenant_id = context_of(request), principal_of(request).tenant_id
    limit = page_limit(request.query_params.get("limit"))
    after = request.query_params.get("after")
    pipeline = context.settings.pipeline
    where = job_filter(request.query_params, pipeline.models.served(pipeline.pool_models).ids)
    jobs, cursor = context.view.page(
        tenant_id, limit, decode_cursor(after) if after is not None else None, where
    )
    body: dict[str, Any] = {
        "object": "list",
        "data": [resource(context, j) for j in jobs],
        "next_cursor": cursor,
    }
    return JobJSONResponse(body)


async def cancel_reason(request: Request) -> str | None:
    """An optional body {"reason": "..."}; an empty body is fine."""
    body = await read_body(request)
    if not body.strip():
        return None
    data = parse_json_object(body)
    check_shape(data, {"reason": STRING})
    reason = data.get("reason")
    if reason is not None and len(reason) > MAX_REASON_CHARS:
        raise InvalidRequest([FieldError("reason", f"must be at most {MAX_REASON_CHARS} characters")])
    return reason


async def cancel_job(request: Request) -> Response:
    context, tenant_id = context_of(request), principal_of(request).tenant_id
    job_id = request.path_params["job_id"]
    status = owned_job(context, tenant_id, job_id)
    reason = await cancel_reason(request)
    if status.state.terminal:
        raise JobStateConflict(f"job {job_id} is already {status.state.value}")
    await context.publisher.publish(COMMANDS, tenant_id, CancelJob(job_id, tenant_id, reason))
    logger.info(
        "cancel of job %s requested by tenant %s",
        job_id,
        tenant_id,
        extra={"job_id": job_id, "tenant_id": tenant_id},
    )
    return job_response(context, context.view.get(job_id) or status, 202)


async def job_content(request: Request) -> Response:
    context, tenant_id = context_of(request), principal_of(request).tenant_id
    job_id = request.path_params["job_id"]
    status = owned_job(context, tenant_id, job_id)
    variant = request.query_params.get("variant", "video")
    if variant not in CONTENT_VARIANTS:
        raise InvalidRequest([FieldError("variant", f"must be one of {', '.join(CONTENT_VARIANTS)}")])
    attachment = download_name(request, job_id, variant)
    if status.state is not JobState.SUCCEEDED or status.artifact is None:
        raise JobStateConflict(f"job {job_id} is {status.state.value}; its video exists once it succeeded")
    expiry = video_expires_at(status, context.view.expiries.retention_of(status.tenant_id))
    if expiry is not None and expiry <= context.clock():
        raise ContentExpired(f"the video of job {job_id} was deleted by its retention")
    key = status.artifact.key if variant == "video" else status.artifact.poster_key
    if key is None:
        raise JobStateConflict(f"job {job_id} has no {variant}")
    url = await context.presigner.url_for(key, attachment)
    logger.info(
        "signed download of job %s for tenant %s",
        job_id,
        tenant_id,
        extra={"job_id": job_id, "tenant_id": tenant_id},
    )
    headers = {"Cache-Control": "no-store"}
    if wants_json(request):  # a browser app: a fetch cannot read a cross-origin redirect's Location
        body = {"object": "content_url", "url": url, "expires_in": context.presigner.ttl_seconds}
        return JSONResponse(body, headers=headers)
    return RedirectResponse(url, status_code=302, headers=headers)


def download_name(request: Request, job_id: str, variant: str) -> str | None:
    """`disposition=attachment`: the signed URL downloads as `<job id>.mp4` (or `.jpg`) instead of playing."""
    disposition = request.query_params.get("disposition", "inline")
    if disposition not in DISPOSITIONS:
        raise InvalidRequest([FieldError("disposition", f"must be one of {', '.join(DISPOSITIONS)}")])
    if disposition == "inline":
        return None
    return f"{job_id}.{'mp4' if variant == 'video' else 'jpg'}"


def wants_json(request: Request) -> bool:
    """`Accept: application/json` (and not a wildcard alone) asks for the signed URL as JSON."""
    return "application/json" in request.headers.get("accept", "")
