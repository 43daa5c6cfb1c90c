"""reelstream-notifier: a signed webhook for every terminal job event, and a delivery record for each attempt.

Reads `reelstream.jobs.events`, POSTs the Standard Webhooks payload of streams.webhooks to the job's
webhook URL, and publishes a WebhookDelivery to `reelstream.webhooks.deliveries` (key = job_id). The agent
only translates between Faust and `deliver`, which holds the delivery logic and runs without Faust.

Run: `python -m streams.notifier` (or the `reelstream-notifier` console script); settings from REELSTREAM_*.
"""

from __future__ import annotations

import asyncio
import logging
import os
import random
import socket
import time
from collections.abc import AsyncIterable, Awaitable, Callable
from typing import Any
from urllib.parse import urlsplit

import faust
import httpx

from reelstream.errors import ReelstreamError
from reelstream.metrics import Metrics
from reelstream.settings import NotifierSettings
from reelstream.tracing import configure_tracing, tracer
from schemas.events import DeliveryOutcome, JobEvent, WebhookDelivery
from schemas.topics import JOB_EVENTS, WEBHOOK_DELIVERIES
from streams.app import StreamContext, create_app, faust_topic, run_worker
from streams.webhooks import (
    BLOCKED_TARGET,
    Network,
    event_payload,
    is_blocked_address,
    is_notifiable,
    parse_networks,
    retry_delay,
    should_retry,
    webhook_headers,
)

log = logging.getLogger(__name__)

MAX_ERROR_CHARS = 300


# What reelstream.logs.configure_logging sets up, as a dictConfig for faust's Worker, which otherwise replaces
# the root handlers with its own at start. Logger levels set by configure_logging (httpx and friends at
# WARNING: httpx logs every request with its full URL, and a webhook URL may carry a token) are kept.
def target_host(url: str) -> str:
    """The host of a webhook URL: all of it that may be logged or recorded (paths and queries hold tokens)."""
    try:
        return urlsplit(url).hostname or ""
    except ValueError:
        return ""


def _describe(exc: Exception, url: str) -> str:
    """A transport error as text for the delivery record, with the URL (and any token in it) left out."""
    detail = str(exc).replace(url, "<webhook url>")
    text = f"{type(exc).__name__}: {detail}" if detail else type(exc).__name__
    return text[:MAX_ERROR_CHARS]


class BlockedTargetError(httpx.TransportError):
    """The webhook host resolves to an address webhooks may not reach (see webhooks.is_blocked_address)."""


