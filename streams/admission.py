"""`reelstream-admission`: the Faust adapter around admission_policy, partitioned by tenant.

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
from dataclasses import replace
from typing import Any, cast

import faust

from reelstream.config import load_config, or_exit
from reelstream.kafka.pending_acks import PendingAcks
from reelstream.metrics import Metrics
from reelstream.settings import PipelineSettings
from reelstream.tracing import configure_tracing
from schemas.events import CancelRequested, Command, JobAdmitted, JobFinished, SubmitJob
from schemas.topics import COMMANDS, SCHEDULER_INBOX, TENANT_LIMITS
from streams.admission_policy import (
    Admit,
    Drop,
    ForwardCancel,
    PoolCapacity,
    Reject,
    Resend,
    decide,
    finished,
    has_finished,
    known_pool,
    rate_limited,
)
from streams.app import StreamContext, create_app, faust_topic, run_worker
from streams.invariants import check_command
from streams.limit_settings import TenantLimitSource
from streams.limit_state import StateThrottle
from streams.log_reader import Inbox, LogReader
from streams.publishing import publish_change
from streams.tenant_quota import Charged, OverLimit, TenantQuota, charge, released

logger = logging.getLogger(__name__)


def build_admission(
    settings: PipelineSettings, pool_id: str = "default", metrics: Metrics | None = None
) -> faust.App:
    # a 5 ms linger lets the records of commands taken in turn go out together: 10,000-command bursts
    # went from ~800 to ~940 JobAdmitted/s (bench/stream_stages.py, two runs each)
    app = create_app("admission", settings, producer_linger=0.005)
    capacity = PoolCapacity(models=settings.pool_models, max_work_units=settings.pool_max_work_units)
    ctx = StreamContext(app, settings, "admission", metrics)
    ctx.metrics.expect_topics([COMMANDS.name])
    pools = app.Table("job-pools", key_type=bytes, value_type=bytes, partitions=COMMANDS.partitions)
    # per tenant: its token bucket and its count of admitted, not yet terminal jobs (TenantQuota.encode)
    quotas = app.Table("tenant-quotas", key_type=bytes, value_type=bytes, partitions=COMMANDS.partitions)
    limits = TenantLimitSource(settings.tenant_limits)  # configured, replaced by admin-set ones
    throttle = StateThrottle()

    def charged(command: SubmitJob) -> Charged | OverLimit:
        stored = quotas.get(command.tenant_id.encode())
        verdict = charge(
            TenantQuota.decode(stored) if stored is not None else None,
            limits.of(command.tenant_id),
            command.occurred_at.timestamp(),
        )
        quotas[command.tenant_id.encode()] = verdict.quota.encode()
        return verdict

    async def publish_state(
        tenant_id: str, quota: TenantQuota, now: float, sent: list[asyncio.Future[Any]] | None = None
    ) -> None:
        """The tenant's limit state on reelstream.tenants.limits, when it changed materially; queued into
        `sent` when given (its ack awaited with the record's others), else published."""
        state = throttle.next_state(tenant_id, quota, limits.of(tenant_id), now)
        if state is not None:
            publisher = await ctx.publisher()
            if sent is None:
                await publisher.publish(TENANT_LIMITS, tenant_id, state)
            else:
                sent.append(await publisher.enqueue(TENANT_LIMITS, tenant_id, state))

    async def follow_limit_settings() -> None:
        """Replay the admin-set limits, then republish the state of each tenant whose limits change."""
        view = await limits.start(settings.endpoints.kafka_bootstrap, (await ctx.publisher()).serde)
        try:
            while True:
                tenant_id = await view.changed.get()
                stored = quotas.get(tenant_id.encode())
                if stored is not None:
                    await publish_state(tenant_id, TenantQuota.decode(stored), time.time())
        finally:
            await limits.stop()

    app.task(follow_limit_settings)

    async def admit_one(event: faust.EventT[bytes], sent: list[asyncio.Future[Any]]) -> None:
        """One command; what it produces is queued into `sent` (a rejection's two records are published in
        turn: the snapshot before the event)."""
        command = await ctx.decoded(COMMANDS, event)
        if command is None:
            return
        check_command(command)  # InvalidRecordError: parked by the caller's dead-lettering
        if isinstance(command, JobFinished):
            await release(command, sent)
            return
        stored = pools.get(command.job_id.encode())
        decision = decide(
            command,
            known_pool(stored),
            pool_id=pool_id,
            capacity=capacity,
            default_model=settings.default_model,
            job_finished=has_finished(stored),
            models=settings.models,
        )
        if isinstance(decision, Admit) and isinstance(command, SubmitJob):
            verdict = charged(command)
            await publish_state(command.tenant_id, verdict.quota, command.occurred_at.timestamp(), sent)
            if isinstance(verdict, OverLimit):
                decision = rate_limited(command, verdict.reason)
        ctx.metrics.admission_decision(type(decision).__name__.lower(), command.tenant_id)
        match decision:
            case Admit(admitted):
                pools[command.job_id.encode()] = pool_id.encode()
                await to_scheduler(capped(admitted), sent)
                logger.info("job admitted to pool %s", pool_id, extra=_ids(command))
            case Resend(admitted):
                await to_scheduler(capped(admitted), sent)
                logger.info("admission sent again (the submission came again)", extra=_ids(command))
            case ForwardCancel(request):
                await to_scheduler(request, sent)
            case Reject(rejection):
                pools[command.job_id.encode()] = b""
                await publish_change(await ctx.publisher(), rejection.status, rejection.type)
                reason = rejection.status.error.code if rejection.status.error else "rejected"
                logger.info("job rejected: %s", reason, extra=_ids(command))
            case Drop(reason):
                logger.info("dropped command: %s", reason, extra={"job_id": command.job_id})

    def capped(admitted: JobAdmitted) -> JobAdmitted:
        """With the tenant's running cap as it stands now (the scheduler enforces it)."""
        return replace(admitted, running_cap=limits.of(admitted.tenant_id).running)

    async def to_scheduler(record: JobAdmitted | CancelRequested, sent: list[asyncio.Future[Any]]) -> None:
        """Queued into the scheduler inbox's partition of the record's pool."""
        partition = settings.pool_partition(record.pool_id)
        publisher = await ctx.publisher()
        sent.append(await publisher.enqueue(SCHEDULER_INBOX, record.pool_id, record, partition))

    async def release(done: JobFinished, sent: list[asyncio.Future[Any]]) -> None:
        """The job's place in its tenant's queue is free, unless it was freed already."""
        after = finished(pools.get(done.job_id.encode()))
        if after is None:
            return
        pools[done.job_id.encode()] = after
        stored = quotas.get(done.tenant_id.encode())
        if stored is not None:
            quota = released(TenantQuota.decode(stored))
            quotas[done.tenant_id.encode()] = quota.encode()
            await publish_state(done.tenant_id, quota, done.occurred_at.timestamp(), sent)
        ctx.metrics.admission_decision("released", done.tenant_id)

    reader = LogReader(settings.endpoints.kafka_bootstrap, COMMANDS)
    app.on_before_shutdown.connect(reader.close_on_shutdown, weak=False)  # type: ignore[arg-type]
    inbox = Inbox(reader, app.conf.id)

    async def assigned(sender: Any, assigned: set[Any], **kwargs: Any) -> None:
        await inbox.assigned(sorted(tp.partition for tp in assigned if tp.topic == COMMANDS.name))

    async def revoked(sender: Any, revoked: set[Any], **kwargs: Any) -> None:
        inbox.revoked()

    app.on_partitions_assigned.connect(assigned, weak=False)  # type: ignore[arg-type]
    app.on_partitions_revoked.connect(revoked, weak=False)  # type: ignore[arg-type]

    @app.agent(faust_topic(app, COMMANDS))
    async def admit(stream: faust.StreamT[bytes]) -> None:
        """Commands in turn, without waiting for the broker between them: a command's offset becomes
        committable once every record it produced was acknowledged (reelstream.kafka.pending_acks). Those
        Faust does not hand over are read from the log (streams.log_reader.Inbox)."""
        await limits.ready.wait()  # admin-set limits replayed: never judge by limits an admin replaced
        pending = PendingAcks()

        async def take(record: faust.EventT[bytes]) -> None:
            await pending.room()
            sent: list[asyncio.Future[Any]] = []
            async with ctx.dead_lettering(record):
                await admit_one(record, sent)
            pending.track(sent, record.ack)

        watcher = asyncio.create_task(inbox.watch(take, pending.drained))
        try:
            commands = cast(faust.Stream[bytes], stream).noack()  # acked by `pending`; StreamT lacks noack
            async for event in commands.events():
                await inbox.handle(event, take, pending.drained)
        finally:
            watcher.cancel()

    return app


def _ids(command: Command) -> dict[str, str]:
    return {"job_id": command.job_id, "tenant_id": command.tenant_id}


def main() -> None:
    config = or_exit("reelstream-admission", lambda: load_config(os.environ))
    settings = or_exit("reelstream-admission", lambda: PipelineSettings.from_config(config))
    configure_tracing("reelstream-admission", os.environ)
    metrics = Metrics(settings.metrics.tenant_classes)
    app = build_admission(settings, config.values.pool or settings.pools[0], metrics)
    run_worker(app, settings, metrics)


if __name__ == "__main__":
    main()
