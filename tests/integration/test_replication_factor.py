"""REELSTREAM_REPLICATION_FACTOR on the real broker: the topics a service creates itself (its Faust tables'
changelogs, the notifier's retry tiers) are requested with the configured replication factor. The local
broker is a single node, so factor 2 is refused there (INVALID_REPLICATION_FACTOR, error 38): proof that
the configured value, not 1, is what the services ask for; factor 1 creates them with one replica."""

from __future__ import annotations

import random
import uuid

import pytest
from aiokafka.admin import AIOKafkaAdminClient

from reelstream.endpoints import Endpoints
from reelstream.errors import ReelstreamError
from reelstream.settings import NotifierSettings, PipelineSettings
from streams.app import create_app, ensure_changelogs
from streams.notifier import ensure_retry_tiers

INVALID_REPLICATION_FACTOR = 38


async def _replicas(stack: Endpoints, names: list[str]) -> set[int]:
    admin = AIOKafkaAdminClient(
        bootstrap_servers=stack.kafka_bootstrap,
        **stack.kafka_security.aiokafka(),
        client_id="test-replication",
    )
    await admin.start()
    try:
        described = await admin.describe_topics(names)
    finally:
        await admin.close()
    return {len(p["replicas"]) for d in described for p in d["partitions"]}


def _env(stack: Endpoints, factor: int) -> dict[str, str]:
    return {
        **stack.as_env(),
        "REELSTREAM_APP_PREFIX": f"rf-{uuid.uuid4().hex[:8]}",
        "REELSTREAM_REPLICATION_FACTOR": str(factor),
        "REELSTREAM_KEY_DIR": "/nonexistent",  # not read: the tiers are created before any key is needed
        # a tier of its own, so that it is created here rather than found
        "REELSTREAM_WEBHOOK_RETRY_SCHEDULE": f"0,{random.randint(100_000, 999_999)}",
    }


async def test_changelogs_are_requested_with_the_configured_replication_factor(stack: Endpoints) -> None:
    refused = PipelineSettings.from_env(_env(stack, 2))
    app = create_app("probe", refused)
    app.Table("probe-state", key_type=bytes, value_type=bytes, partitions=2)
    with pytest.raises(ReelstreamError, match=f"changelog failed: {INVALID_REPLICATION_FACTOR}"):
        await ensure_changelogs(app, refused)

    settings = PipelineSettings.from_env(_env(stack, 1))
    app = create_app("probe", settings)
    app.Table("probe-state", key_type=bytes, value_type=bytes, partitions=2)
    created = await ensure_changelogs(app, settings)
    assert created == [f"{settings.app_prefix}-probe-probe-state-changelog"]
    assert await _replicas(stack, created) == {1}


async def test_retry_tiers_are_requested_with_the_configured_replication_factor(stack: Endpoints) -> None:
    with pytest.raises(ReelstreamError, match=f"failed: {INVALID_REPLICATION_FACTOR}"):
        await ensure_retry_tiers(NotifierSettings.from_env(_env(stack, 2)))
    created = await ensure_retry_tiers(NotifierSettings.from_env(_env(stack, 1)))
    assert created  # its own tier at least
    assert await _replicas(stack, created) == {1}
