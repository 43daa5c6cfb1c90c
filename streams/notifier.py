"""reelstream-notifier: a signed webhook for every terminal job event, retried durably until it arrives.

Each terminal job event goes to the job's own webhook_url, and each job event to every enabled endpoint its
tenant registered whose filter names the event's type (job.progress at most once per
REELSTREAM_WEBHOOK_PROGRESS_MIN_INTERVAL_SECONDS per job and endpoint), each signed with every active
secret of the tenant (reelstream.webhooks.tenants, followed from two compacted topics).

Three consumers, one delivery policy (streams.webhook_delivery):
- a Faust agent on `reelstream.jobs.events` makes first attempts, REELSTREAM_WEBHOOK_MAX_IN_FLIGHT records
  at once (the agent's concurrency; Faust commits an offset only once every record before it is done), at
  most REELSTREAM_WEBHOOK_ENDPOINT_MAX_IN_FLIGHT to one endpoint (streams.webhook_gate), whose backoff and
  failure window every replica shares (streams.webhook_health, on `reelstream.webhooks.health`);
- a Faust agent on `reelstream.webhooks.pings` makes the first attempt of each ping an admin asked for,
  and one on `reelstream.webhooks.resends` the attempt of each logged delivery an admin resends (same
  webhook-id, so receivers dedupe);
- one plain consume loop (streams.retry_tiers) over the delay-tier topics `reelstream.webhooks.retry.<delay>`
  makes later attempts when they are due.
A failed attempt is produced to the tier of its next attempt before its source record's offset is committed,
so a retry survives a crash or restart. Every attempt is recorded on `reelstream.webhooks.deliveries`.

Run: `python -m streams.notifier` (or the `reelstream-notifier` console script); settings from REELSTREAM_*.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
from collections.abc import AsyncIterable, AsyncIterator

import faust
from aiokafka import AIOKafkaConsumer
from aiokafka.structs import ConsumerRecord

from reelstream.config import or_exit
from reelstream.crypto.job_keys_view import following_job_keys
from reelstream.crypto.provider import FileKeyProvider
from reelstream.dlq import source_of
from reelstream.errors import InvalidRecordError, ReelstreamError
from reelstream.kafka.admin import ensure_topics
from reelstream.metrics import Metrics
from reelstream.settings import NotifierSettings
from reelstream.tracing import configure_tracing, linked_span, traceparent_of
from reelstream.webhooks.endpoint_health import HealthPolicy
from reelstream.webhooks.messages import endpoint_notifies
from reelstream.webhooks.retries import check_schedule
from reelstream.webhooks.tenant_views import following_tenant_webhooks
from reelstream.webhooks.throttle import ProgressThrottle
from schemas.errors import SerializationError
from schemas.events import RetryWebhook
from schemas.topics import JOB_EVENTS, WEBHOOK_PINGS, WEBHOOK_RESENDS, Topic, retry_tiers
from streams.app import StreamContext, create_app, faust_topic, run_worker
from streams.invariants import check_job_event, check_ping, check_webhook_request
from streams.retry_tiers import TierConsumer
from streams.webhook_delivery import Delivering, key_of
from streams.webhook_endpoints import follow_disabled_endpoints
from streams.webhook_gate import EndpointGate
from streams.webhook_health import SharedHealth, following_endpoint_health
from streams.webhook_http import new_http_client

log = logging.getLogger(__name__)


class Resources:
    """What both consumers share, opened once in Faust's loop by the retry task and closed when it stops."""

    def __init__(self, ctx: StreamContext, settings: NotifierSettings) -> None:
        self.ctx = ctx
        self.settings = settings
        self.tiers = retry_tiers(settings.retry_schedule)
        self._ready: asyncio.Future[Delivering] | None = None

    def _future(self) -> asyncio.Future[Delivering]:
        if self._ready is None:
            self._ready = asyncio.get_running_loop().create_future()
        return self._ready

    async def delivering(self) -> Delivering:
        return await asyncio.shield(self._future())

    @contextlib.asynccontextmanager
    async def opened(self) -> AsyncIterator[Delivering]:
        publisher = await self.ctx.publisher()
        await publisher.serde.register(*self.tiers)  # a scaled-down schedule has tiers of its own
        bootstrap = self.settings.pipeline.endpoints.kafka_bootstrap
        security = self.settings.pipeline.endpoints.kafka_security
        client_id = f"{self.settings.pipeline.app_prefix}-notifier"
        provider = FileKeyProvider.load(self.settings.key_dir)  # the mounted key-encryption keys
        gate = EndpointGate(health_policy(self.settings), on_change=SharedHealth(publisher).publish)
        async with (
            new_http_client(self.settings) as client,
            follow_disabled_endpoints(bootstrap, publisher.serde, security) as endpoints,
            following_tenant_webhooks(bootstrap, publisher.serde, client_id, provider, security) as tenants,
            following_job_keys(
                bootstrap,
                publisher.serde,
                provider,
                client_id,
                security,
                # the job.deleted webhook, written just before the key's tombstone, can still be addressed
                # to the job's own URL for this long (REELSTREAM_WEBHOOK_DELETED_KEY_GRACE_SECONDS)
                shred_delay=self.settings.deleted_key_grace_seconds,
            ) as fields,
            following_endpoint_health(bootstrap, publisher.serde, gate.health, client_id, security),
        ):
            throttle = ProgressThrottle(self.settings.progress_min_interval_seconds)
            delivering = Delivering(
                self.ctx, self.settings, client, endpoints, tenants, gate, fields, progress=throttle
            )
            self._future().set_result(delivering)
            yield delivering


