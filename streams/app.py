"""The one place Faust apps are made: a factory (never an import-time app) with reelstream's settings.

Values travel as raw bytes through Faust and are decoded with the registry serde in the agent, so every stage
reads and writes the same Confluent-framed Avro as everyone else on the topics.
"""

from __future__ import annotations

import asyncio
import logging
import os
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, TypeVar

import faust
import uvloop

from reelstream.dlq import DeadLetterWriter, source_of
from reelstream.errors import ReelstreamError
from reelstream.gc_tuning import settle_heap
from reelstream.kafka.admin import CompactedTopic, ensure_topics
from reelstream.kafka.clients import Headers, Publisher
from reelstream.kafka.registry import ConfluentRegistry
from reelstream.logs import bind, log_context, logging_config, process_wide_logging
from reelstream.metrics import Metrics
from reelstream.scratch import process_scratch, scratch_path
from reelstream.settings import PipelineSettings
from reelstream.tracing import consume_span, set_job
from schemas.errors import SerializationError
from schemas.serde import AvroSerde
from schemas.topics import ALL_TOPICS, Topic

logger = logging.getLogger(__name__)
T = TypeVar("T")


def create_app(name: str, settings: PipelineSettings, **overrides: Any) -> faust.App:
    config: dict[str, Any] = dict(
        broker=f"kafka://{settings.endpoints.kafka_bootstrap}",
        **settings.endpoints.kafka_security.faust(),
        value_serializer="raw",
        key_serializer="raw",
        store="memory://",
        web_enabled=False,
        autodiscover=False,
        topic_disable_leader=True,
        topic_replication_factor=settings.replication_factor,
        producer_acks=-1,
        consumer_auto_offset_reset="earliest",
        broker_session_timeout=10,
        broker_heartbeat_interval=1,
        # offsets are committed every 0.5 s (or every 1,000 records): committing after each record made the
        # fetcher wait one commit round trip per record (~70 records/s). At-least-once either way: a crash
        # redelivers what was processed since the last commit, and every stage drops duplicates.
        broker_commit_every=1000,
        broker_commit_interval=0.5,
        processing_guarantee="at_least_once",
        # Faust keeps a data folder even with the memory store: the process's scratch folder, removed when
        # it exits (run_worker) and by the next start after a SIGKILL (reelstream.scratch)
        datadir=str(scratch_path(f"faust-{settings.app_prefix}-{name}")),
    )
    config.update(overrides)
    return faust.App(f"{settings.app_prefix}-{name}", **config)


def run_worker(app: faust.App, settings: PipelineSettings, metrics: Metrics | None = None) -> None:
    """Create the app's table changelogs, then run it until SIGTERM/SIGINT with reelstream's logging.

    Changelogs are created here, before any agent runs: left to Faust, an agent can write to a table before
    its changelog exists (PartitionsMismatch with 0 partitions) on a broker that does not auto-create topics.
    """
    # uvloop's event loop, as ingest's server has: about a tenth more jobs per CPU-second in each stage
    # (bench/stream_stages.py, runs alternating with the default loop's)
    uvloop.install()
    if app.tables:
        asyncio.run(ensure_changelogs(app, settings))
    if metrics is not None:
        metrics.serve(settings.metrics)
    app.task(_settle_heap)
    service = "reelstream-" + app.conf.id.removeprefix(f"{settings.app_prefix}-")  # as tracing names it
    config = logging_config(service, settings.log)
    process_wide_logging()
    with process_scratch(Path(app.conf.datadir)):
        BoundedWorker(
            app,
            grace_seconds=settings.shutdown_grace_seconds,
            loglevel=settings.log.level,
            logging_config=config,
            redirect_stdouts=False,
        ).execute_from_commandline()


class BoundedWorker(faust.Worker):
    """A Faust worker whose stop after SIGTERM is bounded: past `grace_seconds` it logs every task still
    running, with where each waits, and exits. Nothing is lost by it: what was not committed is read again by
    the next owner (every stage is at least once), and an orchestrator would kill the process anyway."""

    def __init__(self, app: faust.App, *, grace_seconds: float, **kwargs: Any) -> None:
        super().__init__(app, **kwargs)
        self._grace_seconds = grace_seconds

    def _on_sigterm(self) -> None:
        loop = asyncio.get_running_loop()
        watchdog = threading.Timer(self._grace_seconds, _overdue, (loop, self._grace_seconds))
        watchdog.daemon = True
        watchdog.start()
        super()._on_sigterm()


