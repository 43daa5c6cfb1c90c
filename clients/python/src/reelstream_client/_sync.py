"""`Client`: the API, synchronously. `AsyncClient` (`_async.py`) has the same methods, awaited."""

from __future__ import annotations

import datetime as dt
import os
import random
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import IO, Any, TypeVar

import httpx
import stamina
from httpx_sse import connect_sse

from reelstream_client import _calls, errors
from reelstream_client._calls import JobFilters
from reelstream_client._core import (
    DEFAULT_TIMEOUT,
    Call,
    Resumable,
    RetryPolicy,
    StreamUnsupported,
    WaitTimeout,
    checked,
    converted,
    default_headers,
    reconnect_delay,
    redirect_target,
    sse_job,
    stream_ended_by_deletion,
    stream_failed,
    stream_timeout,
    submit_call,
)
from reelstream_client._portal import WebhookPortal
from reelstream_client.models import (
    ApiKey,
    ApiKeyCreated,
    ApiKeyRotated,
    Job,
    JobList,
    Limits,
    PoolState,
    RenderLoad,
    Tenant,
    TenantLimits,
    TenantUsageTotals,
    Usage,
    UsageGroup,
    WebhookEndpoint,
    WebhookEndpointEnabled,
    WebhookPing,
    WebhookSecret,
    from_json,
)

T = TypeVar("T")
Keys = list[ApiKey]
Endpoints = list[WebhookEndpoint]
Secrets = list[WebhookSecret]
Tenants = list[Tenant]
Progress = Callable[[int, int | None], None]
CHUNK = 64 * 1024


