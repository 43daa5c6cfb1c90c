"""What the routes use, opened in the application's lifespan and closed in reverse order.

Nothing here does I/O at import or in a constructor: `open_context(settings)` starts the registry serde,
the idempotent producer, the local store (`reelstream.local_store`), the status, idempotency-key, limits
and API-key views and the presigning client, and yields them as one object. It loads the key-encryption
keys (REELSTREAM_KEY_DIR): API key records are MACed with them, tenants' webhook secrets sealed; once the
views have caught up, data keys still wrapped by an old key-encryption key are re-wrapped and legacy
plaintext webhook secrets sealed (`secure_at_rest`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from starlette.requests import HTTPConnection

from ingest.api_keys import KeyTable
from ingest.deletion import Clock, Deleter
from ingest.delivery_log_view import DeliveryLogView
from ingest.errors import NotReady, StorageUnavailable, TenantNotFound
from ingest.idempotency import InFlight
from ingest.idempotency_view import IdempotencyView
from ingest.key_store_view import KeyStoreView
from ingest.limits_view import LimitsView
from ingest.local_state import open_local_store, snapshotter
from ingest.pool_view import PoolView
from ingest.retention import Retention
from ingest.sealed_jobs import SealedJobs
from ingest.status_view import StatusView
from ingest.sweepers import Tombstone, sweep, sweep_forever, sweep_idempotency
from ingest.tenant_registry import TenantRegistryView, TenantTable
from ingest.usage_view import UsageView
from reelstream.crypto.job_keys_view import FieldOpener, JobKeyWriter
from reelstream.crypto.keys_view import KeyIssuer
from reelstream.crypto.provider import FileKeyProvider, KeyProvider
from reelstream.dlq import DeadLetterWriter
from reelstream.errors import ConfigurationError, ReelstreamError
from reelstream.kafka.acls import retention_group
from reelstream.kafka.clients import Publisher, SendsAndWaits, sender_of
from reelstream.kafka.compacted_view import CompactedView
from reelstream.kafka.lease import GroupLease
from reelstream.kafka.librdkafka import LibrdkafkaProducer
from reelstream.kafka.registry import ConfluentRegistry
from reelstream.object_store import ObjectStore, ObjectStoreError, minio_client
from reelstream.settings import IngestSettings
from reelstream.state_snapshot import RestoreOutcome
from reelstream.webhooks.delivery_log import DeliveryLog
from reelstream.webhooks.sealing import is_legacy, sealed
from reelstream.webhooks.tenant_views import TenantWebhooksViews
from reelstream.webhooks.tenants import record_key
from schemas.events import TenantRecord, utc_now
from schemas.serde import AvroSerde
from schemas.topics import (
    API_KEYS,
    COMMANDS,
    DEAD_LETTERS,
    IDEMPOTENCY,
    JOB_EVENTS,
    JOB_KEYS,
    JOB_STATUS,
    TENANT_KEYS,
    TENANT_LIMIT_SETTINGS,
    TENANT_LIMITS,
    TENANTS,
    USAGE_EVENTS,
    WEBHOOK_DELIVERIES,
    WEBHOOK_PINGS,
    WEBHOOK_REGISTRATIONS,
    WEBHOOK_RESENDS,
    WEBHOOK_SECRETS,
    Topic,
)

logger = logging.getLogger(__name__)

STAGE = "ingest"  # its dead-letter topic: records its views cannot apply (`reelstream.kafka.compacted_view`)

MAX_PRESIGN_TTL_SECONDS = 15 * 60
CONTEXT_KEY = "ingest"
TOMBSTONE_TIMEOUT_SECONDS = 10.0


class Presigner:
    """Signs time-limited GET URLs for artifacts (reelstream.object_store), its TTL capped."""

    def __init__(self, store: ObjectStore, ttl_seconds: int) -> None:
        self._store = store
        self.ttl_seconds = max(1, min(ttl_seconds, MAX_PRESIGN_TTL_SECONDS))

    async def url_for(self, key: str, attachment: str | None = None) -> str:
        try:
            return await self._store.presigned_get(key, timedelta(seconds=self.ttl_seconds), attachment)
        except ObjectStoreError as exc:
            raise StorageUnavailable(exc.message) from exc


@dataclass
class IngestContext:
    settings: IngestSettings
    publisher: Publisher
    view: StatusView
    presigner: Presigner
    keys: IdempotencyView
    key_provider: KeyProvider
    in_flight: InFlight = field(default_factory=InFlight)
    producer_started: bool = field(default=False)
    limits: LimitsView | None = None  # tenants' limit states (admission's); None: no 429s from ingest
    webhooks: TenantWebhooksViews | None = None  # tenants' webhook secrets and endpoints (admin routes)
    api_keys: KeyStoreView | None = None  # the key store; None: only configured keys and JWTs
    deleter: Deleter | None = None  # job deletion and retention (ingest.deletion)
    clock: Clock = utc_now  # what retention is measured by
    key_issuer: KeyIssuer | None = None  # tenants' data keys (sealing webhook secrets)
    usage: UsageView | None = None  # GPU usage per attempt (the usage routes)
    sealed_jobs: SealedJobs | None = None  # jobs' keys: sealing submissions, showing jobs, shredding

    def usage_view(self) -> UsageView:
        if self.usage is None or not self.usage.caught_up:
            raise NotReady("the usage view is not available on this replica yet")
        return self.usage

    tenants: TenantRegistryView | None = None  # the tenant registry; None: no tenant exists
    deliveries: DeliveryLogView | None = None  # the delivery log of registered endpoints (not in readiness)
    pools: PoolView | None = None  # the pools' snapshots (GET /v1/admin/pool; not in readiness)
    restored: RestoreOutcome | None = None  # what seeding the empty local store from a snapshot found

    def pool_view(self) -> PoolView:
        if self.pools is None or not self.pools.caught_up:
            raise NotReady("the pool view is not available on this replica yet")
        return self.pools

    def delivery_log(self) -> DeliveryLog:
        if self.deliveries is None or not self.deliveries.caught_up:
            raise NotReady("the webhook delivery log is not available on this replica yet")
        return self.deliveries.log

    @property
    def ready(self) -> bool:
        views: list[CompactedView[Any]] = [self.view, self.keys]
        views.extend(v for v in (self.limits, self.api_keys, self.usage, self.tenants) if v is not None)
        if self.webhooks is not None:
            views.extend(self.webhooks.views)
        if self.sealed_jobs is not None:
            views.extend(self.sealed_jobs.opener.views)
        return self.producer_started and all(v.running and v.caught_up for v in views)

    def tenant(self, tenant_id: str) -> TenantRecord:
        """The registry's record of a tenant; 404 when the operator never created it."""
        if self.tenants is None or not self.tenants.caught_up:
            raise NotReady("the tenant registry is still loading")
        record = self.tenants.table.live(tenant_id)
        if record is None:
            raise TenantNotFound(f"tenant {tenant_id} not found")
        return record


