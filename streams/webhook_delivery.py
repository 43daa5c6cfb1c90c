"""Deliver a webhook and settle the outcome durably: delivered, queued in the retry tier of its next
attempt, or dead-lettered (exhausted, rejected, endpoint gone or deleted, expired).

A webhook is a `RetryWebhook` request: a job event to the job's own webhook_url, the same event to one of
the tenant's registered endpoints (its own webhook-id, `reelstream.webhooks.tenants`), or a ping to one
endpoint. Each is signed with every active secret of its tenant (or the global secret).

Called by the notifier's consumers: the Faust agents on reelstream.jobs.events and reelstream.webhooks.pings
(first attempts) and the retry-tier loop (later attempts). Each returns only once the outcomes are on the
broker, so the caller can commit the offset of the record it came from.

A webhook's dead letter holds a fresh RetryWebhook (attempt 1, due at once) addressed to the first retry
tier, so `reelstream dlq replay notifier` starts that delivery over with the same webhook-id; its
partition and offset name the record that was being handled. A replayed record is never expired.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from dataclasses import dataclass
from datetime import UTC, datetime

import httpx

from reelstream.dlq import SourceRecord, replays_of
from reelstream.errors import ReelstreamError
from reelstream.settings import NotifierSettings
from reelstream.tracing import current_traceparent, tracer
from reelstream.webhooks.messages import NOTIFIABLE_TYPES, event_payload, event_type_name, ping_payload
from reelstream.webhooks.retries import (
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
from reelstream.webhooks.tenants import TenantWebhooks, endpoint_webhook_id
from schemas.events import (
    DeliveryOutcome,
    JobEvent,
    RetryWebhook,
    WebhookDelivery,
    WebhookEndpointDisabled,
    WebhookPingRequested,
    new_id,
)
from schemas.topics import WEBHOOK_DELIVERIES, WEBHOOK_ENDPOINTS, Topic, retry_tiers, retry_topic
from streams.app import StreamContext
from streams.webhook_endpoints import DisabledEndpoints
from streams.webhook_http import Outbound, post

log = logging.getLogger(__name__)


def _now() -> datetime:
    return datetime.now(UTC)


def _error_type(error: str | None) -> str | None:
    return error.split(":", 1)[0] if error else None


def _log_delivery(delivery: WebhookDelivery) -> None:
    fields = {
        "job_id": delivery.job_id,
        "tenant_id": delivery.tenant_id,
        "endpoint_id": delivery.endpoint_id,
        "status_code": delivery.status_code,
        "attempt": delivery.attempt,
    }
    if delivery.outcome is DeliveryOutcome.DELIVERED:
        log.info(
            "webhook delivered to %s in %.0f ms", delivery.target_host, delivery.duration_ms, extra=fields
        )
    else:
        log.warning(
            "webhook to %s failed: %s", delivery.target_host, delivery.error or "non-2xx", extra=fields
        )


def requests_for(event: JobEvent, tenants: TenantWebhooks, traceparent: str | None) -> list[RetryWebhook]:
    """The first attempts a job event calls for: the job's own webhook_url (if any), then each registered
    endpoint of the tenant whose filter names the event's type. Nothing for a non-terminal event."""
    if event.type not in NOTIFIABLE_TYPES:
        return []
    first = RetryWebhook(attempt=1, due_at=event.occurred_at, job_event=event, traceparent=traceparent)
    own = [first] if event.status.webhook_url else []
    return own + [
        dataclasses.replace(
            first, endpoint_id=e.endpoint_id, webhook_id=endpoint_webhook_id(event.event_id, e.endpoint_id)
        )
        for e in tenants.subscribers(event.tenant_id, event_type_name(event.type))
    ]


def ping_request(ping: WebhookPingRequested) -> RetryWebhook:
    return RetryWebhook(
        attempt=1, due_at=ping.occurred_at, ping=ping, endpoint_id=ping.endpoint_id, webhook_id=ping.event_id
    )


def tenant_of(request: RetryWebhook) -> str:
    if request.job_event is not None:
        return request.job_event.tenant_id
    return request.ping.tenant_id if request.ping is not None else ""


def key_of(request: RetryWebhook) -> str:
    """The record key of a request (and of its delivery records): the job id, or the tenant for a ping."""
    return request.job_event.job_id if request.job_event is not None else tenant_of(request)


