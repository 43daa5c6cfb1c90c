"""Fixtures shared by every test tree: the real local stack, started by the project's own stack manager.

If REELSTREAM_KAFKA_BOOTSTRAP / REELSTREAM_SCHEMA_REGISTRY_URL / REELSTREAM_S3_ENDPOINT are set, those
services are used instead of starting local ones (this file is the tests' `__main__`: the one place that
reads the environment).
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator

import pytest

from devstack.manager import ExternalServices, LocalStack, StackLayout
from reelstream.endpoints import Endpoints


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Endpoints]:
    layout = StackLayout.ephemeral(tmp_path_factory.mktemp("stack"), os.environ)
    with LocalStack(layout, os.environ, ExternalServices.from_env(os.environ)) as endpoints:
        yield endpoints


@pytest.fixture(scope="session")
async def topics(stack: Endpoints) -> None:
    from reelstream.kafka.admin import ensure_topics
    from schemas.topics import ALL_TOPICS

    await ensure_topics(stack.kafka_bootstrap, ALL_TOPICS, security=stack.kafka_security)


@pytest.fixture(scope="session")
async def serde(stack: Endpoints, topics: None) -> AsyncIterator[object]:
    from tests.kafka_clients import registered_serde

    async with registered_serde(stack) as serde:
        yield serde
