"""Producing and consuming with aiokafka: acks from the broker or a named, retriable error."""

from __future__ import annotations

import asyncio
from typing import Any, TypeVar

from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError

from reelstream.errors import ReelstreamError
from schemas.serde import AvroSerde
from schemas.topics import Topic

T = TypeVar("T")


class BrokerUnavailableError(ReelstreamError):
    """The broker did not acknowledge a record in time; nothing can be promised to the caller."""

    code = "broker_unavailable"
    retriable = True


def new_producer(bootstrap: str, client_id: str) -> AIOKafkaProducer:
    """Idempotent, acks=all: a record acknowledged is durably in the log exactly once."""
    return AIOKafkaProducer(
        bootstrap_servers=bootstrap,
        client_id=client_id,
        acks="all",
        enable_idempotence=True,
        linger_ms=2,
        request_timeout_ms=15000,
    )


class Publisher:
    """Serializes with the registry serde and sends; `publish` returns once the broker acknowledged."""

    def __init__(self, producer: AIOKafkaProducer, serde: AvroSerde, timeout: float = 15.0) -> None:
        self._producer = producer
        self._serde = serde
        self._timeout = timeout

    async def publish(
        self,
        topic: Topic[T],
        key: str,
        value: T,
        partition: int | None = None,
        headers: list[tuple[str, bytes]] | None = None,
    ) -> Any:
        data = self._serde.serialize(topic, value)
        try:
            async with asyncio.timeout(self._timeout):
                return await self._producer.send_and_wait(
                    topic.name, data, key=key.encode(), partition=partition, headers=headers
                )
        except (KafkaError, TimeoutError) as exc:
            raise BrokerUnavailableError(
                f"{topic.name} did not acknowledge within {self._timeout:g}s: {exc!r}"
            ) from exc
