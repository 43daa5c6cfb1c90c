"""The GPU worker loop: the only code that reads `render.dispatch`, and only its own slot's partition.

Partition `slot` is assigned manually (the group id only keeps offsets), so there is no group membership a
long render could lose. The loop keeps polling while a render runs in its thread: a CancelRender for the
current attempt is seen at once, and heartbeats keep telling the scheduler what this slot is doing.
The GPU takes the next dispatch while up to REELSTREAM_WORKER_MAX_FINISHING attempts finish (encode, verify,
upload) beside it: gpu_consumers/in_flight.py keeps them and commits their offsets in dispatch order.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import time
from collections import deque
from collections.abc import Awaitable, Callable
from functools import partial

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.structs import ConsumerRecord, OffsetAndMetadata

from gpu_consumers.gang_member import Gang, run_gang_attempt
from gpu_consumers.in_flight import Current, InFlight, a_gang_place, stale
from gpu_consumers.job import AttemptDeadline, run_attempt
from gpu_consumers.render.base import DeviceLost, Renderer
from gpu_consumers.render.compile_cache import compile_counts
from gpu_consumers.usage import UsageMeter
from reelstream.cost_model import DEFAULT_PRIOR, work_units
from reelstream.crypto.job_keys_view import FieldOpener
from reelstream.crypto.keyring import Keyring
from reelstream.crypto.provider import FileKeyProvider
from reelstream.dlq import DeadLetterWriter
from reelstream.errors import InvalidRecordError, ReelstreamError
from reelstream.kafka.clients import (
    BrokerUnavailableError,
    Publisher,
    RenewingProducer,
    riding_out_outages,
    sender_of,
)
from reelstream.kafka.consume_loop import ConsumeLoop, dead_lettering
from reelstream.kafka.registry import ConfluentRegistry
from reelstream.logs import log_context
from reelstream.metrics import Metrics, WorkerMetrics
from reelstream.object_store import ObjectStore, minio_client
from reelstream.settings import WorkerSettings
from reelstream.tracing import StageSpans, linked_span, traceparent_of
from reelstream.worker_speed_metrics import SlotSpeed
from schemas.events import (
    CancelRender,
    DispatchRender,
    ErrorInfo,
    GpuUsageRecorded,
    InboxEvent,
    RenderFailed,
    RenderProgress,
    RenderStage,
    RenderStarted,
    RenderSucceeded,
    WorkerHeartbeat,
    WorkerState,
    utc_now,
)
from schemas.serde import AvroSerde
from schemas.topics import ALL_TOPICS, RENDER_DISPATCH, SCHEDULER_INBOX, USAGE_EVENTS

logger = logging.getLogger(__name__)
STAGE = "worker"  # its dead-letter topic: dispatch records this slot cannot run
FINISH_STAGES = frozenset({RenderStage.ENCODE_VIDEO, RenderStage.UPLOAD})  # after the GPU work of a render


class Worker:
    def __init__(self, settings: WorkerSettings, renderer: Renderer, metrics: Metrics | None = None) -> None:
        self.settings = settings
        self.renderer = renderer
        self.worker_id = f"{socket.gethostname()}-{settings.pool_id}-slot{settings.slot}"
        self.flight = InFlight(settings.max_finishing)  # the GPU attempt and those in their finish
        self.pending: list[tuple[DispatchRender, int]] = []
        self.canceled_pending: set[tuple[str, int]] = set()
        self.recent: deque[tuple[str, int]] = deque(maxlen=1000)  # attempts this worker already ran
        self.traceparents: dict[tuple[str, int], str] = {}  # pending attempt → its dispatch's traceparent
        self._tp = TopicPartition(RENDER_DISPATCH.name, settings.slot)
        self.gpu_name = "cpu" if settings.device == "cpu" else settings.device
        self.metrics = WorkerMetrics(
            metrics or Metrics(), settings.pool_id, settings.slot, self.gpu_name, renderer.name
        )
        self.usage = UsageMeter(settings.pool_id, self.gpu_name)
        self._usage_published: deque[str] = deque(maxlen=1000)  # attempt ids whose usage the broker took
        self.fields: FieldOpener | None = None  # opens each job's sealed prompt (started by `run`)
        self.speed = SlotSpeed(self.metrics.metrics.worker_speed, settings.pool_id, settings.slot)

    def _count_compilations(self) -> None:
        """torch's compile counters into the slot's metrics: after the warm-up, and after each attempt (a
        shape no warm-up covered compiles on the fly, in its job)."""
        counts = compile_counts()
        self.speed.compiled(counts.cache_misses, counts.cache_hits)

    async def run(self, stop: asyncio.Event) -> None:
        """Serve the slot until `stop` is set; then finish the current attempt and return."""
        endpoints = self.settings.pipeline.endpoints
        registry = ConfluentRegistry.of(endpoints)
        serde = AvroSerde(registry)
        await serde.register(*ALL_TOPICS)
        producer = RenewingProducer(endpoints.kafka_bootstrap, self.worker_id, endpoints.kafka_security)
        consumer = AIOKafkaConsumer(
            bootstrap_servers=endpoints.kafka_bootstrap,
            **endpoints.kafka_security.aiokafka(),
            client_id=self.worker_id,
            enable_auto_commit=False,
            group_id=f"{self.settings.pipeline.app_prefix}-worker-{self.settings.pool_id}-slot{self.settings.slot}",
            auto_offset_reset="latest",
        )
        keyring = Keyring(FileKeyProvider.load(self.settings.pipeline.require_key_dir()))
        self.fields = FieldOpener(
            endpoints.kafka_bootstrap, serde, keyring, self.worker_id, endpoints.kafka_security
        )
        # the slot announces itself (heartbeats: the scheduler's view of it) only once this returns: after
        # the weights and, compile on, a warm-up of every shape the model serves (gpu_consumers.render.mochi)
        loading = time.monotonic()
        await asyncio.to_thread(self.renderer.load)
        self.speed.warmed_up(time.monotonic() - loading)
        self._count_compilations()
        await self.fields.start()
        await producer.start()
        await consumer.start()
        try:
            consumer.assign([self._tp])
            await consumer.position(self._tp)  # resolve where to start before announcing the slot
            publisher = Publisher(sender_of(producer), serde)
            store = ObjectStore(minio_client(endpoints), endpoints.s3_bucket)
            heartbeat = asyncio.create_task(self._heartbeats(publisher, stop))
            try:
                await self._consume(consumer, publisher, store, stop)
            finally:  # also when the device is lost: a dead slot must stop announcing itself
                heartbeat.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await heartbeat
        finally:
            await consumer.stop()
            await producer.stop()
            await self.fields.stop()
            await registry.aclose()

    async def _consume(
        self, consumer: AIOKafkaConsumer, publisher: Publisher, store: ObjectStore, stop: asyncio.Event
    ) -> None:
        dead_letters = DeadLetterWriter(STAGE, publisher, self.metrics.metrics.dead_lettered)
        loop = ConsumeLoop(
            consumer,
            partial(self._on_record, publisher=publisher),
            middleware=[dead_lettering(dead_letters)],  # what this slot cannot run, as it was read
            partitions=[self._tp],
            poll_ms=200,
            between_polls=partial(self._advance, consumer, publisher, store),
        )
        await loop.run(stop)
        running = [c.task for c in self.flight.all() if c.task is not None]
        if running:  # a finish is bounded: its upload tries four times, then the attempt fails
            logger.info("stopping: finishing the attempts in flight", extra={"attempts": len(running)})
            await asyncio.wait(running)
            await self._advance(consumer, publisher, store, start_next=False)

    async def _on_record(self, record: ConsumerRecord[bytes, bytes], publisher: Publisher) -> None:
        """Queue a dispatch, or note a cancellation. A record that cannot be deserialized, or that is for
        another slot, raises (SerializationError, InvalidRecordError): the loop dead-letters it."""
        offset = record.offset
        command = await publisher.serde.deserialize(RENDER_DISPATCH, record.value)
        if command.slot != self.settings.slot:  # a slot runs (and cancels) only what was addressed to it
            raise InvalidRecordError(f"{type(command).__name__} is for slot {command.slot}")
        if isinstance(command, DispatchRender):
            if command.gang_size > 1 and not a_gang_place(command):
                raise InvalidRecordError(f"a gang dispatch without its place (rank {command.gang_rank})")
            attempt = (command.job_id, command.attempt)
            known = {(c.job_id, c.attempt) for c, _ in self.pending} | set(self.recent)
            known.update(c.key for c in self.flight.all())
            if attempt in known:  # a redelivered dispatch (e.g. a scheduler that restarted): run it once
                logger.info(
                    "duplicate dispatch ignored", extra={"job_id": command.job_id, "attempt": command.attempt}
                )
                return
            self.pending.append((command, offset))
            traceparent = traceparent_of(record.headers)
            if traceparent is not None:
                self.traceparents[attempt] = traceparent
        elif isinstance(command, CancelRender):
            self._cancel(command)

    def _cancel(self, command: CancelRender) -> None:
        current = self.flight.find(command.job_id, command.attempt)  # in its GPU part or its finish
        if current is not None:
            current.canceled.set()
            return
        # not started yet: it will be reported canceled without rendering when its turn comes
        self.canceled_pending.add((command.job_id, command.attempt))

    async def _advance(
        self, consumer: AIOKafkaConsumer, publisher: Publisher, store: ObjectStore, start_next: bool = True
    ) -> None:
        """Commit the ended attempts' offsets (in dispatch order: in_flight.py) and start the next pending
        one once the GPU is free (its attempt ended, or is in its finish). Raises DeviceLost (after the
        attempt was reported) when the GPU is gone: the worker must exit, not take more work."""
        ended, commit = self.flight.take_done()
        if commit is not None:
            await consumer.commit({self._tp: OffsetAndMetadata(commit, "")})
        self.recent.extend(c.key for c in ended)
        if ended:
            self._count_compilations()
        for done in ended:
            lost = None if done.task is None or done.task.cancelled() else done.task.exception()
            if lost is not None and not isinstance(lost, DeviceLost):
                logger.error("attempt ended by an error", exc_info=lost, extra={"job_id": done.key[0]})
            if isinstance(lost, DeviceLost):
                raise type(lost)(f"slot {self.settings.slot}: {lost.message}") from lost  # RenderStuck too
        if self.flight.gpu is None and start_next:
            await self._skip_stale(consumer)
        if self.flight.gpu is None and self.pending and start_next:
            command, offset = self.pending.pop(0)
            current = self.flight.gpu = Current(command, offset)
            if current.key in self.canceled_pending:
                self.canceled_pending.discard(current.key)
                current.canceled.set()
            current.task = asyncio.create_task(
                self._traced(
                    current,
                    lambda: self._opened(
                        command,
                        publisher,
                        lambda opened: self._gang_or_alone(
                            opened,
                            current,
                            publisher,
                            lambda renderer: run_attempt(
                                opened,
                                renderer,
                                store,
                                lambda event: self._report(publisher, event),
                                current.canceled,
                                self.worker_id,
                                self.settings.progress_interval_seconds,
                                self._deadline(command),
                                partial(self._gpu_part_done, current),
                            ),
                        ),
                    ),
                )
            )

    def _gpu_part_done(self, current: Current) -> None:
        """The attempt's GPU part ended: the GPU is free for the next dispatch while it finishes, if it
        takes a finishing place (usage then bills its GPU part only: the next attempt bills the GPU's
        seconds from here on). Without a place it finishes on the GPU's time, as it always did."""
        now = time.monotonic()
        self.speed.gpu_done(now)
        if self.flight.to_finish(current):
            self.usage.gpu_done(current.command, now)
            self.metrics.gpu_part_done(*current.key, now)

    def _gang_or_alone(
        self,
        command: DispatchRender,
        current: Current,
        publisher: Publisher,
        attempt: Callable[[Renderer], Awaitable[None]],
    ) -> Awaitable[None]:
        """The attempt with this slot's renderer, or, for a gang dispatch, this slot's part in the gang
        (gpu_consumers.gang_member)."""
        if command.gang_size < 2:
            return attempt(self.renderer)
        gang = Gang(command, self.settings.gang, self.settings.device)
        report = partial(self._report, publisher)
        return run_gang_attempt(command, gang, self.renderer, current.canceled, attempt, report)

    async def _opened(
        self,
        command: DispatchRender,
        publisher: Publisher,
        attempt: Callable[[DispatchRender], Awaitable[None]],
    ) -> None:
        """Run `attempt` with the job's prompt in clear (its key opened once per job, cached); an attempt
        whose key never came or was shredded (the job deleted) fails without rendering."""
        assert self.fields is not None
        try:
            opened = await self.fields.open(command)
        except ReelstreamError as exc:
            logger.warning("the job's prompt cannot be opened: %s", exc.code)
            error = ErrorInfo(exc.code, exc.message, False)
            failed = RenderFailed(
                job_id=command.job_id, slot=command.slot, attempt=command.attempt, error=error
            )
            await riding_out_outages(lambda: self._report(publisher, failed))
            return
        await attempt(opened)

    def _deadline(self, command: DispatchRender) -> AttemptDeadline:
        """The render's deadline from its predicted seconds: the cost prior of the job's tier of its model
        (times the simulated renderer's scale, which stretches every render by it), stretched by the
        dispatch's `deadline_multiple` (a long job's retry)."""
        spec = self.settings.pipeline.models.get(command.params.model)
        prior = spec.prior_for(command.params.tier) if spec is not None else DEFAULT_PRIOR
        predicted = prior * work_units(command.params) * (self.settings.render.simulated_scale or 1.0)
        predicted *= command.deadline_multiple
        deadline = self.settings.deadline
        return AttemptDeadline(deadline.seconds(predicted), deadline.grace_seconds)

    async def _skip_stale(self, consumer: AIOKafkaConsumer) -> None:
        """Drop pending dispatches whose lease ran out a whole lease ago: the scheduler has requeued them as
        a new attempt and fences this one. Typically the dispatch a killed worker was running, read again by
        its successor from the uncommitted offset: run, it would hold the slot for nothing while every new
        dispatch to the slot lost its lease. (One lease of slack: a dispatch that merely arrived late still
        runs, and its heartbeats renew its lease.)"""
        while self.pending and stale(self.pending[0][0], utc_now()):
            command, offset = self.pending.pop(0)
            logger.info(
                "stale dispatch skipped: its lease ran out before it could start",
                extra={"job_id": command.job_id, "attempt": command.attempt},
            )
            commit = self.flight.ended_at(offset)  # passes no attempt still finishing
            if commit is not None:
                await consumer.commit({self._tp: OffsetAndMetadata(commit, "")})
            self.recent.append((command.job_id, command.attempt))

    async def _traced(self, current: Current, attempt: Callable[[], Awaitable[None]]) -> None:
        """Run the attempt inside its render span, a child of the dispatch record's span: every report it
        publishes carries it, and each stage reported gets a child span (see `_report`)."""
        cmd = current.command
        traceparent = self.traceparents.pop((cmd.job_id, cmd.attempt), None)
        ids: dict[str, str | int] = {"job_id": cmd.job_id, "attempt": cmd.attempt, "slot": cmd.slot}
        where = {"topic": RENDER_DISPATCH.name, "partition": cmd.slot, "offset": current.offset}
        with linked_span("render", traceparent, ids) as span, log_context(**ids, **where):
            current.stages = StageSpans(span) if span is not None else None
            try:
                await attempt()
            finally:
                if current.stages is not None:
                    current.stages.close()

    async def _report(self, publisher: Publisher, event: InboxEvent) -> None:
        """Publish one event of this slot to the scheduler's inbox; an attempt's outcome is preceded by its
        usage record (`gpu_consumers.usage`), so an outcome the broker took always has its usage too."""
        now = time.monotonic()
        holder = self.flight.find(getattr(event, "job_id", None), getattr(event, "attempt", None))
        holder = holder or (self.flight.gpu if isinstance(event, WorkerHeartbeat) else None)
        command = holder.command if holder else None
        on_gpu = holder is not None and holder is self.flight.gpu  # not an attempt in its finish
        self.metrics.reported(event, command.params if command else None, now)
        if isinstance(event, RenderStarted) and command is not None:
            self.usage.started(command, now)
            self.speed.render_started(now)
        elif isinstance(event, RenderProgress) and event.stage in FINISH_STAGES and on_gpu:
            self.speed.gpu_done(now)
        elif isinstance(event, RenderSucceeded | RenderFailed):
            if on_gpu or holder is None:
                self.speed.gpu_done(now)
            usage = self.usage.finished(event, now)
            if usage is not None:
                await self._publish_usage(publisher, usage)
        stages = holder.stages if holder else None
        if stages is not None and isinstance(event, RenderProgress):
            stages.enter(event.stage.value)
        elif stages is not None and isinstance(event, RenderSucceeded | RenderFailed):
            stages.close()
        await publisher.publish(
            SCHEDULER_INBOX,
            self.settings.pool_id,
            event,
            partition=self.settings.pipeline.pool_partition(self.settings.pool_id),
        )

    async def _publish_usage(self, publisher: Publisher, usage: GpuUsageRecorded) -> None:
        await publisher.publish(USAGE_EVENTS, usage.attempt_id, usage)
        if usage.attempt_id not in self._usage_published:  # counted once, though reported again
            self._usage_published.append(usage.attempt_id)
            self.metrics.usage(usage)

    async def _heartbeats(self, publisher: Publisher, stop: asyncio.Event) -> None:
        while not stop.is_set():
            current = self.flight.named()  # an ended attempt's outcome is reported: not named again
            beat = WorkerHeartbeat(
                worker_id=self.worker_id,
                pool_id=self.settings.pool_id,
                slot=self.settings.slot,
                state=WorkerState.BUSY if current else WorkerState.IDLE,
                renderer=self.renderer.name,
                job_id=current.command.job_id if current else None,
                attempt=current.command.attempt if current else None,
                gpu_name=self.gpu_name,
                max_work_units=self.settings.max_work_units,
            )
            try:
                await self._report(publisher, beat)
            except BrokerUnavailableError as exc:  # the next beat tries again: a slot that stopped beating
                logger.warning("heartbeat not acknowledged: %s", exc)  # after an outage is lost for good
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), self.settings.heartbeat_seconds)
