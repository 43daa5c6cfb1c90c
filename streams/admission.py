"""`reelstream-admission`: the Faust adapter around streams.admission_service, partitioned by tenant.

It remembers the pool of every job id it admitted in a changelog-backed table sharded like the commands
topic, which is what makes duplicate submissions droppable and cancellations routable. The scheduler says
on the same topic, in the tenant's partition, when an admitted job finished (JobFinished): that frees the
job's place in its tenant's queue, once.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from functools import partial
from typing import Any

import faust

from reelstream.config import load_config, or_exit
from reelstream.kafka.clients import Publisher
from reelstream.long_jobs import LongJobEstimator
from reelstream.metrics import Metrics
from reelstream.settings import PipelineSettings
from reelstream.tracing import configure_tracing
from schemas.topics import COMMANDS
from streams.admission_policy import PoolCapacity
from streams.admission_service import AdmissionService, Output, Record, Rejection
from streams.app import StreamContext, create_app, faust_topic, run_worker
from streams.faust_compensation import Inbox, LogReader, take_acked_when_written
from streams.job_sealing import SealingResource
from streams.limit_settings import TenantLimitSource
from streams.long_job_tracking import LongJobTracker
from streams.publishing import publish_change
from streams.tenant_quota import GpuBudget, TenantQuota

logger = logging.getLogger(__name__)


def build_admission(
    settings: PipelineSettings, pool_id: str = "default", metrics: Metrics | None = None
) -> faust.App:
    # a 5 ms linger lets the records of commands taken in turn go out together: 10,000-command bursts
    # went from ~800 to ~940 JobAdmitted/s (bench/stream_stages.py, two runs each)
    app = create_app("admission", settings, producer_linger=0.005)
    ctx = StreamContext(app, settings, "admission", metrics)
    ctx.metrics.expect_topics([COMMANDS.name])
    store = TableStore(
        pools=app.Table("job-pools", key_type=bytes, value_type=bytes, partitions=COMMANDS.partitions),
        # per tenant: its token bucket and its count of admitted, not yet terminal jobs (TenantQuota.encode)
        quotas=app.Table("tenant-quotas", key_type=bytes, value_type=bytes, partitions=COMMANDS.partitions),
        # per admitted job until it finishes: the GPU seconds its tenant's budget was charged (refunds)
        charges=app.Table("job-charges", key_type=bytes, value_type=bytes, partitions=COMMANDS.partitions),
    )
    limits = TenantLimitSource(settings.tenant_limits)  # configured, replaced by admin-set ones
    service = AdmissionService(
        pool_id=pool_id,
        capacity=PoolCapacity(models=settings.pool_models, max_work_units=settings.pool_max_work_units),
        default_model=settings.default_model,
        limits_of=limits.of,
        pool_partition=settings.pool_partition,
        counted=ctx.metrics.admission_decision,
        models=settings.models,
        long_jobs=LongJobTracker(
            LongJobEstimator(settings.long_job_seconds, settings.long_job_probability),
            judged=ctx.metrics.long_job_outcome,
        ),
        gpu_budget=(
            GpuBudget(settings.tenant_gpu_seconds, settings.tenant_budget_window_seconds)
            if settings.tenant_gpu_seconds is not None
            else None
        ),
        targets=settings.webhook_targets,
    )
    ctx.metrics.expect_models(settings.models.ids)

    app.task(_limit_follower(ctx, limits, service, store))
    sealing = SealingResource(settings)

    async def follow_job_keys() -> None:
        """The tenants' and jobs' keys, to open what ingest sealed and seal what a Kafka client did not."""
        await sealing.follow(await ctx.publisher())

    app.task(follow_job_keys)

    inbox = Inbox.of_app(
        app,
        LogReader(settings.endpoints.kafka_bootstrap, COMMANDS, security=settings.endpoints.kafka_security),
    )

    @app.agent(faust_topic(app, COMMANDS))
    async def admit(stream: faust.StreamT[bytes]) -> None:
        """Commands in turn, each acknowledged once what it produced is (faust_compensation)."""
        await limits.ready.wait()  # admin-set limits replayed: never judge by limits an admin replaced
        await take_acked_when_written(stream, inbox, partial(_admit_one, ctx, service, store, sealing))

    return app


def _limit_follower(
    ctx: StreamContext, limits: TenantLimitSource, service: AdmissionService, store: TableStore
) -> Callable[[], Awaitable[None]]:
    async def follow_limit_settings() -> None:
        """Replay the admin-set limits, then republish the state of each tenant whose limits change."""
        endpoints = ctx.settings.endpoints
        view = await limits.start(
            endpoints.kafka_bootstrap, (await ctx.publisher()).serde, endpoints.kafka_security
        )
        try:
            while True:
                tenant_id = await view.changed.get()
                quota = store.quota(tenant_id)
                if quota is not None:
                    for record in service.limit_state(tenant_id, quota, time.time()):
                        await _publish(await ctx.publisher(), record)
        finally:
            await limits.stop()

    return follow_limit_settings


async def _admit_one(
    ctx: StreamContext,
    service: AdmissionService,
    store: TableStore,
    sealing: SealingResource,
    event: faust.EventT[bytes],
    sent: list[asyncio.Future[Any]],
) -> None:
    """One command, decided in clear; the records it produces (the job's fields sealed again) are queued
    into `sent` (a rejection's two records are published in turn: the snapshot before the event). A command
    it cannot admit (or whose job key never came) is dead-lettered."""
    async with ctx.dead_lettering(event):
        command = await ctx.decoded(COMMANDS, event)
        if command is not None:
            fields = await sealing.get()
            opened, key_id = await fields.opened(command)
            outputs = fields.sealed(service.handle(opened, store), key_id)
            await _write(await ctx.publisher(), outputs, sent)


@dataclass(frozen=True)
class TableStore:
    """AdmissionStore over admission's two changelog-backed tables (keys and values as bytes)."""

    pools: faust.types.TableT[bytes, bytes]
    quotas: faust.types.TableT[bytes, bytes]
    charges: faust.types.TableT[bytes, bytes]

    def pool(self, job_id: str) -> bytes | None:
        return self.pools.get(job_id.encode())

    def set_pool(self, job_id: str, stored: bytes) -> None:
        self.pools[job_id.encode()] = stored

    def charged(self, job_id: str) -> float | None:
        stored = self.charges.get(job_id.encode())
        return None if stored is None else float(stored)

    def set_charged(self, job_id: str, seconds: float | None) -> None:
        if seconds is not None:
            self.charges[job_id.encode()] = repr(seconds).encode()
        elif job_id.encode() in self.charges:
            del self.charges[job_id.encode()]

    def quota(self, tenant_id: str) -> TenantQuota | None:
        stored = self.quotas.get(tenant_id.encode())
        return None if stored is None else TenantQuota.decode(stored)

    def set_quota(self, tenant_id: str, quota: TenantQuota) -> None:
        self.quotas[tenant_id.encode()] = quota.encode()


async def _write(publisher: Publisher, outputs: list[Output], sent: list[asyncio.Future[Any]]) -> None:
    """Records queued into `sent`; a rejection published in turn."""
    for output in outputs:
        match output:
            case Record(topic, key, value, partition):
                sent.append(await publisher.enqueue(topic, key, value, partition))
            case Rejection(status, event_type):
                await publish_change(publisher, status, event_type)


async def _publish(publisher: Publisher, output: Output) -> None:
    match output:
        case Record(topic, key, value, partition):
            await publisher.publish(topic, key, value, partition)
        case Rejection(status, event_type):
            await publish_change(publisher, status, event_type)


def main() -> None:
    config = or_exit("reelstream-admission", lambda: load_config(os.environ))
    settings = or_exit("reelstream-admission", lambda: PipelineSettings.from_config(config))
    configure_tracing("reelstream-admission", os.environ)
    metrics = Metrics(settings.metrics.tenant_classes)
    app = build_admission(settings, config.values.pool or settings.pools[0], metrics)
    run_worker(app, settings, metrics)


if __name__ == "__main__":
    main()
