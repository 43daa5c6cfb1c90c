"""The retry-tier loop over a fake consumer: a partition waits for its head, others go on (also while one
partition's delivery hangs), and an offset is committed only after its record was handled."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from aiokafka import TopicPartition
from aiokafka.structs import ConsumerRecord

from reelstream.errors import ReelstreamError
from streams.retry_tiers import TierConsumer

A, B = TopicPartition("tier", 0), TopicPartition("tier", 1)


def _record(tp: TopicPartition, offset: int, due: float) -> ConsumerRecord[bytes, bytes]:
    return ConsumerRecord(tp.topic, tp.partition, offset, 0, 0, b"k", str(due).encode(), None, 1, 4, [])


class FakeConsumer:
    """A log per partition, a position per partition, pause/seek/commit as aiokafka does them."""

    def __init__(self, logs: dict[TopicPartition, list[float]]) -> None:
        self.logs = logs
        self.position = dict.fromkeys(logs, 0)
        self.paused: set[TopicPartition] = set()
        self.committed: dict[TopicPartition, int] = {}
        self.polls: list[int] = []

    def assignment(self) -> set[TopicPartition]:
        return set(self.logs)

    async def getmany(self, timeout_ms: int, max_records: int) -> dict[TopicPartition, list[Any]]:
        self.polls.append(timeout_ms)
        out = {}
        for tp, log in self.logs.items():
            if tp in self.paused or self.position[tp] >= len(log):
                continue
            start = self.position[tp]
            out[tp] = [_record(tp, o, log[o]) for o in range(start, min(len(log), start + max_records))]
            self.position[tp] = start + len(out[tp])
        return out

    def seek(self, tp: TopicPartition, offset: int) -> None:
        self.position[tp] = offset

    def pause(self, *tps: TopicPartition) -> None:
        self.paused.update(tps)

    def resume(self, *tps: TopicPartition) -> None:
        self.paused.difference_update(tps)

    async def commit(self, offsets: dict[TopicPartition, int]) -> None:
        self.committed.update(offsets)


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def _loop(
    logs: dict[TopicPartition, list[float]],
) -> tuple[TierConsumer, FakeConsumer, Clock, list[tuple[int, int]]]:
    consumer, clock, handled = FakeConsumer(logs), Clock(), []

    async def handle(record: ConsumerRecord[bytes, bytes]) -> float | None:
        due = float(record.value or b"0")
        if due > clock.now:
            return due
        handled.append((record.partition, record.offset))
        return None

    return TierConsumer(consumer, handle, clock), consumer, clock, handled  # type: ignore[arg-type]


async def _step(loop: TierConsumer) -> None:
    """One poll, then until the batches it started are handled."""
    await loop.poll_once()
    await loop.drained()


async def test_a_partition_waits_for_its_head_while_others_go_on() -> None:
    loop, consumer, clock, handled = _loop({A: [90, 105, 106], B: [95, 99]})
    await _step(loop)
    assert handled == [(0, 0), (1, 0), (1, 1)]
    assert consumer.committed == {A: 1, B: 2}
    assert A in consumer.paused
    assert consumer.position[A] == 1  # back on the head that is not due

    await _step(loop)
    assert consumer.polls[-1] == 1000  # polls again within a second (the head is due in 5 s)
    assert handled == [(0, 0), (1, 0), (1, 1)]

    clock.now = 105.0
    await _step(loop)
    assert handled[-1] == (0, 1)
    assert consumer.committed[A] == 2
    clock.now = 107.0
    await _step(loop)
    await _step(loop)
    assert handled[-1] == (0, 2)
    assert consumer.committed == {A: 3, B: 2}


async def test_a_retriable_failure_is_read_again_and_not_committed() -> None:
    consumer, clock = FakeConsumer({A: [0, 0]}), Clock()
    calls = []

    async def handle(record: ConsumerRecord[bytes, bytes]) -> float | None:
        calls.append(record.offset)
        if len(calls) == 1:
            raise ReelstreamError("broker away", retriable=True)
        return None

    loop = TierConsumer(consumer, handle, clock)  # type: ignore[arg-type]
    await _step(loop)
    assert consumer.committed == {}
    clock.now += 2
    await _step(loop)
    await _step(loop)
    assert calls == [0, 0, 1]
    assert consumer.committed == {A: 2}


async def test_a_hanging_delivery_holds_its_own_partition_only() -> None:
    consumer, clock = FakeConsumer({A: [0, 0], B: [0]}), Clock()
    release, handled = asyncio.Event(), []

    async def handle(record: ConsumerRecord[bytes, bytes]) -> float | None:
        if (record.partition, record.offset) == (0, 0):
            await release.wait()  # a receiver that does not answer
        handled.append((record.partition, record.offset))
        return None

    loop = TierConsumer(consumer, handle, clock)  # type: ignore[arg-type]
    await loop.poll_once()
    await loop.drained([B])
    assert handled == [(1, 0)]  # B delivered while A's first record hangs
    assert consumer.committed == {B: 1}
    assert A in consumer.paused  # nothing more of A is fetched meanwhile
    await loop.poll_once()
    assert handled == [(1, 0)]

    release.set()
    await loop.drained()
    assert handled == [(1, 0), (0, 0), (0, 1)]  # A in order once its receiver answers
    assert consumer.committed == {A: 2, B: 1}
    assert A not in consumer.paused


async def test_a_drain_that_fails_stops_the_loop_on_its_next_poll() -> None:
    consumer = FakeConsumer({A: [0]})

    async def handle(record: ConsumerRecord[bytes, bytes]) -> float | None:
        raise ReelstreamError("a bug", retriable=False)

    loop = TierConsumer(consumer, handle, Clock())  # type: ignore[arg-type]
    await loop.poll_once()
    await loop.drained()
    with pytest.raises(ReelstreamError, match="a bug"):
        await loop.poll_once()


async def test_an_abandoned_batch_is_neither_committed_nor_drained_any_more() -> None:
    """A revocation or a shutdown cancels the batches in hand instead of waiting on them (their records are
    read again from the committed offset), so it never waits on a commit that waits on the consumer."""
    consumer = FakeConsumer({A: [0, 0], B: [0]})
    never, handled = asyncio.Event(), []

    async def handle(record: ConsumerRecord[bytes, bytes]) -> float | None:
        if record.partition == 0:
            await never.wait()
        handled.append((record.partition, record.offset))
        return None

    loop = TierConsumer(consumer, handle, Clock())  # type: ignore[arg-type]
    await loop.poll_once()
    await loop.drained([B])
    async with asyncio.timeout(5):
        await loop.abandon([A])
    assert handled == [(1, 0)]
    assert consumer.committed == {B: 1}  # nothing of A
    await loop.poll_once()  # no failed drain to raise: the abandoned one is gone
    async with asyncio.timeout(5):
        await loop.abandon()