def health_policy(settings: NotifierSettings) -> HealthPolicy:
    """Each endpoint's bound and backoff: a failing endpoint waits out the retry schedule's delays."""
    return HealthPolicy(
        max_in_flight=settings.endpoint_max_in_flight,
        backoff=settings.retry_schedule[1:],
        retry_after_max=settings.retry_after_max_seconds,
        disable_after=settings.disable_after_seconds,
    )


async def handle(ctx: StreamContext, resources: Resources, record: faust.EventT[bytes]) -> None:
    """One record of jobs.events: decode, and make the first attempts if it is a notifiable event."""
    event = await ctx.decoded(JOB_EVENTS, record)
    if event is None:
        return
    check_job_event(event)  # InvalidRecordError: parked by the agent's dead-lettering
    if not endpoint_notifies(event):
        return
    source = source_of(record.message)
    delivering = await resources.delivering()
    await delivering.first_attempt(event, source, traceparent_of(record.message.headers))


async def handle_ping(ctx: StreamContext, resources: Resources, record: faust.EventT[bytes]) -> None:
    """One record of webhooks.pings: the ping's first attempt."""
    ping = await ctx.decoded(WEBHOOK_PINGS, record)
    if ping is None:
        return
    check_ping(ping)
    source = source_of(record.message)
    delivering = await resources.delivering()
    await delivering.ping(ping, source)


async def handle_resend(ctx: StreamContext, resources: Resources, record: faust.EventT[bytes]) -> None:
    """One record of webhooks.resends: the resent delivery's attempt (its webhook-id kept)."""
    request = await ctx.decoded(WEBHOOK_RESENDS, record)
    if request is None:
        return
    check_webhook_request(request)
    if request.endpoint_id is None:  # only a registered endpoint's deliveries are logged and resent
        raise InvalidRecordError(f"resend {request.event_id} names no endpoint")
    delivering = await resources.delivering()
    await delivering.resend(request, source_of(record.message))


async def handle_retry(
    resources: Resources, delivering: Delivering, record: ConsumerRecord[bytes, bytes]
) -> float | None:
    """One record of a retry tier: the time it becomes due if that is ahead, else attempt it (None)."""
    source = source_of(record)
    tier: Topic[RetryWebhook] = next(t for t in resources.tiers if t.name == record.topic)
    publisher = await resources.ctx.publisher()
    try:
        request = await publisher.serde.deserialize(tier, record.value or b"")
    except SerializationError as exc:
        await delivering.park(source, exc)
        return None
    try:
        check_webhook_request(request)
    except InvalidRecordError as exc:
        await delivering.park(source, exc)
        return None
    due = request.due_at.timestamp()
    if due > time.time():
        return due
    with linked_span("webhook retry", request.traceparent, {"job_id": key_of(request)}):
        try:
            await delivering.retry(request, source)
        except ReelstreamError as exc:
            if exc.retriable:
                raise
            await delivering.park(source, exc)
    return None


