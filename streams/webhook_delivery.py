"""Deliver a webhook and settle the outcome durably: delivered, queued in the retry tier of its next
attempt, or dead-lettered (exhausted, rejected, endpoint gone or deleted, expired).

A webhook is a `RetryWebhook` request: a job event to the job's own webhook_url, the same event to one of
the tenant's registered endpoints (its own webhook-id, `reelstream.webhooks.tenants`), or a ping to one
endpoint. Each is signed with every active secret of its tenant (or the global secret).

Called by the notifier's consumers: the Faust agents on reelstream.jobs.events and reelstream.webhooks.pings
(first attempts) and the retry-tier loop (later attempts). Each returns only once the outcomes are on the
broker, so the caller can commit the offset of the record it came from.

Every attempt goes through its endpoint's gate (streams.webhook_gate): an endpoint that is backing off, or
busy while the attempt may not wait, is not tried; the request is deferred, the same attempt, to a retry
tier instead. A failing endpoint thus costs the others nothing but its own slots, each for at most the
attempt's deadline; failing for the whole window, it is disabled like one that answered 410.

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

from reelstream.crypto.job_keys_view import FieldOpener
from reelstream.crypto.provider import KeyUnavailableError
from reelstream.dlq import SourceRecord, replays_of
from reelstream.errors import ReelstreamError
from reelstream.settings import NotifierSettings
from reelstream.tracing import current_traceparent, tracer
from reelstream.webhooks.endpoint_health import Gate, endpoint_of
from reelstream.webhooks.messages import (
    ENDPOINT_DISABLED_TYPE,
    PING_TYPE,
    PROGRESS_TYPE,
    endpoint_disabled_payload,
    endpoint_notifies,
    event_payload,
    event_type_name,
    notifies,
    ping_payload,
)
from reelstream.webhooks.retries import (
    EndpointGoneError,
    NextAttempt,
    NoSigningSecretError,
    Verdict,
    WebhookExhaustedError,
    WebhookExpiredError,
    WebhookRejectedError,
    deferred,
    endpoint_key,
    is_expired,
    next_attempt,
    parse_retry_after,
    verdict,
)
from reelstream.webhooks.tenants import TenantWebhooks, endpoint_webhook_id
from reelstream.webhooks.throttle import ProgressThrottle
from schemas.events import (
    DeliveryOutcome,
    JobEvent,
    RetryWebhook,
    WebhookDelivery,
    WebhookEndpointDisabled,
    WebhookEndpointRegistered,
    WebhookPingRequested,
    new_id,
)
from schemas.topics import WEBHOOK_DELIVERIES, WEBHOOK_ENDPOINTS, Topic, retry_tiers, retry_topic
from streams.app import StreamContext
from streams.invariants import check_job_event
from streams.webhook_endpoints import DisabledEndpoints
from streams.webhook_gate import EndpointGate
from streams.webhook_http import Attempt, Outbound, post

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
        log.info("webhook delivered to %s in %.0f ms", _target(delivery), delivery.duration_ms, extra=fields)
    else:
        log.warning("webhook to %s failed: %s", _target(delivery), delivery.error or "non-2xx", extra=fields)


def _target(delivery: WebhookDelivery) -> str:
    """Where a delivery went, as logs and records name it: never the URL nor its host (customer content)."""
    if delivery.endpoint_id is not None:
        return f"endpoint {delivery.endpoint_id}"
    return f"the webhook_url of job {delivery.job_id}"


def requests_for(event: JobEvent, tenants: TenantWebhooks, traceparent: str | None) -> list[RetryWebhook]:
    """The first attempts a job event calls for: the job's own webhook_url (a terminal event of a job that
    has one), then each enabled registered endpoint of the tenant whose filter names the event's type."""
    if not endpoint_notifies(event):
        return []
    first = RetryWebhook(attempt=1, due_at=event.occurred_at, job_event=event, traceparent=traceparent)
    own = [first] if event.status.webhook_url and notifies(event) else []
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
    if request.endpoint_disabled is not None:
        return request.endpoint_disabled.tenant_id
    return request.ping.tenant_id if request.ping is not None else ""