@contextlib.asynccontextmanager
async def open_context(
    settings: IngestSettings,
    key_table: KeyTable | None = None,
    tenant_table: TenantTable | None = None,
    clock: Clock = utc_now,
) -> AsyncIterator[IngestContext]:
    """`key_table`, `tenant_table`: where the key store's and the tenant registry's views put what they
    read (the authenticators read the same tables); `clock`: the time retention is measured by (tests move
    it forward)."""
    endpoints = settings.pipeline.endpoints
    if not settings.key_dir:
        raise ConfigurationError("REELSTREAM_KEY_DIR is not set")
    provider = FileKeyProvider.load(settings.key_dir)
    async with contextlib.AsyncExitStack() as stack:
        registry = ConfluentRegistry.of(endpoints)
        stack.push_async_callback(registry.aclose)
        serde = AvroSerde(registry)
        await serde.register(
            COMMANDS, JOB_STATUS, IDEMPOTENCY, TENANT_LIMITS, TENANT_LIMIT_SETTINGS, API_KEYS, TENANTS
        )
        await serde.register(
            TENANT_KEYS, WEBHOOK_SECRETS, WEBHOOK_REGISTRATIONS, WEBHOOK_PINGS, DEAD_LETTERS[STAGE]
        )
        await serde.register(WEBHOOK_RESENDS, WEBHOOK_DELIVERIES)
        await serde.register(JOB_EVENTS, USAGE_EVENTS, JOB_KEYS)

        producer = LibrdkafkaProducer(
            endpoints.kafka_bootstrap,
            "reelstream-ingest",
            delivery_timeout=settings.produce_timeout_seconds,
            security=endpoints.kafka_security,
        )
        await producer.start()
        stack.push_async_callback(producer.stop)
        publisher = Publisher(sender_of(producer), serde, timeout=settings.produce_timeout_seconds)

        dead_letters = DeadLetterWriter(STAGE, publisher)
        bootstrap, security = endpoints.kafka_bootstrap, endpoints.kafka_security
        store = ObjectStore(minio_client(endpoints), endpoints.s3_bucket)
        state, restored = await open_local_store(settings, store)  # a peer's snapshot seeds an empty disk
        stack.callback(state.close)  # after the views stopped
        keys = IdempotencyView(
            bootstrap,
            serde,
            state.namespace(b"idempotency"),
            security=security,
            max_age=settings.state_max_age_seconds,
        )
        limits = LimitsView(bootstrap, serde, security=security)
        webhooks = TenantWebhooksViews(bootstrap, serde, "reelstream-ingest", provider, security)
        issuer = KeyIssuer(webhooks.keyring, publisher)
        opener = FieldOpener(
            bootstrap,
            serde,
            webhooks.keyring,
            "reelstream-ingest",
            security,
            tenant_view=False,
            state=state.namespace(b"job-keys"),  # checkpointed: a restart reads only the tail
            max_age=settings.state_max_age_seconds,
        )
        sealed_jobs = SealedJobs(
            opener,
            JobKeyWriter(opener.job_keys, issuer, publisher, tombstone_sender(producer, JOB_KEYS)),
            tombstone_sender(producer, TENANT_KEYS),
        )
        tenants = TenantRegistryView(
            bootstrap,
            serde,
            tenant_table if tenant_table is not None else TenantTable(),
            security=security,
        )
        retention = platform_retention(settings)
        view = StatusView(
            bootstrap,
            serde,
            state.namespace(b"status"),
            retention=retention,
            retention_of=tenants.table.retention_lookup(retention),
            in_clear=sealed_jobs.in_clear,
            security=security,
            max_age=settings.state_max_age_seconds,
        )
        deleter = Deleter(
            publisher, store, tombstone_sender(producer, JOB_STATUS), view, clock, shred=sealed_jobs.shred_job
        )
        api_keys = KeyStoreView(
            bootstrap,
            serde,
            key_table if key_table is not None else KeyTable(),
            provider,
            security=security,
        )
        usage = UsageView(
            bootstrap,
            serde,
            state.namespace(b"usage"),
            security=security,
            max_age=settings.state_max_age_seconds,
        )
        log = DeliveryLog(settings.delivery_log_per_endpoint)
        deliveries = DeliveryLogView(bootstrap, serde, log, security=security)
        pools = PoolView(bootstrap, serde, security=security)
        followed_views: list[CompactedView[Any]] = [
            deliveries,
            view,
            keys,
            limits,
            *webhooks.views,
            *opener.views,
            api_keys,
            usage,
            tenants,
            pools,
        ]
        for followed in followed_views:
            followed.dead_letter_with(dead_letters.write)
        for started in (view, keys, limits, webhooks, opener, api_keys, usage, tenants, deliveries, pools):
            stack.push_async_callback(started.stop)
            await started.start()
        secure = asyncio.create_task(secure_at_rest(webhooks, issuer, publisher), name="secure at rest")
        stack.push_async_callback(_cancel, secure)
        grace = timedelta(seconds=settings.key_grace_seconds)
        drop_api_key, drop_idempotency = (
            tombstone_sender(producer, API_KEYS),
            tombstone_sender(producer, IDEMPOTENCY),
        )
        sweepers = (
            ("API key", lambda: sweep(api_keys.table, drop_api_key, grace)),
            ("idempotency key", lambda: sweep_idempotency(keys, drop_idempotency)),
        )
        for what, sweep_once in sweepers:
            task = asyncio.create_task(
                sweep_forever(what, sweep_once, settings.key_sweep_interval_seconds), name=f"{what} sweeper"
            )
            stack.push_async_callback(_cancel, task)
        lease = GroupLease(
            bootstrap,
            JOB_STATUS.name,
            retention_group(settings.pipeline.app_prefix),
            security=security,
            client_id="reelstream-ingest-retention",
        )
        stack.push_async_callback(lease.stop)
        await lease.start()
        sweeping = sweep_forever(
            "retention",
            lambda: deleter.sweep(view.expiries),
            settings.retention_sweep_interval_seconds,
            lease,  # one replica sweeps: the one assigned partition 0 of jobs.status in the group
        )
        for task in (
            asyncio.create_task(sweeping, name="retention sweeper"),
            asyncio.create_task(deleter.run_reaper(), name="deleted jobs' reaper"),
        ):
            stack.push_async_callback(_cancel, task)

        presigner = Presigner(store, settings.presign_ttl_seconds)
        context = IngestContext(
            settings,
            publisher,
            view,
            presigner,
            keys,
            provider,
            producer_started=True,
            limits=limits,
            api_keys=api_keys,
            deleter=deleter,
            clock=clock,
            key_issuer=issuer,
            usage=usage,
            tenants=tenants,
            sealed_jobs=sealed_jobs,
        )
        context.webhooks = webhooks
        context.deliveries = deliveries
        context.pools = pools
        context.restored = restored
        if (publisher_of_state := snapshotter(settings, state, store, lambda: context.ready)) is not None:
            snapshots = asyncio.create_task(publisher_of_state.run(), name="state snapshots")
            stack.push_async_callback(_cancel, snapshots)
        logger.info("ingest resources open")
        try:
            yield context
        finally:
            context.producer_started = False
            logger.info("ingest resources closing")