@dataclass
class Delivering:
    ctx: StreamContext
    settings: NotifierSettings
    client: httpx.AsyncClient
    endpoints: DisabledEndpoints
    tenants: TenantWebhooks

    @property
    def first_tier(self) -> Topic[RetryWebhook]:
        return retry_tiers(self.settings.retry_schedule)[0]

    async def first_attempt(self, event: JobEvent, source: SourceRecord, traceparent: str | None) -> None:
        """One delivery per target of the event, one after the other (each settled before the next)."""
        for request in requests_for(event, self.tenants, traceparent):
            await self._attempt(request, source, intended_at=event.occurred_at)

    async def ping(self, ping: WebhookPingRequested, source: SourceRecord) -> None:
        await self._attempt(ping_request(ping), source, intended_at=ping.occurred_at)

    async def retry(self, request: RetryWebhook, source: SourceRecord) -> None:
        await self._attempt(request, source, intended_at=request.due_at)

    def _message(self, request: RetryWebhook) -> Outbound | ReelstreamError:
        """What to send and where, or why it cannot be sent (endpoint deleted, nothing to send)."""
        tenant_id = tenant_of(request)
        if request.ping is not None:  # to the URL the endpoint had when the ping was asked for
            ping = request.ping
            body = ping_payload(ping.tenant_id, ping.endpoint_id, ping.occurred_at)
            webhook_id = request.webhook_id or ping.event_id
            return Outbound(ping.url, webhook_id, body, tenant_id, "", ping.endpoint_id)
        url = request.job_event.status.webhook_url if request.job_event is not None else None
        if request.endpoint_id is not None:
            endpoint = self.tenants.endpoint(tenant_id, request.endpoint_id)
            if endpoint is None:
                return EndpointGoneError(f"endpoint {request.endpoint_id} of {tenant_id} was deleted")
            url = endpoint.url
        if request.job_event is not None and url:
            event = request.job_event
            webhook_id = request.webhook_id or event.event_id
            body = event_payload(event)
            return Outbound(url, webhook_id, body, tenant_id, event.job_id, request.endpoint_id)
        return WebhookRejectedError("a webhook request with nothing to deliver or no URL")

    async def _attempt(self, request: RetryWebhook, source: SourceRecord, intended_at: datetime) -> None:
        attempt = request.attempt
        if not replays_of(source.headers) and is_expired(intended_at, _now(), self.settings.max_age_seconds):
            late = (_now() - intended_at).total_seconds()
            expired = WebhookExpiredError(
                f"attempt {attempt} is {late:.0f}s late (max {self.settings.max_age_seconds:g}s)"
            )
            await self._dead_letter(request, source, expired)
            return
        message = self._message(request)
        if isinstance(message, ReelstreamError):
            await self._dead_letter(request, source, message)
            return
        gone = self.endpoints.of(message.url)
        if gone is not None:
            error = EndpointGoneError(
                f"endpoint disabled: HTTP {gone.status_code} for {gone.webhook_event_id}"
            )
            await self._dead_letter(request, source, error)
            return
        secrets = self.tenants.signing_secrets(message.tenant_id, _now(), self.settings.webhook_secret)
        with tracer.start_as_current_span(
            "webhook deliver", attributes={"job_id": message.job_id, "attempt": attempt}
        ):
            sent = await post(
                self.client,
                secrets,
                message,
                int(time.time()),
                attempt=attempt,
                traceparent=current_traceparent() or request.traceparent,
            )
        delivery = sent.delivery
        _log_delivery(delivery)
        self.ctx.metrics.webhook_delivered(delivery)
        publisher = await self.ctx.publisher()
        await publisher.publish(WEBHOOK_DELIVERIES, key_of(request), delivery)
        await self._settle(request, message, delivery, sent.retry_after, source)

    async def _settle(
        self,
        request: RetryWebhook,
        message: Outbound,
        delivery: WebhookDelivery,
        retry_after: str | None,
        source: SourceRecord,
    ) -> None:
        match verdict(delivery.status_code, _error_type(delivery.error)):
            case Verdict.DELIVERED:
                return
            case Verdict.GONE:
                await self._disable(message, delivery)
                await self._dead_letter(request, source, EndpointGoneError("HTTP 410 Gone"))
            case Verdict.REJECTED:
                reason = f"HTTP {delivery.status_code}" if delivery.status_code else delivery.error or ""
                await self._dead_letter(request, source, WebhookRejectedError(reason))
            case Verdict.RETRY:
                now = _now()
                after = parse_retry_after(retry_after, now)
                nxt = next_attempt(self.settings.retry_schedule, delivery.attempt, now, after)
                if nxt is None:
                    last = f"HTTP {delivery.status_code}" if delivery.status_code else delivery.error
                    error = WebhookExhaustedError(f"{delivery.attempt} attempts failed, the last: {last}")
                    await self._dead_letter(request, source, error)
                    return
                again = dataclasses.replace(
                    request, attempt=nxt.attempt, due_at=nxt.due_at, event_id=new_id(), occurred_at=now
                )
                publisher = await self.ctx.publisher()
                topic = retry_topic(nxt.tier)
                await publisher.publish(topic, key_of(request), again, partition=source.partition)
                log.info(
                    "webhook retry queued on %s, due in %.1f s",
                    topic.name,
                    (nxt.due_at - now).total_seconds(),
                    extra={
                        "job_id": message.job_id,
                        "endpoint_id": message.endpoint_id,
                        "attempt": nxt.attempt,
                    },
                )

    async def _disable(self, message: Outbound, delivery: WebhookDelivery) -> None:
        record = WebhookEndpointDisabled(
            endpoint_sha256=endpoint_key(message.url),
            tenant_id=message.tenant_id,
            target_host=delivery.target_host,
            status_code=delivery.status_code or 0,
            webhook_event_id=message.webhook_id,
        )
        publisher = await self.ctx.publisher()
        await publisher.publish(WEBHOOK_ENDPOINTS, record.endpoint_sha256, record)
        self.endpoints.add(record)
        log.warning(
            "webhook endpoint on %s disabled (410 Gone)",
            delivery.target_host,
            extra={"job_id": message.job_id, "endpoint_id": message.endpoint_id},
        )

    async def _dead_letter(self, request: RetryWebhook, source: SourceRecord, error: ReelstreamError) -> None:
        """Park a fresh first attempt of `request` on the dead-letter topic (see the module doc)."""
        publisher = await self.ctx.publisher()
        now = _now()
        restart = dataclasses.replace(request, attempt=1, due_at=now, event_id=new_id(), occurred_at=now)
        letter = SourceRecord(
            topic=self.first_tier.name,
            partition=source.partition,
            offset=source.offset,
            key=key_of(request).encode(),
            value=publisher.serde.serialize(self.first_tier, restart),
            headers=source.headers,
        )
        await self.ctx.dead_letters.write(letter, error)

    async def park(self, source: SourceRecord, error: ReelstreamError) -> None:
        """Park a record of a retry tier as it is (it cannot be read, or cannot be handled)."""
        await self.ctx.dead_letters.write(source, error)
