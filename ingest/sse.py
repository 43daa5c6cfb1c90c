"""`GET /v1/jobs/{id}/events`: a job's snapshots as server-sent events.

First a `retry:` field (the reconnection delay), then the current snapshot, then each newer one as it reaches
the status view (`event: status`, `id: <version>`, `data: <job JSON>`); the stream ends after a terminal
state; at once when the job is deleted, with a last `event: job.deleted` (`data: {"id", "object",
"deleted": true}`), whichever replica deleted it (its tombstone reaches every view); or once it has been
open `max_stream_seconds` (the client reconnects after the announced delay and gets the current snapshot
first). A client reconnecting with `Last-Event-ID: <version>` gets only newer
snapshots. A comment line keeps idle connections (and the proxies between) alive. Waiting is on the view's
subscription, never on a timer loop. One tenant holds at most `max_streams_per_tenant` streams on a process;
one more is a 429.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections import Counter
from collections.abc import AsyncIterator, Callable

from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from ingest.auth import principal_of
from ingest.context import context_of
from ingest.errors import RateLimited
from ingest.retention import Retention, retained_resource
from ingest.routes import owned_job
from ingest.status_view import StatusView
from reelstream.http_settings import EventStreamSettings
from reelstream.params import ascii_int
from schemas.events import JobStatus
from schemas.views import job_resource

logger = logging.getLogger(__name__)

KEEPALIVE = ": keep-alive\n\n"
DELETED_EVENT = "job.deleted"
SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}


def format_event(status: JobStatus, retention: Retention | None = None) -> str:
    resource = job_resource(status) if retention is None else retained_resource(status, retention)
    data = json.dumps(resource, separators=(",", ":"))
    return f"event: status\nid: {status.version}\ndata: {data}\n\n"


def deleted_event(job_id: str) -> str:
    """The last event of a stream whose job was deleted while it was open (no `id`: nothing follows it)."""
    data = json.dumps({"id": job_id, "object": "job", "deleted": True}, separators=(",", ":"))
    return f"event: {DELETED_EVENT}\ndata: {data}\n\n"


def shown(view: StatusView, status: JobStatus) -> str:
    """A snapshot's event as the API shows the job: in clear, with its tenant's expiry times."""
    return format_event(view.in_clear(status), view.expiries.retention_of(status.tenant_id))


def last_event_id(request: Request) -> int | None:
    """The version a reconnecting client saw last (`Last-Event-ID`); anything else counts as none."""
    value = request.headers.get("last-event-id", "")
    return ascii_int(value, 19)  # a version is an Avro long


async def job_event_stream(
    view: StatusView, job_id: str, sse: EventStreamSettings, seen_version: int | None = None
) -> AsyncIterator[str]:
    loop = asyncio.get_running_loop()
    ends_at = loop.time() + sse.max_stream_seconds
    with view.subscribe(job_id) as updates:
        last = view.snapshot(job_id)
        if last is None:
            return
        if seen_version is None or last.status.version > seen_version:  # a resume skips what it saw
            yield f"retry: {sse.retry_ms}\n" + shown(view, last.status)  # one event block
        else:
            yield f"retry: {sse.retry_ms}\n\n"
        while not last.status.state.terminal:
            left = ends_at - loop.time()
            if left <= 0:
                break  # the client reconnects after `retry` and reads the current snapshot first
            try:
                async with asyncio.timeout(min(sse.heartbeat_seconds, left)):
                    snapshot = await updates.get()
            except TimeoutError:
                yield KEEPALIVE
                continue
            if snapshot is None:  # deleted (its tombstone, or a deletion on this replica): nothing follows
                yield deleted_event(job_id)
                break
            if snapshot.rank > last.rank:  # the subscription may repeat what was read as current
                last = snapshot
                yield shown(view, snapshot.status)
    logger.info("event stream of job %s ended", job_id, extra={"job_id": job_id})


class CountedStream(StreamingResponse):
    """A streaming response that calls `release` once it is over, however it ends."""

    def __init__(self, content: AsyncIterator[str], release: Callable[[], None]) -> None:
        super().__init__(content, media_type="text/event-stream", headers=SSE_HEADERS)
        self._release = release

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            self._release()


def events_route(sse: EventStreamSettings) -> Route:
    open_streams: Counter[str] = Counter()  # per tenant, on this process

    async def job_events(request: Request) -> Response:
        context, tenant_id = context_of(request), principal_of(request).tenant_id
        job_id = request.path_params["job_id"]
        owned_job(context, tenant_id, job_id)  # 404 before the stream starts
        if open_streams[tenant_id] >= sse.max_streams_per_tenant:
            retry_after = str(max(1, sse.retry_ms // 1000))
            message = f"at most {sse.max_streams_per_tenant} event streams at once; close one"
            raise RateLimited(message, headers={"Retry-After": retry_after})
        open_streams[tenant_id] += 1

        def release() -> None:
            open_streams[tenant_id] -= 1
            if open_streams[tenant_id] <= 0:
                del open_streams[tenant_id]

        return CountedStream(job_event_stream(context.view, job_id, sse, last_event_id(request)), release)

    return Route("/v1/jobs/{job_id}/events", job_events, methods=["GET"], name="job_events")