def platform_retention(settings: IngestSettings) -> Retention:
    return Retention(
        records=timedelta(seconds=settings.job_retention_seconds),
        videos=timedelta(seconds=settings.video_retention_seconds),
    )


async def secure_at_rest(views: TenantWebhooksViews, issuer: KeyIssuer, publisher: Publisher) -> None:
    """Once the views have caught up: re-wrap data keys still under an old key-encryption key, and seal the
    webhook secrets written in plaintext before secrets were sealed (the plaintext versions are gone from
    the compacted topic once the log cleaner has run). Idempotent: replicas doing it at once agree."""
    await views.wait_caught_up()
    try:
        rewrapped = await issuer.rewrap_stale()
        legacy = [record for record in views.state.all_secrets() if is_legacy(record)]
        for record in legacy:
            assert record.secret is not None
            await issuer.ensure(record.tenant_id)
            resealed = sealed(views.keyring, record, record.secret)
            await publisher.publish(WEBHOOK_SECRETS, record_key(record.tenant_id, record.secret_id), resealed)
            views.state.put_secret(resealed)
    except ReelstreamError as exc:  # the next start tries again; nothing is lost meanwhile
        logger.warning("securing secrets at rest failed: %s", exc.code)
        return
    if rewrapped or legacy:
        logger.info(
            "secured at rest: %d data keys re-wrapped, %d webhook secrets sealed", rewrapped, len(legacy)
        )


def tombstone_sender(producer: SendsAndWaits, topic: Topic[Any]) -> Tombstone:
    async def tombstone(key: str) -> None:
        async with asyncio.timeout(TOMBSTONE_TIMEOUT_SECONDS):
            await producer.send_and_wait(topic.name, None, key=key.encode())

    return tombstone


async def _cancel(task: asyncio.Task[None]) -> None:
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


def context_of(conn: HTTPConnection) -> IngestContext:
    """The resources of a request's application (the lifespan state)."""
    context = conn.scope["state"][CONTEXT_KEY]
    assert isinstance(context, IngestContext)
    return context
