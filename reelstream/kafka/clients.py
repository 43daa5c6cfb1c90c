"""Publishing records: serialize with the registry serde, send, and return only once the broker acknowledged
(`publish`), or once the record is queued, with its acknowledgement to await later (`enqueue`).

One Publisher serves every producer in the project: librdkafka (ingest, `reelstream.kafka.librdkafka`), plain
aiokafka (workers, tools) and Faust's own producer (stream processors), so outputs are written the same way
everywhere.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any, Protocol, TypeVar

from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError, OutOfOrderSequenceNumber, ProducerFenced
from confluent_kafka import KafkaException

from reelstream.errors import ReelstreamError
from reelstream.kafka.security import PLAINTEXT, KafkaSecurity
from reelstream.tracing import inject_headers
from schemas.serde import AvroSerde
from schemas.topics import Topic

T = TypeVar("T")

Headers = list[tuple[str, bytes]]
# send_and_wait(topic_name, key, value, partition, headers) -> record metadata
SendAndWait = Callable[[str, bytes, bytes | None, int | None, Headers | None], Awaitable[Any]]
# send(topic_name, key, value, partition, headers) -> once queued: the future of the broker's acknowledgement
Send = Callable[[str, bytes, bytes | None, int | None, Headers | None], Awaitable["asyncio.Future[Any]"]]


class SendsAndWaits(Protocol):
    """A producer whose `send_and_wait` returns once the broker acknowledged the record: aiokafka's,
    `RenewingProducer`, and ingest's `LibrdkafkaProducer`."""

    async def send_and_wait(
        self,
        topic: str,
        value: bytes | None,
        key: bytes | None = None,
        partition: int | None = None,
        headers: Headers | None = None,
    ) -> Any: ...


# what a send fails with when the broker did not take the record: aiokafka's errors, librdkafka's, a timeout
PRODUCE_ERRORS = (KafkaError, KafkaException, TimeoutError)


class Enqueue(Protocol):
    """Publisher.queueing's: queue a record (`data`: its value serialized already, when the caller has it);
    once queued, the future of the broker's acknowledgement."""

    def __call__(
        self, topic: Topic[Any], key: str, value: Any, partition: int | None = None, data: bytes | None = None
    ) -> Awaitable[asyncio.Future[Any]]: ...


logger = logging.getLogger(__name__)


class BrokerUnavailableError(ReelstreamError):
    """The broker did not acknowledge a record in time; nothing can be promised to the caller."""

    code = "broker_unavailable"
    retriable = True


async def riding_out_outages(step: Callable[[], Awaitable[None]], longest_wait: float = 10.0) -> None:
    """Run `step` until the broker acknowledges what it writes, backing off 0.5, 1, 2 … `longest_wait` s
    between tries. For writes that must not be given up on during a broker restart (a stage's event, an
    attempt's outcome); `step` must be safe to run again (its records are keyed and versioned)."""
    wait = 0.5
    while True:
        try:
            await step()
            return
        except BrokerUnavailableError as exc:
            logger.warning("broker unavailable; trying again", extra={"retry_in_s": wait, "error": str(exc)})
            await asyncio.sleep(wait)  # back off while the broker is away (not a synchronization)
            wait = min(wait * 2, longest_wait)


def new_producer(bootstrap: str, client_id: str, security: KafkaSecurity = PLAINTEXT) -> AIOKafkaProducer:
    """Idempotent, acks=all: a record acknowledged is durably in the log exactly once."""
    return AIOKafkaProducer(
        bootstrap_servers=bootstrap,
        **security.aiokafka(),
        client_id=client_id,
        acks="all",
        enable_idempotence=True,
        linger_ms=2,
        request_timeout_ms=15000,
    )


# what leaves an aiokafka producer unable to send again: its sender task ends on these, and every later send
# fails the same way (seen after a broker restart while a batch was in flight: OutOfOrderSequenceNumber)
FATAL_PRODUCER_ERRORS = (OutOfOrderSequenceNumber, ProducerFenced)