class GuardedTransport(httpx.AsyncHTTPTransport):
    """Resolves the host, refuses it if any of its addresses is blocked, then connects to the address it
    checked (Host header and TLS server name stay the original host), so a DNS answer that changes between
    the check and the connection (rebinding) cannot reach an internal address."""

    def __init__(self, allow: tuple[Network, ...], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._allow = allow

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.scheme not in ("http", "https"):
            return await super().handle_async_request(request)  # httpcore refuses it (UnsupportedProtocol)
        host = request.url.host
        port = request.url.port or (443 if request.url.scheme == "https" else 80)
        try:
            infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except (OSError, UnicodeError) as exc:
            raise httpx.ConnectError(f"cannot resolve host: {exc}", request=request) from exc
        addresses = [str(info[4][0]) for info in infos]
        if not addresses or any(is_blocked_address(a, self._allow) for a in addresses):
            raise BlockedTargetError(BLOCKED_TARGET, request=request)
        request.url = request.url.copy_with(host=addresses[0])
        request.extensions = {**request.extensions, "sni_hostname": host}
        return await super().handle_async_request(request)


def new_http_client(settings: NotifierSettings) -> httpx.AsyncClient:
    """The client every delivery goes through, behind the SSRF-guarding transport."""
    allow = parse_networks(settings.webhook_allow_networks)
    return httpx.AsyncClient(
        transport=GuardedTransport(allow),
        timeout=httpx.Timeout(settings.timeout_seconds),
        follow_redirects=False,
        headers={"user-agent": "reelstream-notifier"},
    )


async def deliver(
    client: httpx.AsyncClient, secret: str, event: JobEvent, now: int, *, attempt: int = 1
) -> WebhookDelivery:
    """POST the signed webhook of `event` once and describe the outcome; a receiver's fault never raises.

    `now` (Unix seconds) is the `webhook-timestamp`; `webhook-id` is the event's `event_id`, so every attempt
    of one event carries the same id and receivers can drop duplicates. This is one attempt: a retry policy
    wraps this function, calling it again for the same event with `attempt` + 1 and deciding from the
    returned record (outcome, status_code) whether to try again, give up, or dead-letter.
    """
    url = event.status.webhook_url
    if not url:
        raise ValueError(f"job event {event.event_id} has no webhook URL")
    body = event_payload(event)
    headers = webhook_headers(secret, event.event_id, now, body)
    status_code: int | None = None
    error: str | None = None
    started = time.perf_counter()
    try:
        request = client.build_request("POST", url, content=body, headers=headers)
        response = await client.send(request, stream=True)  # the receiver's body is never read
        await response.aclose()
        status_code = response.status_code
    except BlockedTargetError:
        error = BLOCKED_TARGET
    except (httpx.HTTPError, httpx.InvalidURL) as exc:
        error = _describe(exc, url)
    duration_ms = (time.perf_counter() - started) * 1000
    delivered = status_code is not None and 200 <= status_code < 300
    return WebhookDelivery(
        job_id=event.job_id,
        tenant_id=event.tenant_id,
        webhook_event_id=event.event_id,
        target_host=target_host(url),
        attempt=attempt,
        outcome=DeliveryOutcome.DELIVERED if delivered else DeliveryOutcome.FAILED,
        duration_ms=duration_ms,
        status_code=status_code,
        error=error,
    )


def _log_delivery(delivery: WebhookDelivery) -> None:
    fields = {"job_id": delivery.job_id, "status_code": delivery.status_code}  # never the URL: only its host
    if delivery.outcome is DeliveryOutcome.DELIVERED:
        log.info(
            "webhook delivered to %s in %.0f ms", delivery.target_host, delivery.duration_ms, extra=fields
        )
    else:
        log.warning(
            "webhook to %s failed: %s", delivery.target_host, delivery.error or "non-2xx", extra=fields
        )


class Retries:
    """Failed deliveries waiting for their next attempt, each an asyncio task sleeping its backoff, so a
    waiting retry never holds up the stream. At most `limit` wait at once (beyond that a retry is dropped and
    logged). In memory only: retries still waiting when the process stops are lost (the failed delivery
    records on reelstream.webhooks.deliveries are all that remains of them)."""

    def __init__(self, limit: int) -> None:
        self._limit = limit
        self._tasks: set[asyncio.Task[None]] = set()

    def __len__(self) -> int:
        return len(self._tasks)

    def schedule(self, delay: float, attempt: Callable[[], Awaitable[None]]) -> bool:
        if len(self._tasks) >= self._limit:
            return False
        task = asyncio.create_task(self._later(delay, attempt))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return True

    @staticmethod
    async def _later(delay: float, attempt: Callable[[], Awaitable[None]]) -> None:
        await asyncio.sleep(delay)  # the backoff itself, not synchronisation
        try:
            await attempt()
        except ReelstreamError as exc:  # e.g. the broker did not take the delivery record
            log.error("webhook retry failed: %s", exc.message)

    async def cancel_all(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)


def _error_type(error: str | None) -> str | None:
    return error.split(":", 1)[0] if error else None


async def attempt_delivery(
    ctx: StreamContext,
    client: httpx.AsyncClient,
    secret: str,
    event: JobEvent,
    retries: Retries,
    attempt: int = 1,
) -> WebhookDelivery:
    """Deliver once, record it, and if the failure is transient schedule the next attempt (with backoff)."""
    with tracer.start_as_current_span(
        "webhook deliver", attributes={"job_id": event.job_id, "attempt": attempt}
    ):
        delivery = await deliver(client, secret, event, int(time.time()), attempt=attempt)
    _log_delivery(delivery)
    ctx.metrics.webhook_delivered(delivery)
    await (await ctx.publisher()).publish(WEBHOOK_DELIVERIES, delivery.job_id, delivery)
    if delivery.outcome is DeliveryOutcome.DELIVERED:
        return delivery
    if not should_retry(delivery.status_code, _error_type(delivery.error)):
        return delivery
    delay = retry_delay(attempt, random.random())  # noqa: S311 - jitter, not a secret
    fields = {"job_id": event.job_id, "attempt": attempt}
    if delay is None:
        log.warning("webhook to %s given up after %d attempts", delivery.target_host, attempt, extra=fields)
    elif retries.schedule(delay, lambda: _retry(ctx, client, secret, event, retries, attempt + 1)):
        log.info("webhook to %s retried in %.1f s", delivery.target_host, delay, extra=fields)
    else:
        log.error("webhook retry dropped: too many pending retries", extra=fields)
    return delivery


async def _retry(
    ctx: StreamContext,
    client: httpx.AsyncClient,
    secret: str,
    event: JobEvent,
    retries: Retries,
    attempt: int,
) -> None:
    await attempt_delivery(ctx, client, secret, event, retries, attempt)


async def handle(
    ctx: StreamContext, client: httpx.AsyncClient, secret: str, record: faust.EventT[bytes], retries: Retries
) -> None:
    """One record of jobs.events: decode, deliver if notifiable, record the delivery (retries later)."""
    event = await ctx.decoded(JOB_EVENTS, record)
    if event is None or not is_notifiable(event):
        return
    await attempt_delivery(ctx, client, secret, event, retries)


def build_notifier(settings: NotifierSettings, metrics: Metrics | None = None) -> faust.App:
    app = create_app("notifier", settings.pipeline)
    ctx = StreamContext(app, settings.pipeline, "notifier", metrics)
    ctx.metrics.expect_topics([JOB_EVENTS.name])
    ctx.metrics.expect_webhooks()

    @app.agent(faust_topic(app, JOB_EVENTS), name="webhooks")
    async def send_webhooks(stream: faust.StreamT[bytes]) -> None:
        retries = Retries(settings.max_pending_retries)
        async with new_http_client(settings) as client:
            records: AsyncIterable[faust.EventT[bytes]] = stream.events()
            try:
                async for record in records:
                    async with ctx.dead_lettering(record):
                        await handle(ctx, client, settings.webhook_secret, record, retries)
            finally:
                await retries.cancel_all()

    return app


def main() -> None:
    settings = NotifierSettings.from_env(os.environ)
    configure_tracing("reelstream-notifier", os.environ)
    metrics = Metrics(settings.pipeline.metrics.tenant_classes)
    app = build_notifier(settings, metrics)
    # the worker stops cleanly on SIGTERM (and SIGINT)
    run_worker(app, settings.pipeline, metrics)


if __name__ == "__main__":
    main()
