"""The producer ingest writes with: librdkafka (confluent-kafka) with an asyncio face.

Why not aiokafka here: the request path waits for one acknowledgement per request, and aiokafka spends
11-12 µs of Python per acknowledged record and keeps one produce request in flight per partition, so a late
acknowledgement holds up every request behind it. librdkafka batches, sends and retries in C on its own
threads (3.6-4.3 µs per record, this process's CPU, same broker and load: `bench/loadgen.py kafka`) and keeps
up to five requests in flight per partition while staying idempotent.

How: `produce` hands the record to librdkafka and returns at once. One thread per producer serves the
delivery reports (`poll`) and passes each batch of them to the event loop in one `call_soon_threadsafe`,
where the senders' futures are settled. A producer that failed for good (a fatal idempotence error) is
replaced by a new one, as `RenewingProducer` does for aiokafka.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import threading
from dataclasses import dataclass
from typing import Any, cast

from confluent_kafka import KafkaError, KafkaException, Message, Producer

from reelstream.kafka.clients import Headers

logger = logging.getLogger(__name__)
librdkafka_logger = logging.getLogger("librdkafka")

LINGER_MS = 1  # how long a record waits for others to share its produce request
POLL_SECONDS = 0.1  # the longest the report thread waits in one poll (it returns as soon as reports come)
CLOSE_SECONDS = 10.0  # what `stop` gives the records still queued


@dataclass(frozen=True, slots=True)
class Written:
    """Where the broker wrote a record (what aiokafka's RecordMetadata tells, as far as callers read it)."""

    topic: str
    partition: int
    offset: int


def producer_config(bootstrap: str, client_id: str, delivery_timeout: float) -> dict[str, Any]:
    """Idempotent, acks=all: a record acknowledged is durably in the log exactly once. `murmur2_random`:
    a key goes to the partition Java's and aiokafka's producers choose (the stream stages co-partition by
    tenant with records they write). A record not acknowledged within `delivery_timeout` fails."""
    return {
        "bootstrap.servers": bootstrap,
        "client.id": client_id,
        "acks": "all",
        "enable.idempotence": True,
        "partitioner": "murmur2_random",
        "linger.ms": LINGER_MS,
        "message.timeout.ms": max(LINGER_MS + 1, round(delivery_timeout * 1000)),  # longer, librdkafka says
        "request.timeout.ms": 15000,
    }


class _Reports:
    """One librdkafka producer and the thread that serves its delivery reports to the event loop."""

    def __init__(self, config: dict[str, Any], loop: asyncio.AbstractEventLoop) -> None:
        # librdkafka's log lines and errors go through `logging` (JSON lines, redaction), served by `poll`
        self.producer = Producer({**config, "error_cb": _log_error, "logger": librdkafka_logger})
        self._loop = loop
        self._pending: list[tuple[asyncio.Future[Written], KafkaError | None, Message]] = []
        self._closing = threading.Event()
        name = f"{config['client.id']} delivery reports"
        self._thread = threading.Thread(target=self._serve, name=name, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def report(self, future: asyncio.Future[Written], error: KafkaError | None, message: Message) -> None:
        """librdkafka's delivery callback: runs in the report thread, inside `poll`."""
        self._pending.append((future, error, message))

    def _serve(self) -> None:
        while not self._closing.is_set():
            try:
                self.producer.poll(POLL_SECONDS)
            except Exception:  # a callback raised: the thread must live on, or every later send hangs
                logger.exception("serving the producer's delivery reports")
            self._hand_over()

    def _hand_over(self) -> None:
        if self._pending:
            reports, self._pending = self._pending, []
            self._loop.call_soon_threadsafe(_settle, reports)

    def close(self, timeout: float) -> int:
        """Stop serving, give what is queued `timeout` seconds, settle every report; the records left."""
        self._closing.set()
        if self._thread.is_alive():
            self._thread.join()
        left = self.producer.flush(timeout)  # serves the last reports in this thread
        self._hand_over()
        return left


def _settle(reports: list[tuple[asyncio.Future[Written], KafkaError | None, Message]]) -> None:
    for future, error, message in reports:
        if future.done():  # its sender gave up waiting (timeout, cancelled request)
            continue
        if error is None:
            future.set_result(Written(message.topic() or "", message.partition() or 0, message.offset() or 0))
        else:
            future.set_exception(KafkaException(error))


def _log_error(error: KafkaError) -> None:
    """librdkafka's client-wide errors (a broker down, a fatal error); the records' own fail their sends."""
    level = logging.ERROR if error.fatal() else logging.WARNING
    logger.log(level, "kafka producer: %s", error.str(), extra={"kafka_error": error.name()})


class LibrdkafkaProducer:
    """`send_and_wait` as aiokafka's producer has it, on librdkafka. `start` fails when no broker answered
    within `connect_timeout`; a record fails when it was not acknowledged within `delivery_timeout`."""

    def __init__(
        self, bootstrap: str, client_id: str, delivery_timeout: float = 15.0, connect_timeout: float = 15.0
    ) -> None:
        self._config = producer_config(bootstrap, client_id, delivery_timeout)
        self._connect_timeout = connect_timeout
        self._reports: _Reports | None = None
        self._renewing = asyncio.Lock()  # sends that failed together renew the producer once

    async def start(self) -> None:
        self._reports = await self._open()

    async def _open(self) -> _Reports:
        reports = _Reports(self._config, asyncio.get_running_loop())
        try:  # what aiokafka's start does: the cluster's metadata, or an error
            await asyncio.to_thread(reports.producer.list_topics, timeout=self._connect_timeout)
        except KafkaException:
            await asyncio.to_thread(reports.close, 0)
            raise
        reports.start()
        return reports

    async def stop(self) -> None:
        reports, self._reports = self._reports, None
        if reports is not None:
            left = await asyncio.to_thread(reports.close, CLOSE_SECONDS)
            if left:
                logger.warning("producer stopped with records unacknowledged", extra={"records": left})

    async def send_and_wait(
        self,
        topic: str,
        value: bytes | None,
        key: bytes | None = None,
        partition: int | None = None,
        headers: Headers | None = None,
    ) -> Written:
        reports = self._reports
        if reports is None:
            raise KafkaException(KafkaError(KafkaError._STATE, "the producer is not started"))
        written: asyncio.Future[Written] = asyncio.get_running_loop().create_future()
        try:
            reports.producer.produce(
                topic,
                value,
                key,
                -1 if partition is None else partition,
                on_delivery=functools.partial(reports.report, written),
                headers=cast("list[tuple[str, str | bytes | None]] | None", headers),  # same, read-only
            )
            return await written
        except BufferError as exc:  # librdkafka's queue is full: the broker has not kept up for a while
            raise KafkaException(KafkaError(KafkaError._QUEUE_FULL, str(exc))) from exc
        except KafkaException as exc:
            if exc.args and isinstance(exc.args[0], KafkaError) and exc.args[0].fatal():
                await self._renew(reports, exc)
            raise

    async def _renew(self, failed: _Reports, error: KafkaException) -> None:
        async with self._renewing:
            if failed is not self._reports:
                return  # a concurrent send renewed it already
            logger.warning("producer failed for good; starting a new one", extra={"error": repr(error)})
            self._reports = await self._open()  # KafkaException while the broker is away: renewed next time
        await asyncio.to_thread(failed.close, 0)