async def run_retry_tiers(resources: Resources) -> None:
    """The retry-tier loop, with its own consumer group (offsets only; partitions are shared by members)."""
    settings = resources.settings
    consumer = AIOKafkaConsumer(
        bootstrap_servers=settings.pipeline.endpoints.kafka_bootstrap,
        **settings.pipeline.endpoints.kafka_security.aiokafka(),
        group_id=f"{settings.pipeline.app_prefix}-notifier-retries",
        client_id=f"{settings.pipeline.app_prefix}-notifier-retries",
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        session_timeout_ms=10_000,
        heartbeat_interval_ms=1_000,
    )
    async with resources.opened() as delivering:
        await consumer.start()
        try:
            loop = TierConsumer(consumer, lambda record: handle_retry(resources, delivering, record))
            loop.subscribe([t.name for t in resources.tiers])
            log.info("following %d retry tiers", len(resources.tiers))
            try:
                await loop.run()
            finally:
                await loop.abandon()  # before the consumer stops: nothing commits while it closes
        finally:
            await consumer.stop()


def build_notifier(settings: NotifierSettings, metrics: Metrics | None = None) -> faust.App:
    check_schedule(settings.retry_schedule)
    app = create_app("notifier", settings.pipeline)
    ctx = StreamContext(app, settings.pipeline, "notifier", metrics)
    ctx.metrics.expect_topics([JOB_EVENTS.name, WEBHOOK_PINGS.name, WEBHOOK_RESENDS.name])
    ctx.metrics.expect_webhooks()
    resources = Resources(ctx, settings)

    @app.agent(faust_topic(app, JOB_EVENTS), name="webhooks", concurrency=settings.max_in_flight)
    async def send_webhooks(stream: faust.StreamT[bytes]) -> None:
        records: AsyncIterable[faust.EventT[bytes]] = stream.events()
        async for record in records:
            async with ctx.dead_lettering(record):
                await handle(ctx, resources, record)

    @app.agent(faust_topic(app, WEBHOOK_PINGS), name="webhook-pings")
    async def send_pings(stream: faust.StreamT[bytes]) -> None:
        records: AsyncIterable[faust.EventT[bytes]] = stream.events()
        async for record in records:
            async with ctx.dead_lettering(record):
                await handle_ping(ctx, resources, record)

    @app.agent(faust_topic(app, WEBHOOK_RESENDS), name="webhook-resends")
    async def send_resends(stream: faust.StreamT[bytes]) -> None:
        records: AsyncIterable[faust.EventT[bytes]] = stream.events()
        async for record in records:
            async with ctx.dead_lettering(record):
                await handle_resend(ctx, resources, record)

    @app.task  # type: ignore[untyped-decorator]
    async def retry_tiers_task() -> None:
        try:
            await run_retry_tiers(resources)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # the notifier cannot work without it: stop the worker, loudly
            log.exception("the retry-tier loop failed")
            await app.crash(exc)

    return app


async def ensure_retry_tiers(settings: NotifierSettings) -> list[str]:
    """The retry tiers of the configured schedule (it may name tiers not declared), with
    REELSTREAM_REPLICATION_FACTOR replicas; the names created."""
    tiers = retry_tiers(settings.retry_schedule)
    pipeline = settings.pipeline
    endpoints = pipeline.endpoints
    return await ensure_topics(
        endpoints.kafka_bootstrap, tiers, pipeline.replication_factor, endpoints.kafka_security
    )


def main() -> None:
    settings = or_exit("reelstream-notifier", lambda: NotifierSettings.from_env(os.environ))
    or_exit("reelstream-notifier", lambda: check_schedule(settings.retry_schedule))
    configure_tracing("reelstream-notifier", os.environ)
    metrics = Metrics(settings.pipeline.metrics.tenant_classes)
    asyncio.run(ensure_retry_tiers(settings))
    app = build_notifier(settings, metrics)
    # the worker stops cleanly on SIGTERM (and SIGINT)
    run_worker(app, settings.pipeline, metrics)


if __name__ == "__main__":
    main()
