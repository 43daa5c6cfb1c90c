"""`reelstream-scheduler`: the Faust adapter that feeds the pool's inbox through `scheduling.apply`.

The inbox has one partition per pool, so one agent instance sees everything of its pool in one order. The
state lives in changelog-backed tables (streams.pool_store: a record per pool and one per job); outputs are
written (and acknowledged) before the new state is stored, so a crash repeats outputs rather than losing them
(consumers dedupe by version/attempt).
"""

from __future__ import annotations

import logging
import os
from datetime import timedelta
from types import MappingProxyType
from typing import Any

import faust

from reelstream.kafka.clients import Publisher
from reelstream.lag import LagExporter
from reelstream.metrics import Metrics
from reelstream.settings import SchedulerSettings
from reelstream.tracing import TraceLinks, configure_tracing, current_traceparent, linked_span
from schemas.events import JobAdmitted, SchedulerTick
from schemas.topics import RENDER_DISPATCH, SCHEDULER_INBOX
from streams.app import StreamContext, create_app, faust_topic, run_worker
from streams.fair_queue import SchedulerPolicy
from streams.pool_store import PoolStore
from streams.publishing import publish_change
from streams.scheduling import Output, Publish, SendToSlot, apply

logger = logging.getLogger(__name__)


async def write_outputs(
    publisher: Publisher,
    outputs: list[Output],
    links: TraceLinks | None = None,
    current_job: str | None = None,
) -> None:
    """Outputs of the job whose record is being processed continue that record's trace; any other job's
    (a dispatch freed by another job's end, a lease expiry on a tick) continue the trace its JobAdmitted
    carried, remembered in `links`: the pure scheduler state knows nothing of traces."""
    for output in outputs:
        job_id = output.command.job_id if isinstance(output, SendToSlot) else output.status.job_id
        if links is None or (job_id == current_job and current_traceparent() is not None):
            await _write(publisher, output)
        else:
            with linked_span("scheduler publish", links.get(job_id)):
                await _write(publisher, output)


async def _write(publisher: Publisher, output: Output) -> None:
    match output:
        case SendToSlot(command):
            await publisher.publish(RENDER_DISPATCH, command.job_id, command, partition=command.slot)
        case Publish(status, event_type):
            await publish_change(publisher, status, event_type)


def policy_from(settings: SchedulerSettings) -> SchedulerPolicy:
    return SchedulerPolicy(
        weights=MappingProxyType(dict(settings.tenant_weights)),
        lease=timedelta(seconds=settings.lease_seconds),
        max_attempts=settings.max_attempts,
        aging_factor=settings.aging_factor,
    )


def build_scheduler(scheduler_settings: SchedulerSettings, metrics: Metrics | None = None) -> faust.App:
    settings = scheduler_settings.pipeline
    policy = policy_from(scheduler_settings)
    app = create_app("scheduler", settings)
    ctx = StreamContext(app, settings, "scheduler", metrics)
    ctx.metrics.expect_topics([SCHEDULER_INBOX.name])
    ctx.metrics.expect_pools(settings.pools)
    lag = LagExporter(settings.endpoints.kafka_bootstrap, f"{settings.app_prefix}-", ctx.metrics.registry)

    @app.timer(interval=settings.metrics.lag_interval_seconds)  # type: ignore[untyped-decorator]
    async def export_lag() -> None:
        """Consumer lag of the project's groups (see reelstream.lag); standbys export it too."""
        await lag.refresh()

    async def close_lag(sender: Any, *args: Any, **kwargs: Any) -> None:
        """The exporter's Kafka clients are closed with the app (none left for the garbage collector)."""
        await lag.close()

    # weak=False: held weakly, this closure would vanish at once; the ignore: mode types handlers with
    # mypy_extensions argument kinds that no `async def` matches
    app.on_before_shutdown.connect(close_lag, weak=False)  # type: ignore[arg-type]

    @app.timer(interval=scheduler_settings.tick_seconds)  # type: ignore[untyped-decorator]
    async def tick() -> None:
        """Time enters the inbox as events, ordered with everything else (standbys tick too: harmless)."""
        publisher = await ctx.publisher()
        for pool_id in settings.pools:
            await publisher.publish(
                SCHEDULER_INBOX,
                pool_id,
                SchedulerTick(pool_id=pool_id),
                partition=settings.pool_partition(pool_id),
            )

    states = app.Table("pool-state", key_type=bytes, value_type=bytes, partitions=SCHEDULER_INBOX.partitions)
    jobs = app.Table("pool-jobs", key_type=bytes, value_type=bytes, partitions=SCHEDULER_INBOX.partitions)
    store = PoolStore(states, jobs)  # written from the inbox event's partition: co-partitioned with its pool
    links = TraceLinks()  # job id → its JobAdmitted's processing span; in memory (lost on restart)

    @app.agent(faust_topic(app, SCHEDULER_INBOX))
    async def schedule(stream: faust.StreamT[bytes]) -> None:
        async for event in stream.events():
            async with ctx.dead_lettering(event):
                inbox_event = await ctx.decoded(SCHEDULER_INBOX, event)
                if inbox_event is None:
                    continue
                pool_id = settings.pools[event.message.partition]
                state = store.load(pool_id)
                if store.applied(pool_id, event.message.offset):
                    continue  # redelivered after its state was stored (offsets are committed in batches)
                if isinstance(inbox_event, JobAdmitted):
                    links.remember(inbox_event.job_id, current_traceparent())
                state, outputs = apply(state, inbox_event, policy)
                current_job = getattr(inbox_event, "job_id", None)
                await write_outputs(await ctx.publisher(), outputs, links, current_job)
                store.save(state, revision=event.message.offset)
                ctx.metrics.scheduler_outputs(pool_id, outputs)
                ctx.metrics.scheduler_state(state)

    return app


def main() -> None:
    settings = SchedulerSettings.from_env(os.environ)
    configure_tracing("reelstream-scheduler", os.environ)
    metrics = Metrics(settings.pipeline.metrics.tenant_classes)
    run_worker(build_scheduler(settings, metrics), settings.pipeline, metrics)


if __name__ == "__main__":
    main()