class Client(WebhookPortal):
    """The reelstream API. Every call has a timeout; idempotent calls are retried (`RetryPolicy`).

    Constructing one does no I/O; use it as a context manager (or call `close`)."""

    def __init__(
        self,
        base_url: str,
        api_key: str,
        *,
        timeout: float = DEFAULT_TIMEOUT,
        retry: RetryPolicy | None = None,
        poll_interval: float = 1.0,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._timeout = timeout
        self._retry = retry or RetryPolicy()
        self._poll_interval = poll_interval
        self._http = httpx.Client(base_url=self.base_url, timeout=timeout, headers=default_headers(api_key))
        self._plain = httpx.Client(timeout=timeout)  # the signed download URLs: never the API key

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **options: Any) -> Client:
        """REELSTREAM_API_URL (default http://127.0.0.1:8000) and REELSTREAM_API_KEY."""
        env = os.environ if env is None else env
        if not env.get("REELSTREAM_API_KEY"):
            raise errors.ReelstreamError("set REELSTREAM_API_KEY")
        return cls(
            env.get("REELSTREAM_API_URL", "http://127.0.0.1:8000"), env["REELSTREAM_API_KEY"], **options
        )

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()
        self._plain.close()

    # -- the machinery ---------------------------------------------------------------------------------

    def _retrying(self, attempt_once: Callable[[], T], idempotent: bool) -> T:
        if not idempotent:
            return attempt_once()
        for attempt in stamina.retry_context(**self._retry.stamina_args()):
            with attempt:
                return attempt_once()
        raise AssertionError("unreachable: stamina raises when the attempts run out")

    def _response(self, call: Call) -> httpx.Response:
        try:
            response = self._http.request(call.method, call.path, **call.request_args())
        except httpx.HTTPError as exc:
            raise converted(exc) from exc
        return response

    def _send(self, call: Call, model: type[T]) -> T:
        data = self._retrying(lambda: checked(self._response(call)), call.idempotent)
        return None if data is None else from_json(model, data)  # type: ignore[return-value]

    def api_version(self) -> str:
        """The API's version (its OpenAPI document's `info.version`)."""
        call = Call("GET", "/openapi.json", idempotent=True)
        document = self._retrying(lambda: checked(self._response(call)), True)
        return str(document["info"]["version"])

    # -- jobs ------------------------------------------------------------------------------------------

    def submit(
        self,
        prompt: str,
        *,
        model: str | None = None,
        negative_prompt: str | None = None,
        width: int | None = None,
        height: int | None = None,
        duration_seconds: float | None = None,
        num_frames: int | None = None,
        fps: int | None = None,
        num_inference_steps: int | None = None,
        guidance_scale: float | None = None,
        seed: int | None = None,
        quality: str | None = None,
        tier: str | None = None,
        webhook_url: str | None = None,
        priority: str | None = None,
        deadline: dt.datetime | str | None = None,
        metadata: Mapping[str, str] | None = None,
        idempotency_key: str | None = None,
        job_id: str | None = None,
    ) -> Job:
        """Submit a job. An Idempotency-Key is sent (a new one unless given), so a retry never makes a second
        job; with `job_id`, the job is created under that id (PUT), idempotent by it."""
        body = dict(locals())
        for name in ("self", "idempotency_key", "job_id"):
            body.pop(name)
        call = submit_call(body, idempotency_key, job_id)
        return self._send(call, Job)

    def get(self, job_id: str) -> Job:
        return self._send(*_calls.get_job(job_id))

    def list_page(
        self,
        limit: int | None = None,
        after: str | None = None,
        *,
        status: str | Sequence[str] | None = None,
        model: str | None = None,
        created_after: dt.datetime | str | None = None,
        created_before: dt.datetime | str | None = None,
    ) -> JobList:
        """One page of the caller's jobs, newest first, filtered by the server (see `list`); `next_cursor`
        leads to the next (a filtered page may be short, even empty, and still have one)."""
        filters = JobFilters(status, model, created_after, created_before)
        return self._send(*_calls.list_page(limit, after, filters))

    def list(
        self,
        *,
        status: str | Sequence[str] | None = None,
        model: str | None = None,
        created_after: dt.datetime | str | None = None,
        created_before: dt.datetime | str | None = None,
        limit: int | None = None,
        page_size: int = 100,
    ) -> Iterator[Job]:
        """Every job of the caller, newest first, page after page, filtered by the server: in any of
        `status`, of `model`, created at or after `created_after` and before `created_before` (aware
        datetimes or RFC 3339 text); `limit` stops after that many jobs."""
        filters = JobFilters(status, model, created_after, created_before)
        seen, cursor = 0, None
        while True:
            page = self._send(*_calls.list_page(page_size, cursor, filters))
            for job in page.data:
                if limit is not None and seen >= limit:
                    return
                seen += 1
                yield job
            if page.next_cursor is None:
                return
            cursor = page.next_cursor

    def cancel(self, job_id: str, reason: str | None = None) -> Job:
        return self._send(*_calls.cancel(job_id, reason))

    def delete(self, job_id: str, *, missing_ok: bool = False) -> None:
        """Delete a job: cancel it if active, delete its video, forget it. `missing_ok`: a job that is
        already gone (deleted before, or by a retry of this call) is not an error."""
        try:
            self._send(*_calls.delete(job_id))
        except errors.NotFound:
            if not missing_ok:
                raise

    # -- following a job -------------------------------------------------------------------------------

    def _stream_once(self, job_id: str, place: Resumable) -> Iterator[Job]:
        try:
            with connect_sse(
                self._http,
                "GET",
                f"/v1/jobs/{job_id}/events",
                headers=place.headers(),
                timeout=stream_timeout(self._timeout),
            ) as source:
                if source.response.status_code >= 400:
                    source.response.read()
                failure = stream_failed(source.response)
                if failure is not None:
                    raise failure
                for event in source.iter_sse():
                    if (deleted := stream_ended_by_deletion(event.event, event.data)) is not None:
                        raise deleted
                    if event.event == "status" and place.fresh(job := sse_job(event.data)):
                        yield job
        except httpx.HTTPError as exc:
            raise converted(exc) from exc

    def _poll(self, job_id: str, place: Resumable) -> Iterator[Job]:
        while True:
            job = self.get(job_id)
            if place.fresh(job):
                yield job
            if job.terminal:
                return
            time.sleep(self._poll_interval)

    def events(self, job_id: str) -> Iterator[Job]:
        """The job's snapshots until it ends: over the event stream, reopened after a cut with Last-Event-ID
        (a snapshot is never yielded twice); polling `get` when the stream is unavailable or keeps failing.
        A job deleted meanwhile raises NotFound (its stream ends with `job.deleted`)."""
        place, failures = Resumable(), 0
        while failures < self._retry.attempts:
            try:
                for job in self._stream_once(job_id, place):
                    failures = 0
                    yield job
                    if job.terminal:
                        return
            except StreamUnsupported:
                break
            except errors.ApiConnectionError:
                pass
            except errors.ApiError as exc:
                if not exc.retriable:
                    raise
            failures += 1  # also when the stream ended before the job did
            time.sleep(reconnect_delay(self._retry, failures, random.random()))  # noqa: S311
        yield from self._poll(job_id, place)

    def wait(
        self, job_id: str, *, timeout: float | None = None, on_update: Callable[[Job], None] | None = None
    ) -> Job:
        """Follow the job until it ends and return its last snapshot (whatever the outcome). `timeout`
        (seconds) raises `WaitTimeout`; it is checked at each snapshot."""
        deadline = None if timeout is None else time.monotonic() + timeout
        job = None
        for job in self.events(job_id):
            if on_update is not None:
                on_update(job)
            if job.terminal:
                return job
            if deadline is not None and time.monotonic() > deadline:
                break
        raise WaitTimeout(f"job {job_id} had not ended after {timeout} s", job)

    # -- downloads -------------------------------------------------------------------------------------

    def content_url(self, job_id: str, variant: str = "video") -> str:
        """A short-lived signed URL of the job's video (or its `poster`)."""
        call = _calls.content(job_id, variant)
        return self._retrying(lambda: redirect_target(self._response(call)), True)

    def _fetch(self, url: str, sink: IO[bytes], progress: Progress | None) -> int:
        try:
            with self._plain.stream("GET", url) as response:
                if response.status_code >= 400:
                    response.read()
                    checked(response)
                total = (
                    int(response.headers["content-length"]) if "content-length" in response.headers else None
                )
                done = 0
                for chunk in response.iter_bytes(CHUNK):
                    sink.write(chunk)
                    done += len(chunk)
                    if progress is not None:
                        progress(done, total)
                return done
        except httpx.HTTPError as exc:
            raise converted(exc) from exc

    def download(
        self,
        job_id: str,
        target: str | os.PathLike[str] | IO[bytes],
        *,
        variant: str = "video",
        progress: Progress | None = None,
    ) -> int:
        """Save the job's video (or poster) to a path (written whole, then renamed into place) or a binary
        stream; `progress(bytes_so_far, total_or_None)` after each chunk. Returns the byte count."""
        url = self.content_url(job_id, variant)
        if not isinstance(target, (str, os.PathLike)):
            return self._fetch(url, target, progress)
        path = Path(target)

        def to_file() -> int:
            with tempfile.NamedTemporaryFile(dir=path.parent, prefix=f".{path.name}.", delete=False) as part:
                try:
                    size = self._fetch(url, part, progress)
                except BaseException:
                    Path(part.name).unlink(missing_ok=True)
                    raise
            Path(part.name).replace(path)
            return size

        return self._retrying(to_file, True)

    # -- keys, webhooks, limits (admin) ----------------------------------------------------------------

    def create_key(
        self,
        tenant: str,
        *,
        roles: Sequence[str] | None = None,
        expires_at: dt.datetime | str | None = None,
        name: str | None = None,
    ) -> ApiKeyCreated:
        """Mint an API key (admin); `.key` holds it, shown this once."""
        return self._send(*_calls.create_key(tenant, roles, expires_at, name))

    def list_keys(self, tenant: str | None = None) -> Keys:
        return self._send(*_calls.list_keys(tenant)).data

    def revoke_key(self, key_id: str) -> ApiKey:
        return self._send(*_calls.revoke_key(key_id))

    def rotate_key(self, key_id: str, *, overlap_seconds: int | None = None) -> ApiKeyRotated:
        """A successor (`.key`, shown once); the old key works `overlap_seconds` longer (default 1 day)."""
        return self._send(*_calls.rotate_key(key_id, overlap_seconds))

    def list_webhook_endpoints(self, tenant: str) -> Endpoints:
        return self._send(*_calls.list_webhook_endpoints(tenant)).data

    def create_webhook_endpoint(
        self,
        tenant: str,
        url: str,
        *,
        event_types: Sequence[str] | None = None,
        description: str | None = None,
    ) -> WebhookEndpoint:
        return self._send(*_calls.create_webhook_endpoint(tenant, url, event_types, description))

    def delete_webhook_endpoint(self, tenant: str, endpoint_id: str) -> None:
        self._send(*_calls.delete_webhook_endpoint(tenant, endpoint_id))

    def ping_webhook_endpoint(self, tenant: str, endpoint_id: str) -> WebhookPing:
        return self._send(*_calls.ping_webhook_endpoint(tenant, endpoint_id))

    def enable_webhook_url(
        self, url: str | None = None, *, endpoint_sha256: str | None = None
    ) -> WebhookEndpointEnabled:
        return self._send(*_calls.enable_webhook_url(url, endpoint_sha256))

    def list_webhook_secrets(self, tenant: str) -> Secrets:
        return self._send(*_calls.list_webhook_secrets(tenant)).data

    def create_webhook_secret(
        self, tenant: str, *, expires_at: dt.datetime | str | None = None
    ) -> WebhookSecret:
        return self._send(*_calls.create_webhook_secret(tenant, expires_at))

    def retire_webhook_secret(self, tenant: str, secret_id: str) -> None:
        self._send(*_calls.retire_webhook_secret(tenant, secret_id))

    def create_tenant(
        self,
        tenant: str,
        *,
        name: str | None = None,
        limits: Mapping[str, float | int | None] | None = None,
        retention_days: int | None = None,
        video_retention_days: int | None = None,
    ) -> Tenant:
        """Create a tenant (platform operator); `limits` as `put_tenant_limits` takes them; the retention
        overrides in days (None: the platform's settings)."""
        body = None if limits is None else dict(limits)
        retention = (retention_days, video_retention_days)
        return self._send(*_calls.create_tenant(tenant, name, body, retention))

    def update_tenant(
        self, tenant: str, *, retention_days: int | None = None, video_retention_days: int | None = None
    ) -> Tenant:
        """Set a tenant's retention overrides in days (platform operator). Both are replaced: a None one
        goes back to the platform's setting. Its jobs, finished ones included, follow at the next sweep."""
        return self._send(*_calls.update_tenant(tenant, (retention_days, video_retention_days)))

    def list_tenants(self) -> Tenants:
        return (self._send(*_calls.list_tenants())).data

    def get_tenant(self, tenant: str) -> Tenant:
        return self._send(*_calls.get_tenant(tenant))

    def suspend_tenant(self, tenant: str, *, reason: str | None = None) -> Tenant:
        """Suspend a tenant (platform operator): its keys and tokens answer 403 until it is resumed."""
        return self._send(*_calls.set_tenant_status(tenant, "suspend", reason))

    def resume_tenant(self, tenant: str, *, reason: str | None = None) -> Tenant:
        return self._send(*_calls.set_tenant_status(tenant, "resume", reason))

    def delete_tenant(self, tenant: str) -> None:
        """Delete a tenant (platform operator): its keys revoked, its webhooks removed, its data keys
        shredded; cannot be undone."""
        self._send(*_calls.delete_tenant(tenant))

    def put_tenant_limits(
        self,
        tenant: str,
        *,
        rate: float,
        burst: float,
        queued: int | None = None,
        running: int | None = None,
        gang: int | None = None,
    ) -> TenantLimits:
        """Set a tenant's limits (an operator: any tenant's, which become its ceiling; a tenant admin: its
        own, at or below that ceiling). `gang`: low latency, the slots one of its jobs may render on at once
        (a power of two; None: a gang only from spare idle slots)."""
        return self._send(*_calls.put_tenant_limits(tenant, rate, burst, queued, running, gang))

    def usage(
        self,
        *,
        start: dt.datetime | dt.date | str | None = None,
        end: dt.datetime | dt.date | str | None = None,
        group_by: UsageGroup | None = None,
    ) -> Usage:
        """The caller's GPU usage from `start` (inclusive; default 30 days before `end`) to `end` (exclusive;
        default now), one row per UTC day or per model."""
        return self._send(*_calls.usage(start, end, group_by))

    def tenant_usage_totals(
        self,
        *,
        start: dt.datetime | dt.date | str | None = None,
        end: dt.datetime | dt.date | str | None = None,
    ) -> TenantUsageTotals:
        """Every tenant's GPU usage totals in the window (scope admin)."""
        return self._send(*_calls.tenant_usage_totals(start, end))

    def pool(self) -> PoolState:
        """The GPU pools: each slot busy (with its job and tenant) or idle, jobs queued per tenant
        (the platform operator's)."""
        return self._send(*_calls.pool())

    def limits(self) -> Limits:
        """The caller's limits and its use of them: submissions, queue, and the GPU-seconds budget."""
        return self._send(*_calls.limits())

    def render_load(
        self,
        *,
        start: dt.datetime | dt.date | str | None = None,
        end: dt.datetime | dt.date | str | None = None,
        limit: int | None = None,
        tenant: str | None = None,
    ) -> RenderLoad:
        """Render seconds of the caller's newest succeeded jobs (`limit`: default 1,000, at most 10,000)
        created from `start` (inclusive) to `end` (exclusive), by frames class and by prompt words class;
        `tenant`: another tenant's (the platform operator only; anyone else gets NotFound)."""
        return self._send(*_calls.render_load(start, end, limit, tenant))