def notices_for(record: WebhookEndpointDisabled, tenants: TenantWebhooks) -> list[RetryWebhook]:
    """The endpoint.disabled webhooks `record` calls for: one to each other registered endpoint of its
    tenant whose filter lets the type through."""
    return [
        RetryWebhook(
            attempt=1,
            due_at=record.occurred_at,
            endpoint_disabled=record,
            endpoint_id=e.endpoint_id,
            webhook_id=endpoint_webhook_id(record.event_id, e.endpoint_id),
        )
        for e in tenants.subscribers(record.tenant_id, ENDPOINT_DISABLED_TYPE)
        if endpoint_key(e.url) != record.endpoint_sha256
    ]


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
    gate: EndpointGate
    fields: FieldOpener | None = None  # opens a job event's sealed webhook URL and prompt (job_fields)
    progress: ProgressThrottle = dataclasses.field(default_factory=lambda: ProgressThrottle(0.0))

    @property
    def first_tier(self) -> Topic[RetryWebhook]:
        return retry_tiers(self.settings.retry_schedule)[0]

    @property
    def first_tier_delay(self) -> float:
        return min(self.settings.retry_schedule[1:])

    async def first_attempt(self, event: JobEvent, source: SourceRecord, traceparent: str | None) -> None:
        """One delivery per target of the event, one after the other (each settled before the next)."""
        for request in requests_for(event, self.tenants, traceparent):
            if event_type_name(event.type) == PROGRESS_TYPE and not self._progress_due(event, request):
                continue
            await self._attempt(request, source, intended_at=event.occurred_at, may_wait=True)

    async def ping(self, ping: WebhookPingRequested, source: SourceRecord) -> None:
        await self._attempt(ping_request(ping), source, intended_at=ping.occurred_at, may_wait=True)

    def _progress_due(self, event: JobEvent, request: RetryWebhook) -> bool:
        return self.progress.admit(f"{request.endpoint_id}/{event.job_id}", time.monotonic())

    async def resend(self, request: RetryWebhook, source: SourceRecord) -> None:
        """A tenant admin's resend (reelstream.webhooks.resends): one attempt now, its webhook-id kept."""
        await self._attempt(request, source, intended_at=request.occurred_at, may_wait=True)

    async def retry(self, request: RetryWebhook, source: SourceRecord) -> None:
        """A retry tier's record: never waits for a busy endpoint (its partition would stall)."""
        await self._attempt(request, source, intended_at=request.due_at, may_wait=False)

    async def _in_clear(self, request: RetryWebhook) -> RetryWebhook | ReelstreamError:
        """The request with its job event's fields opened, for this attempt only: what is queued again or
        dead-lettered is the request as it was read, sealed."""
        event = request.job_event
        if event is None or event.status.job_key_id is None:
            return request
        if self.fields is None:
            return KeyUnavailableError("this notifier opens no job keys")
        try:
            opened = dataclasses.replace(event, status=await self.fields.open(event.status))
            check_job_event(opened)  # its URL, now in clear
        except ReelstreamError as exc:  # the job's key is gone (the job or its tenant deleted), or forged
            return exc
        return dataclasses.replace(request, job_event=opened)

    def _message(self, request: RetryWebhook) -> Outbound | ReelstreamError:
        """What to send and where, or why it cannot be sent (endpoint deleted, nothing to send)."""
        tenant_id = tenant_of(request)
        if request.ping is not None:  # to the URL the endpoint had when the ping was asked for
            ping = request.ping
            body = ping_payload(ping.tenant_id, ping.endpoint_id, ping.occurred_at)
            webhook_id = request.webhook_id or ping.event_id
            return Outbound(ping.url, webhook_id, body, tenant_id, "", ping.endpoint_id, PING_TYPE)
        url = request.job_event.status.webhook_url if request.job_event is not None else None
        notice = request.endpoint_disabled
        if notice is not None and request.endpoint_id is not None:
            target = self._registered(tenant_id, request.endpoint_id)
            if isinstance(target, ReelstreamError):
                return target
            body = endpoint_disabled_payload(notice)
            webhook_id = request.webhook_id or notice.event_id
            return Outbound(
                target.url, webhook_id, body, tenant_id, "", request.endpoint_id, ENDPOINT_DISABLED_TYPE
            )
        if request.endpoint_id is not None:
            endpoint = self._registered(tenant_id, request.endpoint_id)
            if isinstance(endpoint, ReelstreamError):
                return endpoint
            url = endpoint.url
        if request.job_event is not None and url:
            event = request.job_event
            webhook_id = request.webhook_id or event.event_id
            body = event_payload(event)
            kind = event_type_name(event.type)
            return Outbound(url, webhook_id, body, tenant_id, event.job_id, request.endpoint_id, kind)
        return WebhookRejectedError("a webhook request with nothing to deliver or no URL")

    def _registered(self, tenant_id: str, endpoint_id: str) -> WebhookEndpointRegistered | ReelstreamError:
        endpoint = self.tenants.endpoint(tenant_id, endpoint_id)
        if endpoint is None or not endpoint.enabled:
            what = "deleted" if endpoint is None else "disabled by its tenant"
            return EndpointGoneError(f"endpoint {endpoint_id} of {tenant_id} was {what}")
        return endpoint

    async def _attempt(
        self, request: RetryWebhook, source: SourceRecord, intended_at: datetime, *, may_wait: bool
    ) -> None:
        attempt = request.attempt
        if not replays_of(source.headers) and is_expired(intended_at, _now(), self.settings.max_age_seconds):
            late = (_now() - intended_at).total_seconds()
            expired = WebhookExpiredError(
                f"attempt {attempt} is {late:.0f}s late (max {self.settings.max_age_seconds:g}s)"
            )
            await self._dead_letter(request, source, expired)
            return
        clear = await self._in_clear(request)
        message = clear if isinstance(clear, ReelstreamError) else self._message(clear)
        if isinstance(message, ReelstreamError):
            await self._dead_letter(request, source, message)
            return
        secrets = self.tenants.signing_secrets(message.tenant_id, _now())
        if not secrets:
            unsigned = NoSigningSecretError(f"tenant {message.tenant_id} has no webhook secret that opens")
            await self._dead_letter(request, source, unsigned)
            return
        gone = self.endpoints.of(message.url)
        if gone is not None:
            error = EndpointGoneError(
                f"endpoint disabled: HTTP {gone.status_code} for {gone.webhook_event_id}"
            )
            await self._dead_letter(request, source, error)
            return
        endpoint = endpoint_of(message.tenant_id, message.url)
        admission = await self.gate.enter(endpoint, may_wait=may_wait)
        if admission.gate is not Gate.GO:  # backing off, or busy: deferred without an attempt
            nxt = deferred(self.settings.retry_schedule, attempt, _now(), admission.until)
            await self._queue(request, message, source, nxt, "deferred (endpoint backing off or busy)")
            return
        failed, retry_after = True, None
        try:
            sent = await self._send(request, message, secrets)
            retry_after = parse_retry_after(sent.retry_after, _now(), self.settings.retry_after_max_seconds)
            failed = verdict(sent.delivery.status_code, _error_type(sent.delivery.error)) is Verdict.RETRY
        finally:  # the slot is given back whatever happened (a cancelled attempt counts as failed)
            finished = await self.gate.leave(endpoint, ok=not failed, retry_after=retry_after)
        delivery = sent.delivery
        _log_delivery(delivery)
        self.ctx.metrics.webhook_delivered(delivery)
        publisher = await self.ctx.publisher()
        await publisher.publish(WEBHOOK_DELIVERIES, key_of(request), delivery)
        if finished.disable:
            await self._disable(message, delivery, source)
            window = self.settings.disable_after_seconds
            await self._dead_letter(request, source, EndpointGoneError(f"failing for {window:g} s: disabled"))
            return
        await self._settle(request, message, delivery, retry_after, source)

    async def _send(self, request: RetryWebhook, message: Outbound, secrets: tuple[str, ...]) -> Attempt:
        with tracer.start_as_current_span(
            "webhook deliver", attributes={"job_id": message.job_id, "attempt": request.attempt}
        ):
            return await post(
                self.client,
                secrets,
                message,
                int(time.time()),
                attempt=request.attempt,
                traceparent=current_traceparent() or request.traceparent,
                deadline=self.settings.timeout_seconds,
            )

    async def _settle(
        self,
        request: RetryWebhook,
        message: Outbound,
        delivery: WebhookDelivery,
        retry_after: float | None,
        source: SourceRecord,
    ) -> None:
        match verdict(delivery.status_code, _error_type(delivery.error)):
            case Verdict.DELIVERED:
                return
            case Verdict.GONE:
                await self._disable(message, delivery, source)
                await self._dead_letter(request, source, EndpointGoneError("HTTP 410 Gone"))
            case Verdict.REJECTED:
                reason = f"HTTP {delivery.status_code}" if delivery.status_code else delivery.error or ""
                await self._dead_letter(request, source, WebhookRejectedError(reason))
            case Verdict.RETRY:
                nxt = next_attempt(self.settings.retry_schedule, delivery.attempt, _now(), retry_after)
                if nxt is None:
                    last = f"HTTP {delivery.status_code}" if delivery.status_code else delivery.error
                    error = WebhookExhaustedError(f"{delivery.attempt} attempts failed, the last: {last}")
                    await self._dead_letter(request, source, error)
                    return
                await self._queue(request, message, source, nxt, "retry queued")

    async def _queue(
        self, request: RetryWebhook, message: Outbound, source: SourceRecord, nxt: NextAttempt, what: str
    ) -> None:
        """Produce attempt `nxt` of `request` to its tier, on the partition its source record came from."""
        now = _now()
        again = dataclasses.replace(
            request, attempt=nxt.attempt, due_at=nxt.due_at, event_id=new_id(), occurred_at=now
        )
        publisher = await self.ctx.publisher()
        topic = retry_topic(nxt.tier)
        await publisher.publish(topic, key_of(request), again, partition=source.partition)
        log.info(
            "webhook %s on %s, due in %.1f s",
            what,
            topic.name,
            (nxt.due_at - now).total_seconds(),
            extra={"job_id": message.job_id, "endpoint_id": message.endpoint_id, "attempt": nxt.attempt},
        )

    async def _disable(self, message: Outbound, delivery: WebhookDelivery, source: SourceRecord) -> None:
        """Record the endpoint as disabled, then queue an endpoint.disabled notice to each other endpoint
        of its tenant that subscribes to it (in the first tier, due at once: durable, never recursive)."""
        record = WebhookEndpointDisabled(
            endpoint_sha256=endpoint_key(message.url),
            tenant_id=message.tenant_id,
            status_code=delivery.status_code or 0,
            webhook_event_id=message.webhook_id,
            endpoint_id=message.endpoint_id,
        )
        publisher = await self.ctx.publisher()
        await publisher.publish(WEBHOOK_ENDPOINTS, record.endpoint_sha256, record)
        self.endpoints.add(record)
        for notice in notices_for(record, self.tenants):
            due = NextAttempt(1, self.first_tier_delay, record.occurred_at)
            await self._queue(notice, message, source, due, "endpoint.disabled notice queued")
        log.warning(
            "webhook %s disabled (HTTP %s)",
            _target(delivery),
            delivery.status_code or delivery.error,
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
