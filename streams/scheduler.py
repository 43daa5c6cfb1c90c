"""`reelstream-scheduler`: the Faust adapter that feeds the pool's inbox to streams.scheduler_service.

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
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import partial
from types import MappingProxyType
from typing import Any

import faust

from reelstream.config import or_exit
from reelstream.errors import ReelstreamError
from reelstream.kafka.clients import BrokerUnavailableError, riding_out_outages
from reelstream.lag import LagExporter
from reelstream.metrics import Metrics
from reelstream.settings import SchedulerSettings
from reelstream.tracing import configure_tracing, current_traceparent
from schemas.events import SchedulerTick
from schemas.topics import POOL_STATE, SCHEDULER_INBOX
from streams.app import StreamContext, create_app, faust_topic, run_worker
from streams.fair_queue import SchedulerPolicy
from streams.faust_compensation import LogReader, connect
from streams.group_commit import GroupCommit, WriterCrashed
from streams.inbox_order import InboxOrder
from streams.pool_snapshot import SnapshotThrottle
from streams.pool_store import Write
from streams.scheduler_service import SchedulerService
from streams.scheduler_state import SchedulerState

logger = logging.getLogger(__name__)


def policy_from(settings: SchedulerSettings) -> SchedulerPolicy:
    return SchedulerPolicy(
        weights=MappingProxyType(dict(settings.tenant_weights)),
        lease=timedelta(seconds=settings.lease_seconds),
        max_attempts=settings.max_attempts,
        aging_factor=settings.aging_factor,
        long_aging_factor=settings.long_aging_factor,
        long_retry_deadline_multiple=settings.long_retry_deadline_multiple,
        retry_backoff=timedelta(seconds=settings.retry_backoff_seconds),
        retry_backoff_max=timedelta(seconds=settings.retry_backoff_max_seconds),
        max_slot_share=settings.max_slot_share if settings.max_slot_share < 1 else None,
        gang_max_slots=settings.gang_max_slots,
        model_gang_slots=MappingProxyType(
            {spec.id: spec.max_gang_slots for spec in settings.pipeline.models}
        ),
        max_finishing=settings.max_finishing,
    )


def build_scheduler(scheduler_settings: SchedulerSettings, metrics: Metrics | None = None) -> faust.App:
    settings = scheduler_settings.pipeline
    # records of one batch (group_commit) go out together: a 5 ms linger took a 10,000-job burst from
    # ~1,060 to ~1,390 events/s (bench/stream_stages.py --scheduler-only); it adds at most 5 ms per write
    instance_id = scheduler_settings.instance_id
    app = create_app("scheduler", settings, consumer_group_instance_id=instance_id, producer_linger=0.005)
    ctx = StreamContext(app, settings, "scheduler", metrics)
    ctx.metrics.expect_topics([SCHEDULER_INBOX.name])
    ctx.metrics.expect_pools(settings.pools)
    _export_lag(app, ctx)
    _tick(app, ctx, scheduler_settings.tick_seconds)
    table = FaustPoolTable(
        app.Table("pool-state", key_type=bytes, value_type=bytes, partitions=SCHEDULER_INBOX.partitions)
    )
    service = SchedulerService(policy_from(scheduler_settings), table)  # states in memory, from the table
    snapshots = SnapshotThrottle(timedelta(seconds=scheduler_settings.pool_snapshot_min_interval_seconds))
    _log_recovery(app, service, snapshots)
    reader = LogReader(
        settings.endpoints.kafka_bootstrap, SCHEDULER_INBOX, security=settings.endpoints.kafka_security
    )
    connect(app.on_before_shutdown, reader.close_on_shutdown)
    commits = {pool_id: GroupCommit(ctx.publisher) for pool_id in settings.pools}  # one writer per pool
    _drop_unwritten_on_rebalance(app, commits)
    _close_writers_on_shutdown(app, commits)
    feed = InboxFeed(ctx, service, table, reader, commits, snapshots)

    @app.agent(faust_topic(app, SCHEDULER_INBOX))
    async def schedule(stream: faust.StreamT[bytes]) -> None:
        async for event in stream.events():
            pool_id = settings.pools[event.message.partition]
            # an outage must not end the agent (Faust would leave the process running with none consuming
            # the inbox); a record tried again is safe: the state changes only after its outputs were
            # acknowledged, and outputs written twice carry the same versions
            await riding_out_outages(partial(feed.take, event, pool_id))

    return app


@dataclass(frozen=True)
class InboxFeed:
    """Inbox records into the service, in offset order, what they decided to the pool's writer."""

    ctx: StreamContext
    service: SchedulerService
    table: FaustPoolTable
    reader: LogReader
    commits: dict[str, GroupCommit]
    snapshots: SnapshotThrottle

    async def take(self, record: faust.EventT[bytes], pool_id: str) -> None:
        """Apply `record`, first reading from the log whatever it skipped ahead of (see LogReader)."""
        partition, offset = record.message.partition, record.message.offset
        match self.service.order(pool_id, offset):
            case InboxOrder.SEEN:
                return
            case InboxOrder.AHEAD:
                applied = self.service.applied_offset(pool_id)
                missed = await self.reader.read(partition, applied + 1, offset)
                fields = {"partition": partition, "expected_offset": applied + 1, "offset": offset}
                logger.warning("scheduler inbox skipped ahead; read the records between", extra=fields)
                for earlier in missed:
                    await self.handle(earlier, pool_id)
        await self.handle(record, pool_id)

    async def handle(self, record: faust.EventT[bytes], pool_id: str) -> None:
        offset, commit, metrics = record.message.offset, self.commits[pool_id], self.ctx.metrics
        self.service.image(pool_id)
        self.table.write(commit.durable())  # earlier events', now that the broker has theirs
        state: SchedulerState | None = None
        async with self.ctx.dead_lettering(record):
            inbox_event = await self.ctx.decoded(SCHEDULER_INBOX, record)
            if inbox_event is not None:
                now, trace = datetime.now(UTC), current_traceparent()
                applied = self.service.decide(pool_id, inbox_event, offset, now, trace)
                try:
                    await commit.hand(applied.decided)
                except WriterCrashed:  # decide again from the table's state: the next record restores it
                    self.service.forget(pool_id)
                    raise
                metrics.scheduler_outputs(pool_id, applied.outputs)
                if isinstance(inbox_event, SchedulerTick):  # a look at every job: once a tick
                    metrics.scheduler_state(applied.state)
                state = applied.state
        self.service.consumed(pool_id, offset)  # a dead letter is consumed too
        if state is not None:  # outside the record's dead-lettering: a snapshot is never the record's fault
            await self.snapshot(state, datetime.now(UTC))

    async def snapshot(self, state: SchedulerState, now: datetime) -> None:
        """The pool's snapshot to reelstream.pools.state, when it changed and the interval has passed. A
        failed write is offered again with the next event (ticks included), never retried in line."""
        snapshot = self.snapshots.due(state, now)
        if snapshot is None:
            return
        publisher = await self.ctx.publisher()
        try:
            await publisher.publish(POOL_STATE, snapshot.pool_id, snapshot)
        except ReelstreamError as exc:  # the broker or the registry away: the pool's work goes on
            logger.warning("pool snapshot not published", extra={"pool": snapshot.pool_id, "error": exc.code})
            return
        self.snapshots.published(snapshot, now)


