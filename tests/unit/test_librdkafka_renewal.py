"""Ingest's librdkafka producer replaces itself once it failed for good (a fatal idempotence error), so the
retry of the failed send goes out, and other errors leave it alone; its delivery reports reach the senders
however they are served. librdkafka raises its fatal errors only in broker states a test cannot provoke, so
the client here is a stand-in with librdkafka's calling conventions (delivery reports served by `poll`,
which the event loop calls, and by `flush`, which `stop` runs in a worker thread); the records' own path is
tested on the real broker (tests/integration/test_librdkafka_producer.py)."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from confluent_kafka import KafkaError, KafkaException

from reelstream.kafka import librdkafka
from reelstream.kafka.librdkafka import LibrdkafkaProducer, Written

FATAL = KafkaError(KafkaError._FATAL, "producer fenced", fatal=True)
TIMED_OUT = KafkaError(KafkaError._MSG_TIMED_OUT)


@dataclass
class Message:
    _topic: str
    _offset: int

    def topic(self) -> str:
        return self._topic

    def partition(self) -> int:
        return 0

    def offset(self) -> int:
        return self._offset


class StandIn:
    """librdkafka's Producer as far as LibrdkafkaProducer uses it; `error`: what every delivery reports."""

    def __init__(self, config: dict[str, Any]) -> None:
        self.config = config
        self.error: KafkaError | None = None
        self.written: list[bytes | None] = []
        self.flushed = False
        self.raise_once: Exception | None = None  # what a callback raised, surfacing from `poll`
        self._queued: list[tuple[Callable[[KafkaError | None, Message], None], str, bytes | None]] = []
        self._ready = threading.Condition()
        self._held = False  # reports wait until `release`: what is produced meanwhile comes in one batch

    def list_topics(self, timeout: float) -> None:
        return None

    def produce(self, topic: str, value: bytes | None, key: bytes | None, partition: int, **kw: Any) -> None:
        with self._ready:
            self._queued.append((kw["on_delivery"], topic, value))
            self._ready.notify()

    def poll(self, timeout: float) -> int:
        if self.raise_once is not None:
            raised, self.raise_once = self.raise_once, None
            raise raised
        with self._ready:
            if not self._ready.wait_for(lambda: bool(self._queued) and not self._held, timeout):
                return 0
            queued, self._queued = self._queued, []
        for report, topic, value in queued:
            if self.error is None:
                self.written.append(value)
            report(self.error, Message(topic, len(self.written) - 1))
        return len(queued)

    def hold(self) -> None:
        with self._ready:
            self._held = True

    def release(self) -> None:
        with self._ready:
            self._held = False
            self._ready.notify()

    def flush(self, timeout: float) -> int:
        self.flushed = True
        self.release()  # what flush does: serve every report, held or not
        self.poll(0)
        return 0


@pytest.fixture
def made(monkeypatch: pytest.MonkeyPatch) -> list[StandIn]:
    clients: list[StandIn] = []

    def make(config: dict[str, Any]) -> StandIn:
        clients.append(StandIn(config))
        return clients[-1]

    monkeypatch.setattr(librdkafka, "Producer", make)
    return clients


async def test_a_producer_that_failed_for_good_is_replaced_and_the_retry_goes_out(
    made: list[StandIn],
) -> None:
    producer = LibrdkafkaProducer("127.0.0.1:9", "ingest-0")
    await producer.start()
    assert await producer.send_and_wait("t", b"first") == Written("t", 0, 0)
    made[0].error = FATAL
    with pytest.raises(KafkaException) as failed:  # the caller hears of the failure and tries again
        await producer.send_and_wait("t", b"job")
    assert failed.value.args[0].fatal()
    assert len(made) == 2  # replaced
    assert made[0].flushed  # and the failed one closed
    assert await producer.send_and_wait("t", b"job") == Written("t", 0, 0)
    assert made[1].written == [b"job"]
    await producer.stop()


async def test_concurrent_failures_renew_once_and_other_errors_renew_nothing(made: list[StandIn]) -> None:
    producer = LibrdkafkaProducer("127.0.0.1:9", "ingest-0")
    await producer.start()
    made[0].error = FATAL
    sends = (producer.send_and_wait("t", b"x") for _ in range(3))
    results = await asyncio.gather(*sends, return_exceptions=True)
    assert all(isinstance(r, KafkaException) for r in results)
    assert len(made) == 2  # one replacement for the one failed producer
    made[1].error = TIMED_OUT  # the broker away: retriable, the producer itself is fine
    with pytest.raises(KafkaException):
        await producer.send_and_wait("t", b"x")
    assert len(made) == 2
    assert not made[1].flushed
    await producer.stop()
    assert made[1].flushed  # stop gives what is queued its chance


async def test_a_report_for_a_send_that_gave_up_is_dropped(made: list[StandIn]) -> None:
    """A request cancelled while its record was in flight (client gone, publish timeout) must not break
    the reports of the others when its acknowledgement comes."""
    producer = LibrdkafkaProducer("127.0.0.1:9", "ingest-0")
    await producer.start()
    made[0].hold()  # both reports below reach the event loop in one batch
    abandoned = asyncio.ensure_future(producer.send_and_wait("t", b"gone"))
    kept = asyncio.ensure_future(producer.send_and_wait("t", b"kept"))
    await asyncio.sleep(0)  # let both reach produce (an ordering step, not a wait for time)
    abandoned.cancel()
    made[0].release()
    async with asyncio.timeout(10):
        assert await kept == Written("t", 0, 1)
    assert made[0].written == [b"gone", b"kept"]
    await producer.stop()


async def test_stop_settles_the_records_still_queued() -> None:
    """`stop` hands what is queued to `flush`, in a worker thread: the reports served there still settle
    the senders' futures, in the loop's thread (the loop's debug mode makes settling one from the worker
    thread raise, instead of working by luck)."""
    client = StandIn({})
    producer = LibrdkafkaProducer("127.0.0.1:9", "ingest-0")
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(librdkafka, "Producer", lambda config: client)
        await producer.start()
    loop = asyncio.get_running_loop()
    debug = loop.get_debug()
    loop.set_debug(True)
    try:
        client.hold()  # no poll serves it: only the flush on stop
        late = asyncio.ensure_future(producer.send_and_wait("t", b"late"))
        await asyncio.sleep(0)  # it reaches produce (an ordering step, not a wait for time)
        await producer.stop()
        async with asyncio.timeout(10):
            assert await late == Written("t", 0, 0)
    finally:
        loop.set_debug(debug)
    assert client.flushed


async def test_reports_go_on_after_a_callback_raised_inside_poll(monkeypatch: pytest.MonkeyPatch) -> None:
    client = StandIn({})
    client.raise_once = RuntimeError("a log handler failed")  # in the loop's first poll
    monkeypatch.setattr(librdkafka, "Producer", lambda config: client)
    producer = LibrdkafkaProducer("127.0.0.1:9", "ingest-0")
    await producer.start()
    async with asyncio.timeout(10):
        assert await producer.send_and_wait("t", b"after") == Written("t", 0, 0)
    await producer.stop()
