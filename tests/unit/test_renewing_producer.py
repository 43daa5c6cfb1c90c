"""A long-running service's producer replaces itself once it failed for good (its sender task died), so the
retry of the failed send goes out. The broker is not needed to check that bookkeeping: the producers here
are stand-ins that record what they are asked; the broker-restart fault (tests/reliability) is the real case.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

import pytest
from aiokafka.errors import KafkaConnectionError, OutOfOrderSequenceNumber

from reelstream.kafka import clients
from reelstream.kafka.clients import RenewingProducer


@dataclass
class StandIn:
    failure: Exception | None = None
    started: bool = False
    stopped: bool = False
    sent: list[bytes | None] = field(default_factory=list)

    async def start(self) -> None:
        self.started = True

    async def stop(self) -> None:
        self.stopped = True

    async def send_and_wait(self, topic: str, value: bytes | None, **kwargs: Any) -> str:
        await asyncio.sleep(0)
        if self.failure is not None:
            raise self.failure
        self.sent.append(value)
        return "acknowledged"


def made(monkeypatch: pytest.MonkeyPatch, *producers: StandIn) -> list[StandIn]:
    queue = list(producers)
    monkeypatch.setattr(clients, "new_producer", lambda bootstrap, client_id, security=None: queue.pop(0))
    return list(producers)


async def test_a_producer_that_failed_for_good_is_replaced_and_the_retry_goes_out(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    broken, fresh = made(monkeypatch, StandIn(OutOfOrderSequenceNumber()), StandIn())
    producer = RenewingProducer("127.0.0.1:9", "worker-0")
    await producer.start()
    with pytest.raises(OutOfOrderSequenceNumber):  # the caller hears of the failure and tries again
        await producer.send_and_wait("t", b"outcome")
    assert (broken.stopped, fresh.started) == (True, True)
    assert await producer.send_and_wait("t", b"outcome") == "acknowledged"
    assert fresh.sent == [b"outcome"]


async def test_concurrent_failures_renew_once_and_other_errors_renew_nothing(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _, fresh, spare = made(monkeypatch, StandIn(OutOfOrderSequenceNumber()), StandIn(), StandIn())
    producer = RenewingProducer("127.0.0.1:9", "worker-0")
    await producer.start()
    results = await asyncio.gather(
        *(producer.send_and_wait("t", b"x") for _ in range(3)), return_exceptions=True
    )
    assert all(isinstance(r, OutOfOrderSequenceNumber) for r in results)
    assert fresh.started  # one replacement for the one failed producer
    assert not spare.started
    fresh.failure = KafkaConnectionError()  # the broker away: retriable, the producer itself is fine
    with pytest.raises(KafkaConnectionError):
        await producer.send_and_wait("t", b"x")
    assert not fresh.stopped
    assert not spare.started
