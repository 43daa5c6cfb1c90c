"""A test package's own Kafka, registry and MinIO, overriding the session's `stack`, `topics` and `serde`
(import the three into the package's conftest). For packages whose fresh consumer groups must not first read
every other test's records on the session's broker: a pipeline's scheduler would replay other tests' jobs and
heartbeats (slots of another pipeline), a notifier their retry tiers."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator

import pytest

from devstack.manager import LocalStack, StackLayout
from reelstream.endpoints import Endpoints
from reelstream.kafka.admin import ensure_topics
from schemas.serde import AvroSerde
from schemas.topics import ALL_TOPICS
from tests.kafka_clients import registered_serde


@pytest.fixture(scope="package")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Endpoints]:
    layout = StackLayout.ephemeral(tmp_path_factory.mktemp("package-stack"), os.environ)
    with LocalStack(layout, os.environ) as endpoints:
        yield endpoints


@pytest.fixture(scope="package")
async def topics(stack: Endpoints) -> None:
    await ensure_topics(stack.kafka_bootstrap, ALL_TOPICS, security=stack.kafka_security)


@pytest.fixture(scope="package")
async def serde(stack: Endpoints, topics: None) -> AsyncIterator[AvroSerde]:
    async with registered_serde(stack) as serde:
        yield serde
