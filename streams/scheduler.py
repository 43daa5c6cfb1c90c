"""`reelstream-scheduler`: the Faust adapter that feeds the pool's inbox through `scheduling.apply`.

The inbox has one partition per pool, so one agent instance sees everything of its pool in one order. The
state lives in a changelog-backed table, one entry per job plus the pool's index (pool_store.py), and in
memory between events. What an event decides is written behind the agent in batches (group_commit.py):
outputs are acknowledged before the state that follows them is stored, so a crash repeats outputs rather
than losing them (consumers dedupe by version/attempt), and the agent never waits for a round trip per event.

The state also holds the inbox offset it has applied, and that, not the group's committed offset, decides
what is applied next: a redelivered record is skipped, and when the records handed over skip ahead (Faust
acks, and may commit, records it drops during a rebalance) the ones between are read from the log first.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from functools import partial
from types import MappingProxyType
from typing import Any

import faust

from reelstream.config import or_exit
from reelstream.kafka.clients import BrokerUnavailableError, riding_out_outages
from reelstream.lag import LagExporter
from reelstream.metrics import Metrics
from reelstream.settings import SchedulerSettings
from reelstream.tracing import TraceLinks, configure_tracing, current_traceparent
from schemas.events import JobAdmitted, SchedulerTick
from schemas.topics import SCHEDULER_INBOX
from streams.app import StreamContext, create_app, faust_topic, run_worker
from streams.fair_queue import SchedulerPolicy
from streams.group_commit import GroupCommit, WriterCrashed, decided
from streams.invariants import check_inbox_event
from streams.log_reader import InboxOrder, LogReader, inbox_order
from streams.pool_store import PoolImage, Write, persist, restore
from streams.scheduling import Output, SendToSlot, apply_noting_changes, as_of

logger = logging.getLogger(__name__)
CATCH_UP_ALLOWANCE = timedelta(seconds=2)  # an inbox record read later than this is applied as of now - 2 s


def policy_from(settings: SchedulerSettings) -> SchedulerPolicy:
    return SchedulerPolicy(
        weights=MappingProxyType(dict(settings.tenant_weights)),
        lease=timedelta(seconds=settings.lease_seconds),
        max_attempts=settings.max_attempts,
        aging_factor=settings.aging_factor,
        retry_backoff=timedelta(seconds=settings.retry_backoff_seconds),
        retry_backoff_max=timedelta(seconds=settings.retry_backoff_max_seconds),
    )


def build_scheduler(scheduler_settings: SchedulerSettings, metrics: Metrics | None = None) -> faust.App:
    settings = scheduler_settings.pipeline
    policy = policy_from(scheduler_settings)
    # records of one batch (group_commit) go out together: a 5 ms linger took a 10,000-job burst from
    # ~1,060 to ~1,390 events/s (bench/stream_stages.py --scheduler-only); it adds at most 5 ms per write
    instance_id = scheduler_settings.instance_id
    app = create_app("scheduler", settings, consumer_group_instance_id=instance_id, producer_linger=0.005)
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

    @app.task  # type: ignore[untyped-decorator]
    async def warm_publisher() -> None:
        """Register the schemas while the group forms and the table recovers, not on the first event."""
        await ctx.publisher()

    @app.timer(interval=scheduler_settings.tick_seconds)  # type: ignore[untyped-decorator]
    async def tick() -> None:
        """Time enters the inbox as events, ordered with everything else (standbys tick too: harmless)."""
        publisher = await ctx.publisher()
        for pool_id in settings.pools:
            tick = SchedulerTick(pool_id=pool_id)
            try:
                await publisher.publish(
                    SCHEDULER_INBOX, pool_id, tick, partition=settings.pool_partition(pool_id)
                )
            except BrokerUnavailableError:  # a lost tick is made up by the next one; a crashed timer is not
                logger.warning("scheduler tick not published: the broker is unavailable")

    states = app.Table("pool-state", key_type=bytes, value_type=bytes, partitions=SCHEDULER_INBOX.partitions)
    images: dict[str, PoolImage] = {}  # each pool's state in memory, rebuilt from the table when assigned
    _log_recovery(app, images)

    def image_of(pool_id: str) -> PoolImage:
        image = images.get(pool_id)
        if image is None:
            image, repairs = restore(pool_id, states.items())
            _write_table(states, repairs)
            images[pool_id] = image
            logger.info(
                "scheduler state restored",
                extra={"pool": pool_id, "jobs": len(image.state.jobs), "repaired": len(repairs)},
            )
        return image

    links = TraceLinks()  # job id → its JobAdmitted's processing span; in memory (lost on restart)
    reader = LogReader(settings.endpoints.kafka_bootstrap, SCHEDULER_INBOX)
    app.on_before_shutdown.connect(reader.close_on_shutdown, weak=False)  # type: ignore[arg-type]
    commits = {pool_id: GroupCommit(ctx.publisher) for pool_id in settings.pools}  # one writer per pool
    _drop_unwritten_on_rebalance(app, commits)

    async def close_writers(sender: Any, *args: Any, **kwargs: Any) -> None:
        for commit in commits.values():
            await commit.close()  # what was not written is decided again by the next owner

    app.on_before_shutdown.connect(close_writers, weak=False)  # type: ignore[arg-type]

    async def handle(record: faust.EventT[bytes], pool_id: str) -> None:
        image, offset = image_of(pool_id), record.message.offset
        _write_table(states, commits[pool_id].durable())  # earlier events', now that the broker has theirs
        async with ctx.dead_lettering(record):
            inbox_event = await ctx.decoded(SCHEDULER_INBOX, record)
            if inbox_event is not None:
                check_inbox_event(inbox_event, pool_id)
                if isinstance(inbox_event, JobAdmitted):
                    links.remember(inbox_event.job_id, current_traceparent())
                inbox_event = as_of(inbox_event, datetime.now(UTC), CATCH_UP_ALLOWANCE)
                state, outputs, changed = apply_noting_changes(image.state, inbox_event, policy)
                images[pool_id], writes = persist(image, state, offset, changed)
                traces = _traces(outputs, links, getattr(inbox_event, "job_id", None))
                try:
                    await commits[pool_id].hand(decided(outputs, traces, writes))
                except WriterCrashed:  # decide again from the table's state: the next record restores it
                    images.pop(pool_id, None)
                    raise
                ctx.metrics.scheduler_outputs(pool_id, outputs)
                if isinstance(inbox_event, SchedulerTick):  # a look at every job: once a tick
                    ctx.metrics.scheduler_state(state)
        images[pool_id] = image_of(pool_id).at(offset)  # a dead letter is consumed too

    async def take(record: faust.EventT[bytes], pool_id: str) -> None:
        """Apply `record`, first reading from the log whatever it skipped ahead of (see LogReader)."""
        partition, offset = record.message.partition, record.message.offset
        applied = image_of(pool_id).offset
        match inbox_order(applied if applied >= 0 else None, offset):
            case InboxOrder.SEEN:
                return
            case InboxOrder.AHEAD:
                missed = await reader.read(partition, applied + 1, offset)
                fields = {"partition": partition, "expected_offset": applied + 1, "offset": offset}
                logger.warning("scheduler inbox skipped ahead; read the records between", extra=fields)
                for earlier in missed:
                    await handle(earlier, pool_id)
        await handle(record, pool_id)

    @app.agent(faust_topic(app, SCHEDULER_INBOX))
    async def schedule(stream: faust.StreamT[bytes]) -> None:
        async for event in stream.events():
            pool_id = settings.pools[event.message.partition]
            # an outage must not end the agent (Faust would leave the process running with none consuming
            # the inbox); a record tried again is safe: the state changes only after its outputs were
            # acknowledged, and outputs written twice carry the same versions
            await riding_out_outages(partial(take, event, pool_id))

    return app


def _traces(outputs: list[Output], links: TraceLinks, current_job: str | None) -> list[str | None]:
    """The trace each output continues: the record being processed for its own job's outputs; for any other
    job's (a dispatch freed by another job's end, a lease expiry on a tick) the trace its JobAdmitted
    carried, remembered in `links` (the pure scheduler state knows nothing of traces)."""
    here = current_traceparent()
    jobs = (o.command.job_id if isinstance(o, SendToSlot) else o.status.job_id for o in outputs)
    return [here if job_id == current_job and here is not None else links.get(job_id) for job_id in jobs]


def _drop_unwritten_on_rebalance(app: faust.App, commits: dict[str, GroupCommit]) -> None:
    """Partitions revoked: what was decided and is not in the table yet is forgotten (the states in memory
    are dropped on assignment, and the table is what the pools' owners restore)."""

    async def revoked(sender: Any, revoked: set[Any], **kwargs: Any) -> None:
        for pool_id, commit in commits.items():
            if commit.pending:
                fields = {"pool": pool_id, "events": commit.pending}
                logger.info("rebalance: dropping events decided but not written", extra=fields)
            commit.drop()

    app.on_partitions_revoked.connect(revoked, weak=False)  # type: ignore[arg-type]


def _write_table(table: faust.types.TableT[bytes, bytes], writes: Sequence[Write]) -> None:
    for key, value in writes:
        if value is not None:
            table[key] = value
        elif key in table:
            del table[key]  # a tombstone in the changelog


def _log_recovery(app: faust.App, images: dict[str, PoolImage]) -> None:
    """When the inbox's partitions arrive and when their table is recovered: the two halves of a restart.
    States held in memory are dropped on assignment: the table is what the pool's new owner restores."""

    async def assigned(sender: Any, assigned: set[Any], **kwargs: Any) -> None:
        images.clear()
        inbox = sorted(tp.partition for tp in assigned if tp.topic == SCHEDULER_INBOX.name)
        logger.info("scheduler partitions assigned", extra={"partitions": inbox})

    async def recovered(sender: Any, **kwargs: Any) -> None:
        logger.info("scheduler state recovered")

    app.on_partitions_assigned.connect(assigned, weak=False)  # type: ignore[arg-type]
    app.on_rebalance_complete.connect(recovered, weak=False)  # type: ignore[arg-type]


def main() -> None:
    settings = or_exit("reelstream-scheduler", lambda: SchedulerSettings.from_env(os.environ))
    configure_tracing("reelstream-scheduler", os.environ)
    metrics = Metrics(settings.pipeline.metrics.tenant_classes)
    run_worker(build_scheduler(settings, metrics), settings.pipeline, metrics)


if __name__ == "__main__":
    main()
