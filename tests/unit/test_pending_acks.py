"""Broker acks in flight for consumed records: a record is done only once all it produced is acknowledged;
the publisher queues a record and hands back its ack (`Publisher.enqueue`)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from aiokafka.errors import KafkaTimeoutError

from reelstream.kafka.clients import BrokerUnavailableError, Publisher
from reelstream.kafka.pending_acks import PendingAcks
from schemas.events import CancelJob
from schemas.serde import AvroSerde
from schemas.topics import COMMANDS
from tests.kafka_clients import MemoryRegistry


def futures(count: int) -> list[asyncio.Future[Any]]:
    loop = asyncio.get_running_loop()
    return [loop.create_future() for _ in range(count)]


async def settle() -> None:
    for _ in range(3):  # done callbacks run on the next turns of the loop
        await asyncio.sleep(0)


async def test_a_record_is_done_only_once_every_ack_it_waits_for_is_in() -> None:
    pending, done = PendingAcks(), []
    first, second = futures(2)
    pending.track([first, second], lambda: done.append("record"))
    first.set_result("meta")
    await settle()
    assert done == []
    assert len(pending) == 1
    second.set_result("meta")
    await settle()
    assert done == ["record"]
    assert len(pending) == 0


async def test_a_record_that_produced_nothing_is_done_at_once() -> None:
    done: list[str] = []
    PendingAcks().track([], lambda: done.append("record"))
    assert done == ["record"]


async def test_records_are_done_in_the_order_their_acks_come_in() -> None:
    pending, done = PendingAcks(), []
    early, late = futures(2)
    pending.track([late], lambda: done.append("first record"))
    pending.track([early], lambda: done.append("second record"))
    early.set_result(None)
    await settle()
    assert done == ["second record"]  # the consumer commits only up to the first record not done
    late.set_result(None)
    await settle()
    assert done == ["second record", "first record"]


async def test_a_failed_ack_never_marks_its_record_done_and_is_raised_once() -> None:
    pending, done = PendingAcks(), []
    failing, fine = futures(2)
    pending.track([failing, fine], lambda: done.append("record"))
    failing.set_exception(KafkaTimeoutError())
    fine.set_result(None)
    await settle()
    assert done == []
    with pytest.raises(BrokerUnavailableError) as raised:
        await pending.room()
    assert isinstance(raised.value.__cause__, KafkaTimeoutError)
    await pending.room()  # raised once: the stage decides what comes next


async def test_room_waits_while_the_limit_of_acks_is_in_flight() -> None:
    pending = PendingAcks(limit=2)
    acks = futures(2)
    for ack in acks:
        pending.track([ack], lambda: None)
    waiting = asyncio.create_task(pending.room())
    await settle()
    assert not waiting.done()
    acks[0].set_result(None)
    await asyncio.wait_for(waiting, timeout=5)
    assert len(pending) == 1


async def test_drained_returns_once_no_ack_is_in_flight() -> None:
    pending, done = PendingAcks(), []
    ack = futures(1)[0]
    pending.track([ack], lambda: done.append("record"))
    draining = asyncio.create_task(pending.drained())
    await settle()
    assert not draining.done()
    ack.set_result(None)
    await asyncio.wait_for(draining, timeout=5)
    assert done == ["record"]


async def serde() -> AvroSerde:
    made = AvroSerde(MemoryRegistry())
    await made.register(COMMANDS)
    return made


async def test_enqueue_returns_once_the_record_is_queued_with_the_future_of_its_ack() -> None:
    queued: list[tuple[str, bytes, int | None]] = []
    ack: asyncio.Future[Any] = asyncio.get_running_loop().create_future()

    async def send_and_wait(*args: Any) -> Any:
        raise AssertionError("enqueue must not wait for an ack")

    async def enqueue_with(
        topic: str, key: bytes, value: bytes | None, partition: int | None, headers: Any
    ) -> asyncio.Future[Any]:
        queued.append((topic, key, partition))
        return ack

    publisher = Publisher(send_and_wait, await serde(), enqueue_with=enqueue_with)
    returned = await publisher.enqueue(COMMANDS, "tenant-a", CancelJob("job-1", "tenant-a"), partition=3)
    assert returned is ack
    assert not returned.done()
    assert queued == [(COMMANDS.name, b"tenant-a", 3)]


async def test_enqueue_without_a_queueing_producer_publishes_and_returns_a_done_future() -> None:
    sent: list[str] = []

    async def send_and_wait(topic: str, *args: Any) -> Any:
        sent.append(topic)
        return "metadata"

    publisher = Publisher(send_and_wait, await serde())
    returned = await publisher.enqueue(COMMANDS, "tenant-a", CancelJob("job-1", "tenant-a"))
    assert returned.done()
    assert returned.result() == "metadata"
    assert sent == [COMMANDS.name]