class RenewingProducer:
    """`new_producer`'s producer for a long-running service: one that failed for good (FATAL_PRODUCER_ERRORS)
    is replaced by a new one, so the next try of the failed send (the callers retry what the broker did not
    take) goes out. The new producer has a new producer id: a record the old one wrote may be written again,
    which every consumer already dedupes (by event id and version)."""

    def __init__(self, bootstrap: str, client_id: str, security: KafkaSecurity = PLAINTEXT) -> None:
        self._bootstrap, self._client_id, self._security = bootstrap, client_id, security
        self._producer = new_producer(bootstrap, client_id, security)

    async def start(self) -> None:
        await self._producer.start()

    async def stop(self) -> None:
        await self._producer.stop()

    async def send_and_wait(
        self,
        topic: str,
        value: bytes | None,
        key: bytes | None = None,
        partition: int | None = None,
        headers: Headers | None = None,
    ) -> Any:
        producer = self._producer
        try:
            return await producer.send_and_wait(topic, value, key=key, partition=partition, headers=headers)
        except FATAL_PRODUCER_ERRORS as exc:
            await self._renew(producer, exc)
            raise

    async def _renew(self, failed: AIOKafkaProducer, error: Exception) -> None:
        if failed is not self._producer:
            return  # a concurrent send renewed it already
        logger.warning("producer failed for good; starting a new one", extra={"error": repr(error)})
        fresh = new_producer(self._bootstrap, self._client_id, self._security)
        await fresh.start()  # KafkaError while the broker is away: the failed one stays, renewed next time
        self._producer = fresh
        try:
            await failed.stop()
        except Exception as exc:  # its sender is dead already; nothing of it is needed
            logger.warning("stopping the failed producer: %r", exc)


def sender_of(producer: SendsAndWaits) -> SendAndWait:
    async def send(
        topic: str, key: bytes, value: bytes | None, partition: int | None, headers: Headers | None
    ) -> Any:
        return await producer.send_and_wait(topic, value, key=key, partition=partition, headers=headers)

    return send


class Publisher:
    """`publish` serializes a value for its topic and returns once the broker acknowledged it; `enqueue`
    returns once the record is queued in the producer, with the future of its acknowledgement (producers
    that give one, `enqueue_with`)."""

    def __init__(
        self, send: SendAndWait, serde: AvroSerde, timeout: float = 15.0, enqueue_with: Send | None = None
    ) -> None:
        self._send = send
        self._enqueue = enqueue_with
        self.serde = serde
        self._timeout = timeout

    async def publish(
        self,
        topic: Topic[T],
        key: str,
        value: T,
        partition: int | None = None,
        headers: Headers | None = None,
        data: bytes | None = None,
    ) -> Any:
        """`data`: `value` serialized already, when the caller has it."""
        if data is None:
            data = self.serde.serialize(topic, value)
        return await self._publish(topic, key, data, partition, headers)

    async def enqueue(
        self, topic: Topic[T], key: str, value: T, partition: int | None = None
    ) -> asyncio.Future[Any]:
        """Queue the record; the future of the broker's acknowledgement comes back without waiting for it.
        Records queued in turn for one partition are written in that order (the producer is idempotent).
        Without `enqueue_with`, the record is published and its future comes back done."""
        async with self.queueing() as queue:
            return await queue(topic, key, value, partition)

    @asynccontextmanager
    async def queueing(self) -> AsyncIterator[Enqueue]:
        """`enqueue` for many records in turn under one timeout, not one each (a timeout per record was 3 % of
        the scheduler's time): raises BrokerUnavailableError if the producer did not take them all in time."""
        try:
            async with asyncio.timeout(self._timeout):  # the producer's buffer may be full
                yield self._queue
        except PRODUCE_ERRORS as exc:
            message = f"the producer did not take the records within {self._timeout:g}s"
            raise BrokerUnavailableError(message) from exc

    async def _queue(
        self, topic: Topic[T], key: str, value: T, partition: int | None = None, data: bytes | None = None
    ) -> asyncio.Future[Any]:
        if data is None:
            data = self.serde.serialize(topic, value)
        if self._enqueue is None:
            acked: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
            acked.set_result(await self._publish(topic, key, data, partition, None))
            return acked
        return await self._enqueue(topic.name, key.encode(), data, partition, inject_headers(None))

    async def tombstone(self, topic: Topic[T], key: str) -> Any:
        """A null value for `key`: on a compacted topic, the key's record is deleted."""
        return await self._publish(topic, key, None, None, None)

    async def _publish(
        self, topic: Topic[T], key: str, data: bytes | None, partition: int | None, headers: Headers | None
    ) -> Any:
        headers = inject_headers(headers)  # the current span's traceparent travels with the record
        try:
            async with asyncio.timeout(self._timeout):
                return await self._send(topic.name, key.encode(), data, partition, headers)
        except PRODUCE_ERRORS as exc:
            raise BrokerUnavailableError(
                f"{topic.name} did not acknowledge within {self._timeout:g}s: {exc!r}"
            ) from exc