def _export_lag(app: faust.App, ctx: StreamContext) -> None:
    settings = ctx.settings
    lag = LagExporter(
        settings.endpoints.kafka_bootstrap,
        f"{settings.app_prefix}-",
        ctx.metrics.registry,
        settings.endpoints.kafka_security,
    )

    @app.timer(interval=settings.metrics.lag_interval_seconds)  # type: ignore[untyped-decorator]
    async def export_lag() -> None:
        """Consumer lag of the project's groups (see reelstream.lag); standbys export it too."""
        await lag.refresh()

    async def close_lag(sender: Any, *args: Any, **kwargs: Any) -> None:
        """The exporter's Kafka clients are closed with the app (none left for the garbage collector)."""
        await lag.close()

    connect(app.on_before_shutdown, close_lag)


def _tick(app: faust.App, ctx: StreamContext, interval: float) -> None:
    settings = ctx.settings

    @app.task  # type: ignore[untyped-decorator]
    async def warm_publisher() -> None:
        """Register the schemas while the group forms and the table recovers, not on the first event."""
        await ctx.publisher()

    @app.timer(interval=interval)  # type: ignore[untyped-decorator]
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


def _close_writers_on_shutdown(app: faust.App, commits: dict[str, GroupCommit]) -> None:
    async def close_writers(sender: Any, *args: Any, **kwargs: Any) -> None:
        for commit in commits.values():
            await commit.close()  # what was not written is decided again by the next owner

    connect(app.on_before_shutdown, close_writers)


def _drop_unwritten_on_rebalance(app: faust.App, commits: dict[str, GroupCommit]) -> None:
    """Partitions revoked: what was decided and is not in the table yet is forgotten (the states in memory
    are dropped on assignment, and the table is what the pools' owners restore)."""

    async def revoked(sender: Any, revoked: set[Any], **kwargs: Any) -> None:
        for pool_id, commit in commits.items():
            if commit.pending:
                fields = {"pool": pool_id, "events": commit.pending}
                logger.info("rebalance: dropping events decided but not written", extra=fields)
            commit.drop()

    connect(app.on_partitions_revoked, revoked)


@dataclass(frozen=True)
class FaustPoolTable:
    """scheduler_service.PoolTable over the scheduler's changelog-backed table."""

    table: faust.types.TableT[bytes, bytes]

    def items(self) -> Iterable[tuple[bytes, bytes]]:
        return self.table.items()

    def write(self, writes: Sequence[Write]) -> None:
        for key, value in writes:
            if value is not None:
                self.table[key] = value
            elif key in self.table:
                del self.table[key]  # a tombstone in the changelog


def _log_recovery(app: faust.App, service: SchedulerService, snapshots: SnapshotThrottle) -> None:
    """When the inbox's partitions arrive and when their table is recovered: the two halves of a restart.
    States held in memory are dropped on assignment: the table is what the pool's new owner restores."""

    async def assigned(sender: Any, assigned: set[Any], **kwargs: Any) -> None:
        service.forget()
        snapshots.forget()  # the pools' owners publish their snapshots afresh
        inbox = sorted(tp.partition for tp in assigned if tp.topic == SCHEDULER_INBOX.name)
        logger.info("scheduler partitions assigned", extra={"partitions": inbox})

    async def recovered(sender: Any, **kwargs: Any) -> None:
        logger.info("scheduler state recovered")

    connect(app.on_partitions_assigned, assigned)
    connect(app.on_rebalance_complete, recovered)


def main() -> None:
    settings = or_exit("reelstream-scheduler", lambda: SchedulerSettings.from_env(os.environ))
    configure_tracing("reelstream-scheduler", os.environ)
    metrics = Metrics(settings.pipeline.metrics.tenant_classes)
    run_worker(build_scheduler(settings, metrics), settings.pipeline, metrics)


if __name__ == "__main__":
    main()