def _overdue(loop: asyncio.AbstractEventLoop, grace_seconds: float) -> None:
    """From the watchdog's thread: the stop took longer than its grace. Report from the loop's own thread if
    it still turns (a task stuck in an await), then exit whatever happened."""
    reported = threading.Event()

    def report() -> None:
        stuck = [t for t in asyncio.all_tasks(loop) if not t.done()]
        for task in stuck:
            frames = "; ".join(
                f"{f.f_code.co_filename}:{f.f_lineno} {f.f_code.co_name}" for f in task.get_stack()
            )
            logger.error(
                "still running %.0f s after SIGTERM: %s at %s", grace_seconds, task.get_name(), frames
            )
        reported.set()

    loop.call_soon_threadsafe(report)
    reported.wait(timeout=2.0)  # a loop that no longer turns reports nothing
    logger.error("stopping took longer than %.0f s after SIGTERM: exiting now", grace_seconds)
    logging.shutdown()
    os._exit(0)


async def ensure_changelogs(app: faust.App, settings: PipelineSettings) -> list[str]:
    """Create the app's table changelogs with REELSTREAM_REPLICATION_FACTOR replicas; the names created."""
    changelogs = [CompactedTopic(t.changelog_topic_name, t.partitions or 1) for t in app.tables.values()]
    endpoints = settings.endpoints
    return await ensure_topics(
        endpoints.kafka_bootstrap, changelogs, settings.replication_factor, endpoints.kafka_security
    )


async def _settle_heap() -> None:
    """Once the app runs: what start-up built is out of the way of full collections (reelstream.gc_tuning)."""
    settle_heap()


def faust_topic(app: faust.App, topic: Topic[Any]) -> faust.TopicT:
    """A Faust view of a declared topic (created by `reelstream topics ensure`, never by Faust)."""
    return app.topic(
        topic.name, key_type=bytes, value_type=bytes, partitions=topic.partitions, internal=False
    )


class StreamContext:
    """Per-process resources of a stream app, opened lazily inside Faust's event loop.

    `stage` names the stage's dead-letter topic (schemas.topics.DEAD_LETTERS): records it cannot decode, or
    whose processing raises a non-retriable ReelstreamError, are parked there and the stage moves on.
    """

    def __init__(
        self, app: faust.App, settings: PipelineSettings, stage: str, metrics: Metrics | None = None
    ) -> None:
        self.app = app
        self.settings = settings
        self.stage = stage
        self.metrics = metrics or Metrics(settings.metrics.tenant_classes)
        self._publisher: Publisher | None = None
        self._lock = asyncio.Lock()
        self.dead_letters = DeadLetterWriter(stage, self.publisher, self._count_dead_letter)

    async def publisher(self) -> Publisher:
        if self._publisher is not None:  # asked for every record: no lock once made
            return self._publisher
        async with self._lock:
            if self._publisher is None:
                serde = AvroSerde(ConfluentRegistry.of(self.settings.endpoints))
                await serde.register(*ALL_TOPICS)
                self._publisher = Publisher(self._send, serde, enqueue_with=self._enqueue)
        return self._publisher

    async def decoded(self, topic: Topic[T], record: faust.EventT[bytes]) -> T | None:
        """The record's value through the registry serde, or None once an undecodable record was parked on
        the stage's dead-letter topic: one poison record never stops a stage."""
        publisher = await self.publisher()
        try:
            value = await publisher.serde.deserialize(topic, record.value)
        except SerializationError as exc:
            await self.dead_letter(record, exc, "undecodable")
            return None
        set_job(getattr(value, "job_id", None))  # on the record's processing span, when it has one
        bind(job_id=getattr(value, "job_id", None), tenant=getattr(value, "tenant_id", None))  # and its logs
        return value

    @asynccontextmanager
    async def dead_lettering(self, record: faust.EventT[bytes]) -> AsyncIterator[None]:
        """Wraps the processing of one record: a non-retriable ReelstreamError parks the record on the
        dead-letter topic and is swallowed; retriable errors (and anything else) propagate. The record's
        processing span (reelstream.tracing) is open meanwhile when the record carries a trace, and what is
        logged meanwhile carries the record's topic, partition and offset (reelstream.logs)."""
        msg = record.message
        with (
            log_context(topic=msg.topic, partition=msg.partition, offset=msg.offset),
            consume_span(self.stage, msg.headers, msg.topic, msg.partition, msg.offset),
        ):
            try:
                yield
            except ReelstreamError as exc:
                if exc.retriable:
                    raise
                await self.dead_letter(record, exc, "failed")

    async def dead_letter(self, record: faust.EventT[bytes], error: ReelstreamError, reason: str) -> None:
        await self.dead_letters.write(source_of(record.message), error, reason)

    def _count_dead_letter(self, topic: str, reason: str) -> None:
        self.metrics.dead_lettered(topic, reason)

    async def _send(
        self, topic: str, key: bytes, value: bytes | None, partition: int | None, headers: Headers | None
    ) -> Any:
        return await self.app.producer.send_and_wait(topic, key, value, partition, None, headers)

    async def _enqueue(
        self, topic: str, key: bytes, value: bytes | None, partition: int | None, headers: Headers | None
    ) -> asyncio.Future[Any]:
        acked = await self.app.producer.send(topic, key, value, partition, None, headers)
        return asyncio.ensure_future(acked)
