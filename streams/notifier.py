"""reelstream-notifier: a signed webhook for every terminal job event, and a delivery record for each attempt.

Reads `reelstream.jobs.events`, POSTs the Standard Webhooks payload of streams.webhooks to the job's
webhook URL, and publishes a WebhookDelivery to `reelstream.webhooks.deliveries` (key = job_id). The agent
only translates between Faust and `deliver`, which holds the delivery logic and runs without Faust.

Run: `python -m streams.notifier` (or the `reelstream-notifier` console script); settings from REELSTREAM_*.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import AsyncIterable
from urllib.parse import urlsplit

import faust
import httpx

from reelstream.metrics import Metrics
from reelstream.settings import NotifierSettings
from schemas.events import DeliveryOutcome, JobEvent, WebhookDelivery
from schemas.topics import JOB_EVENTS, WEBHOOK_DELIVERIES
from streams.app import StreamContext, create_app, faust_topic, run_worker
from streams.webhooks import event_payload, is_notifiable, webhook_headers

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


def new_http_client(settings: NotifierSettings) -> httpx.AsyncClient:
    """The client every delivery goes through (an SSRF-guarding transport plugs in here)."""
    return httpx.AsyncClient(
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


async def handle(
    ctx: StreamContext, client: httpx.AsyncClient, secret: str, record: faust.EventT[bytes]
) -> None:
    """One record of jobs.events: decode, deliver if notifiable, record the delivery."""
    event = await ctx.decoded(JOB_EVENTS, record)
    if event is None or not is_notifiable(event):
        return
    delivery = await deliver(client, secret, event, int(time.time()))
    _log_delivery(delivery)
    ctx.metrics.webhook_delivered(delivery)
    await (await ctx.publisher()).publish(WEBHOOK_DELIVERIES, delivery.job_id, delivery)


def build_notifier(settings: NotifierSettings, metrics: Metrics | None = None) -> faust.App:
    app = create_app("notifier", settings.pipeline)
    ctx = StreamContext(app, settings.pipeline, metrics)
    ctx.metrics.expect_topics([JOB_EVENTS.name])
    ctx.metrics.expect_webhooks()

    @app.agent(faust_topic(app, JOB_EVENTS), name="webhooks")
    async def send_webhooks(stream: faust.StreamT[bytes]) -> None:
        async with new_http_client(settings) as client:
            records: AsyncIterable[faust.EventT[bytes]] = stream.events()
            async for record in records:
                await handle(ctx, client, settings.webhook_secret, record)

    return app


def main() -> None:
    settings = NotifierSettings.from_env(os.environ)
    metrics = Metrics(settings.pipeline.metrics.tenant_classes)
    app = build_notifier(settings, metrics)
    # the worker stops cleanly on SIGTERM (and SIGINT)
    run_worker(app, settings.pipeline, metrics)


if __name__ == "__main__":
    main()
