"""Deliver a job event's webhook and settle the outcome durably: delivered, queued in the retry tier of
its next attempt, or dead-lettered (exhausted, rejected, endpoint gone, expired).

Called by the notifier's two consumers: the Faust agent on reelstream.jobs.events (first attempts) and the
retry-tier loop (later attempts). Each returns only once the outcome is on the broker, so the caller can
commit the offset of the record it came from.

A webhook's dead letter holds a fresh RetryWebhook (attempt 1, due at once) addressed to the first retry
tier, so `reelstream dlq replay notifier` starts that delivery over with the same webhook-id; its
partition and offset name the record that was being handled. A replayed record is never expired.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import UTC, datetime

import httpx

from reelstream.dlq import SourceRecord, park, replays_of
from reelstream.errors import ReelstreamError
from reelstream.settings import NotifierSettings
from reelstream.tracing import current_traceparent, tracer
from schemas.events import DeliveryOutcome, JobEvent, RetryWebhook, WebhookDelivery, WebhookEndpointDisabled
from schemas.topics import WEBHOOK_DELIVERIES, WEBHOOK_ENDPOINTS, Topic, retry_tiers, retry_topic
from streams.app import StreamContext
from streams.webhook_endpoints import DisabledEndpoints
from streams.webhook_http import post_once
from streams.webhook_retries import (
    EndpointGoneError,
    Verdict,
    WebhookExhaustedError,
    WebhookExpiredError,
    WebhookRejectedError,
    endpoint_key,
    is_expired,
    next_attempt,
    parse_retry_after,
    verdict,
)

log = logging.getLogger(__name__)
STAGE = "notifier"


def _now() -> datetime:
    return datetime.now(UTC)


def _error_type(error: str | None) -> str | None:
    return error.split(":", 1)[0] if error else None


def _log_delivery(delivery: WebhookDelivery) -> None:
    fields = {"job_id": delivery.job_id, "status_code": delivery.status_code, "attempt": delivery.attempt}
    if delivery.outcome is DeliveryOutcome.DELIVERED:
        log.info(
            "webhook delivered to %s in %.0f ms", delivery.target_host, delivery.duration_ms, extra=fields
        )
    else:
        log.warning(
            "webhook to %s failed: %s", delivery.target_host, delivery.error or "non-2xx", extra=fields
        )


@dataclass
class Delivering:
    ctx: StreamContext
    settings: NotifierSettings
    client: httpx.AsyncClient
    endpoints: DisabledEndpoints

    @property
    def first_tier(self) -> Topic[RetryWebhook]:
        return retry_tiers(self.settings.retry_schedule)[0]

    async def first_attempt(self, event: JobEvent, source: SourceRecord, traceparent: str | None) -> None:
        await self._attempt(event, 1, traceparent, source, intended_at=event.occurred_at)

    async def retry(self, request: RetryWebhook, source: SourceRecord) -> None:
        await self._attempt(
            request.job_event, request.attempt, request.traceparent, source, intended_at=request.due_at
        )

    async def _attempt(
        self,
        event: JobEvent,
        attempt: int,
        traceparent: str | None,
        source: SourceRecord,
        intended_at: datetime,
    ) -> None:
        url = event.status.webhook_url or ""
        if not replays_of(source.headers) and is_expired(intended_at, _now(), self.settings.max_age_seconds):
            late = (_now() - intended_at).total_seconds()
            expired = WebhookExpiredError(
                f"attempt {attempt} is {late:.0f}s late (max {self.settings.max_age_seconds:g}s)"
            )
            await self._dead_letter(event, traceparent, source, expired)
            return
        gone = self.endpoints.of(url)
        if gone is not None:
            error = EndpointGoneError(
                f"endpoint disabled: HTTP {gone.status_code} for {gone.webhook_event_id}"
            )
            await self._dead_letter(event, traceparent, source, error)
            return
        with tracer.start_as_current_span(
            "webhook deliver", attributes={"job_id": event.job_id, "attempt": attempt}
        ):
            sent = await post_once(
                self.client,
                self.settings.webhook_secret,
                event,
                int(time.time()),
                attempt=attempt,
                traceparent=current_traceparent() or traceparent,
            )
        delivery = sent.delivery
        _log_delivery(delivery)
        self.ctx.metrics.webhook_delivered(delivery)
        publisher = await self.ctx.publisher()
        await publisher.publish(WEBHOOK_DELIVERIES, delivery.job_id, delivery)
        await self._settle(event, delivery, sent.retry_after, traceparent, source)

    async def _settle(
        self,
        event: JobEvent,
        delivery: WebhookDelivery,
        retry_after: str | None,
        traceparent: str | None,
        source: SourceRecord,
    ) -> None:
        match verdict(delivery.status_code, _error_type(delivery.error)):
            case Verdict.DELIVERED:
                return
            case Verdict.GONE:
                await self._disable(event, delivery)
                await self._dead_letter(event, traceparent, source, EndpointGoneError("HTTP 410 Gone"))
            case Verdict.REJECTED:
                reason = f"HTTP {delivery.status_code}" if delivery.status_code else delivery.error or ""
                await self._dead_letter(event, traceparent, source, WebhookRejectedError(reason))
            case Verdict.RETRY:
                now = _now()
                after = parse_retry_after(retry_after, now)
                nxt = next_attempt(self.settings.retry_schedule, delivery.attempt, now, after)
                if nxt is None:
                    last = f"HTTP {delivery.status_code}" if delivery.status_code else delivery.error
                    error = WebhookExhaustedError(f"{delivery.attempt} attempts failed, the last: {last}")
                    await self._dead_letter(event, traceparent, source, error)
                    return
                request = RetryWebhook(event, nxt.attempt, nxt.due_at, traceparent)
                publisher = await self.ctx.publisher()
                topic = retry_topic(nxt.tier)
                await publisher.publish(topic, event.job_id, request, partition=source.partition)
                log.info(
                    "webhook retry queued on %s, due in %.1f s",
                    topic.name,
                    (nxt.due_at - now).total_seconds(),
                    extra={"job_id": event.job_id, "attempt": nxt.attempt},
                )

    async def _disable(self, event: JobEvent, delivery: WebhookDelivery) -> None:
        record = WebhookEndpointDisabled(
            endpoint_sha256=endpoint_key(event.status.webhook_url or ""),
            tenant_id=event.tenant_id,
            target_host=delivery.target_host,
            status_code=delivery.status_code or 0,
            webhook_event_id=event.event_id,
        )
        publisher = await self.ctx.publisher()
        await publisher.publish(WEBHOOK_ENDPOINTS, record.endpoint_sha256, record)
        self.endpoints.add(record)
        log.warning(
            "webhook endpoint on %s disabled (410 Gone)", delivery.target_host, extra={"job_id": event.job_id}
        )

    async def _dead_letter(
        self, event: JobEvent, traceparent: str | None, source: SourceRecord, error: ReelstreamError
    ) -> None:
        """Park a fresh first attempt of `event` on the notifier's dead-letter topic (see the module doc)."""
        publisher = await self.ctx.publisher()
        restart = RetryWebhook(event, 1, _now(), traceparent)
        letter = SourceRecord(
            topic=self.first_tier.name,
            partition=source.partition,
            offset=source.offset,
            key=event.job_id.encode(),
            value=publisher.serde.serialize(self.first_tier, restart),
            headers=source.headers,
        )
        self.ctx.metrics.dead_lettered(source.topic, error.code)
        await park(publisher, STAGE, letter, error)

    async def park(self, source: SourceRecord, error: ReelstreamError) -> None:
        """Park a record of a retry tier as it is (it cannot be read, or cannot be handled)."""
        self.ctx.metrics.dead_lettered(source.topic, error.code)
        await park(await self.ctx.publisher(), STAGE, source, error)
