"""The broker clients the fixtures of several test packages open on a stack: a serde with every topic's schema
registered, and an idempotent acks=all producer. Each fixture picks its own scope. For unit tests of what
sits behind a Publisher: a schema registry in memory."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Protocol, TypeVar

from aiokafka import AIOKafkaProducer

from reelstream.endpoints import Endpoints
from reelstream.kafka.clients import new_producer
from reelstream.kafka.registry import ConfluentRegistry
from schemas.serde import AvroSerde
from schemas.topics import ALL_TOPICS


@asynccontextmanager
async def registered_serde(stack: Endpoints) -> AsyncIterator[AvroSerde]:
    registry = ConfluentRegistry(stack.schema_registry_url)
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
