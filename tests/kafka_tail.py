"""Reading what a stage writes: the decoded records of some topics produced after the tail was opened."""

from __future__ import annotations

import contextlib
import time
from collections.abc import AsyncIterator, Callable
from typing import Any, Protocol

import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition

from reelstream.endpoints import Endpoints
from schemas.serde import AvroSerde
from schemas.topics import Topic

DEADLINE_S = 60.0


class Running(Protocol):
    def check_running(self) -> None: ...


class Tail:
    """Decoded records of its topics produced after the tail was opened."""

    def __init__(self, consumer: AIOKafkaConsumer, serde: AvroSerde, topics: dict[str, Topic[Any]]) -> None:
        self.consumer, self.serde, self.topics = consumer, serde, topics

    async def first(self, wanted: Callable[[Any], bool], stage: Running, within: float = DEADLINE_S) -> Any:
        deadline = time.monotonic() + within
        while time.monotonic() < deadline:
            stage.check_running()
            for tp, records in (await self.consumer.getmany(timeout_ms=500)).items():
                for record in records:
                    if record.value is None:
                        continue
                    with contextlib.suppress(Exception):  # other tests' poison shares these topics
                        value = await self.serde.deserialize(self.topics[tp.topic], record.value)
                        if wanted(value):
                            return value
        names = ", ".join(self.topics)
        pytest.fail(f"nothing wanted on {names} within {within:g}s")


@contextlib.asynccontextmanager
async def tail(stack: Endpoints, serde: AvroSerde, *topics: Topic[Any]) -> AsyncIterator[Tail]:
    consumer = AIOKafkaConsumer(
        bootstrap_servers=stack.kafka_bootstrap, **stack.kafka_security.aiokafka(), enable_auto_commit=False
    )
    await consumer.start()
    try:
        tps = [TopicPartition(t.name, p) for t in topics for p in range(t.partitions)]
        consumer.assign(tps)
        await consumer.seek_to_end(*tps)
        for tp in tps:
            await consumer.position(tp)  # resolve the end now: records produced from here on are read
        yield Tail(consumer, serde, {t.name: t for t in topics})
    finally:
        await consumer.stop()
