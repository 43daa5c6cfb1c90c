"""The broker clients the fixtures of several test packages open on a stack: a serde with every topic's schema
registered, and an idempotent acks=all producer. Each fixture picks its own scope. For unit tests of what
sits behind a Publisher: a schema registry in memory. For scans: the raw bytes of every record there is."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Protocol, TypeVar

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from confluent_kafka.admin import AdminClient

from reelstream.endpoints import Endpoints
from reelstream.kafka.clients import new_producer
from reelstream.kafka.registry import ConfluentRegistry
from reelstream.kafka.security import KafkaSecurity
from schemas.serde import AvroSerde
from schemas.topics import ALL_TOPICS


@asynccontextmanager
async def registered_serde(stack: Endpoints) -> AsyncIterator[AvroSerde]:
    registry = ConfluentRegistry.of(stack)
    try:
        serde = AvroSerde(registry)
        await serde.register(*ALL_TOPICS)
        yield serde
    finally:
        await registry.aclose()


class Startable(Protocol):
    async def start(self) -> None: ...

    async def stop(self) -> None: ...


S = TypeVar("S", bound=Startable)


@asynccontextmanager
async def started(client: S) -> AsyncIterator[S]:
    """`client` started, and stopped on the way out."""
    await client.start()
    try:
        yield client
    finally:
        await client.stop()


@asynccontextmanager
async def started_producer(stack: Endpoints, name: str) -> AsyncIterator[AIOKafkaProducer]:
    async with started(
        new_producer(stack.kafka_bootstrap, f"{name}-{uuid.uuid4().hex[:8]}", security=stack.kafka_security)
    ) as producer:
        yield producer


class MemoryRegistry:
    """A schema registry in a list (the serde's protocol), for serializing without a registry server."""

    def __init__(self) -> None:
        self.schemas: list[str] = []

    async def register(self, subject: str, schema: str) -> int:
        self.schemas.append(schema)
        return len(self.schemas)

    async def schema_by_id(self, schema_id: int) -> str:
        return self.schemas[schema_id - 1]

    async def set_backward_compatibility(self, subject: str) -> None:
        return None


async def every_record(
    bootstrap: str, security: KafkaSecurity, *, deadline: float
) -> AsyncIterator[tuple[str, bytes]]:
    """(topic, key + value + header bytes) of every record of every topic, from the start to the end
    offsets taken when the read began."""
    admin = {"bootstrap.servers": bootstrap, **security.librdkafka()}
    listed = await asyncio.to_thread(lambda: AdminClient(admin).list_topics(timeout=30))
    partitions = [TopicPartition(name, p) for name, topic in listed.topics.items() for p in topic.partitions]
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, group_id=None, enable_auto_commit=False, **security.aiokafka()
    )
    await consumer.start()
    try:
        ends = await consumer.end_offsets(partitions)
        remaining = {tp for tp in partitions if ends[tp] > 0}
        consumer.assign(list(remaining))
        await consumer.seek_to_beginning(*remaining)
        async with asyncio.timeout(deadline):
            while remaining:
                for tp, records in (await consumer.getmany(*remaining, timeout_ms=500)).items():
                    for r in records:
                        if r.offset < ends[tp]:
                            headers = b"".join(k.encode() + v for k, v in r.headers)
                            yield tp.topic, (r.key or b"") + (r.value or b"") + headers
                for tp in list(remaining):
                    if await consumer.position(tp) >= ends[tp]:
                        remaining.discard(tp)
    finally:
        await consumer.stop()
