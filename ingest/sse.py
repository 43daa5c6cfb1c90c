"""`GET /v1/jobs/{id}/events`: a job's snapshots as server-sent events.

First the current snapshot, then each newer one as it reaches the status view (`event: status`,
`id: <version>`, `data: <job JSON>`); the stream ends after a terminal state. A client reconnecting
with `Last-Event-ID: <version>` gets only newer snapshots. A comment line keeps idle
connections (and the proxies between) alive. Waiting is on the view's subscription, never on a timer loop.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator

from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from ingest.auth import principal_of
from ingest.context import context_of
from ingest.routes import owned_job
from ingest.status_view import StatusView
from schemas.events import JobStatus
from schemas.views import job_resource

logger = logging.getLogger(__name__)

KEEPALIVE = ": keep-alive\n\n"
SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}


def format_event(status: JobStatus) -> str:
    data = json.dumps(job_resource(status), separators=(",", ":"))
    return f"event: status\nid: {status.version}\ndata: {data}\n\n"


def last_event_id(request: Request) -> int | None:
    """The version a reconnecting client saw last (`Last-Event-ID`); anything else counts as none."""
    value = request.headers.get("last-event-id", "")
    return int(value) if value.isdigit() else None


async def job_event_stream(
    view: StatusView, job_id: str, keepalive_seconds: float, seen_version: int | None = None
) -> AsyncIterator[str]:
    with view.subscribe(job_id) as updates:
        last = view.snapshot(job_id)
        if last is None:
            return
        if seen_version is None or last.status.version > seen_version:  # a resume skips what it saw
            yield format_event(last.status)
        while not last.status.state.terminal:
            try:
                async with asyncio.timeout(keepalive_seconds):
                    snapshot = await updates.get()
            except TimeoutError:
                yield KEEPALIVE
                continue
            if snapshot.rank > last.rank:  # the subscription may repeat what was read as current
                last = snapshot
                yield format_event(snapshot.status)
    logger.info("event stream of job %s ended", job_id, extra={"job_id": job_id})


def events_route(keepalive_seconds: float) -> Route:
    async def job_events(request: Request) -> Response:
        context, tenant_id = context_of(request), principal_of(request).tenant_id
        job_id = request.path_params["job_id"]
        owned_job(context, tenant_id, job_id)  # 404 before the stream starts
        stream = job_event_stream(context.view, job_id, keepalive_seconds, last_event_id(request))
        return StreamingResponse(stream, media_type="text/event-stream", headers=SSE_HEADERS)

    return Route("/v1/jobs/{job_id}/events", job_events, methods=["GET"], name="job_events")
