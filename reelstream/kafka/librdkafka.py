"""The producer ingest writes with: librdkafka (confluent-kafka) with an asyncio face.

Why not aiokafka here: the request path waits for one acknowledgement per request, and aiokafka spends
11-12 µs of Python per acknowledged record and keeps one produce request in flight per partition, so a late
acknowledgement holds up every request behind it. librdkafka batches, sends and retries in C on its own
threads (3.6-4.3 µs per record, this process's CPU, same broker and load: `bench/loadgen.py kafka`) and keeps
up to five requests in flight per partition while staying idempotent.

How: `produce` hands the record to librdkafka and returns at once. The event loop serves the delivery
reports itself (`poll(0)` every millisecond while records await theirs), which settles the senders'
futures in the loop's thread. A producer that failed for good (a fatal idempotence error) is
replaced by a new one, as `RenewingProducer` does for aiokafka.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from dataclasses import dataclass
from typing import Any, cast

from confluent_kafka import KafkaError, KafkaException, Message, Producer

from reelstream.kafka.clients import Headers
from reelstream.kafka.security import PLAINTEXT, KafkaSecurity

logger = logging.getLogger(__name__)
librdkafka_logger = logging.getLogger("librdkafka")

LINGER_MS = 1  # how long a record waits for others to share its produce request
POLL_INTERVAL = 0.001  # how often the loop serves delivery reports while records await theirs
IDLE_POLL = 0.5  # and otherwise (librdkafka's log lines and errors)
CLOSE_SECONDS = 10.0  # what `stop` gives the records still queued


@dataclass(frozen=True, slots=True)
class Written:
    """Where the broker wrote a record (what aiokafka's RecordMetadata tells, as far as callers read it)."""

    topic: str
    partition: int
    offset: int


def producer_config(
    bootstrap: str, client_id: str, delivery_timeout: float, security: KafkaSecurity = PLAINTEXT
) -> dict[str, Any]:
    """Idempotent, acks=all: a record acknowledged is durably in the log exactly once. `murmur2_random`:
    a key goes to the partition Java's and aiokafka's producers choose (the stream stages co-partition by
    tenant with records they write). A record not acknowledged within `delivery_timeout` fails."""
    return {
        "bootstrap.servers": bootstrap,
        **security.librdkafka(),
        "client.id": client_id,
        "acks": "all",
        "enable.idempotence": True,
        "partitioner": "murmur2_random",
        "linger.ms": LINGER_MS,
        "message.timeout.ms": max(LINGER_MS + 1, round(delivery_timeout * 1000)),  # longer, librdkafka says
        "request.timeout.ms": 15000,
    }


class _Reports:
    """One librdkafka producer whose delivery reports the event loop serves itself: `poll(0)` on a timer,
    every POLL_INTERVAL while records await their reports and every IDLE_POLL otherwise (librdkafka's log
    lines and client-wide errors come through `poll` too). Served in the loop's own thread, a report settles
    its sender's future directly: no thread to hand it over from. A report thread cost the loop a wake-up
    and a GIL hand-over per batch of reports: 198 → 170 µs of CPU per request at ingest's peak without it
    (medians of 6 runs each, bench/ingest_load.py), for ~0.7 ms more latency per acknowledgement."""

    def __init__(self, config: dict[str, Any], loop: asyncio.AbstractEventLoop) -> None:
        # librdkafka's log lines and errors go through `logging` (JSON lines, redaction), served by `poll`
        self.producer = Producer({**config, "error_cb": self._on_error, "logger": librdkafka_logger})
        self.refused: KafkaError | None = None  # the broker refused our credentials (served by `poll`)
        self._loop = loop
        self._awaiting = 0  # records produced whose report was not served yet
        self._timer: asyncio.TimerHandle | None = None
        self._soon = False  # the timer is POLL_INTERVAL's
        self._closed = False

    def start(self) -> None:
        self._poll_in(IDLE_POLL)

    def serve_errors(self) -> None:
        """Serve the client-wide errors waiting for `poll` (a failed start's cause)."""
        try:
            self.producer.poll(0)
        except Exception:  # a callback raised: the start fails anyway, with its own error
            logger.exception("serving the producer's errors")

    def _on_error(self, error: KafkaError) -> None:
        if error.code() == KafkaError._AUTHENTICATION:
            self.refused = error
        _log_error(error)

    def produce(
        self,
        future: asyncio.Future[Written],
        topic: str,
        value: bytes | None,
        key: bytes | None,
        partition: int,
        headers: Headers | None,
    ) -> None:
        self.producer.produce(
            topic,
            value,
            key,
            partition,
            on_delivery=functools.partial(self._report, future),
            headers=cast("list[tuple[str, str | bytes | None]] | None", headers),  # same, read-only
        )
        self._awaiting += 1
        if not self._soon:
            self._poll_in(POLL_INTERVAL)

    def _poll_in(self, delay: float) -> None:
        if self._timer is not None:
            self._timer.cancel()
        self._soon = delay == POLL_INTERVAL
        self._timer = self._loop.call_later(delay, self._serve)

    def _serve(self) -> None:
        self._timer = None
        try:
            self.producer.poll(0)
        except Exception:  # a callback raised: serving must go on, or every later send hangs
            logger.exception("serving the producer's delivery reports")
        if not self._closed:
            self._poll_in(POLL_INTERVAL if self._awaiting > 0 else IDLE_POLL)

    def _report(self, future: asyncio.Future[Written], error: KafkaError | None, message: Message) -> None:
        """librdkafka's delivery callback, inside `poll` (the loop's thread) or, once closed, `flush`."""
        if self._closed:
            self._loop.call_soon_threadsafe(_settle, future, error, message)
            return
        self._awaiting -= 1
        _settle(future, error, message)

    async def close(self, grace: float) -> int:
        """Stop serving, give what is queued `grace` seconds, settle every report; the records left."""
        self._closed = True
        if self._timer is not None:
            self._timer.cancel()
        return await asyncio.to_thread(self.producer.flush, grace)  # serves the last reports there


def _settle(future: asyncio.Future[Written], error: KafkaError | None, message: Message) -> None:
    if future.done():  # its sender gave up waiting (timeout, cancelled request)
        return
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
        self,
        bootstrap: str,
        client_id: str,
        delivery_timeout: float = 15.0,
        connect_timeout: float = 15.0,
        security: KafkaSecurity = PLAINTEXT,
    ) -> None:
        self._config = producer_config(bootstrap, client_id, delivery_timeout, security)
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
            reports.serve_errors()  # refused credentials say so (error_cb), not only "timed out"
            await reports.close(0)
            if reports.refused is not None:
                raise KafkaException(reports.refused) from None
            raise
        reports.start()
        return reports

    async def stop(self) -> None:
        reports, self._reports = self._reports, None
        if reports is not None:
            left = await reports.close(CLOSE_SECONDS)
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
            reports.produce(written, topic, value, key, -1 if partition is None else partition, headers)
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
        await failed.close(0)
