"""Fixtures shared by the integration suites that watch a stage from outside: a webhook receiver and a
producer on the real broker."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator

import pytest
from aiokafka import AIOKafkaProducer

from reelstream.kafka.clients import new_producer
from reelstream.stack.manager import Endpoints
from tests.webhook_receiver import Receiver, webhook_receiver


@pytest.fixture(scope="module")
def receiver() -> Iterator[Receiver]:
    with webhook_receiver() as recv:
        yield recv


@pytest.fixture(scope="module")
async def producer(stack: Endpoints, topics: None) -> AsyncIterator[AIOKafkaProducer]:
    producer = new_producer(stack.kafka_bootstrap, f"test-{uuid.uuid4().hex[:8]}")
    await producer.start()
    yield producer
    await producer.stop()
