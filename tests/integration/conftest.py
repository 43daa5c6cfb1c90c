"""Fixtures shared by the integration suites that watch a stage from outside: a webhook receiver and a
producer on the real broker."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest
from aiokafka import AIOKafkaProducer

from reelstream.endpoints import Endpoints
from tests.kafka_clients import started_producer
from tests.webhook_receiver import Receiver, webhook_receiver


@pytest.fixture(scope="module")
def receiver() -> Iterator[Receiver]:
    with webhook_receiver() as recv:
        yield recv


@pytest.fixture(scope="module")
async def producer(stack: Endpoints, topics: None) -> AsyncIterator[AIOKafkaProducer]:
    async with started_producer(stack, "test") as producer:
        yield producer
