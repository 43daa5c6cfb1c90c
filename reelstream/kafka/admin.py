"""Create the declared topics idempotently and check that existing ones match their declaration."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Protocol

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType
from aiokafka.errors import KafkaError, TopicAlreadyExistsError

from reelstream.errors import ReelstreamError
from reelstream.kafka.security import PLAINTEXT, KafkaSecurity

logger = logging.getLogger(__name__)

VISIBLE_WITHIN_SECONDS = 30.0  # how long a topic just created may take to show in the broker's metadata


class TopicSpec(Protocol):
    """What topic creation needs: a declared `Topic`, or an internal one such as a table's changelog."""

    @property
    def name(self) -> str: ...

    @property
    def partitions(self) -> int: ...

    def config(self) -> dict[str, str]: ...


@dataclass(frozen=True)
class CompactedTopic:
    """An internal compacted topic (a Faust table's changelog)."""

    name: str
    partitions: int

    def config(self) -> dict[str, str]:
        # Kafka compacts only closed segments: rolled every few minutes and cleaned once a tenth is stale,
        # a restarted stage replays roughly the last segment's writes plus one record per live key, not
        # every write since the topic was made (the default segment is 1 GiB or a week)
        return {"cleanup.policy": "compact", "segment.ms": "300000", "min.cleanable.dirty.ratio": "0.1"}


class TopicMismatchError(ReelstreamError):
    """An existing topic differs from its declaration in a way Kafka cannot change in place."""

    code = "topic_mismatch"


async def ensure_topics(
    bootstrap: str,
    topics: Iterable[TopicSpec],
    replication_factor: int = 1,
    security: KafkaSecurity = PLAINTEXT,
) -> list[str]:
    """Create missing topics; return the names created. Existing ones must have the declared partitions."""
    admin = AIOKafkaAdminClient(
        bootstrap_servers=bootstrap, client_id="reelstream-admin", **security.aiokafka()
    )
    await admin.start()
    try:
        declared = list(topics)
        created = await _create(admin, declared, replication_factor)
        await _check_partitions(admin, [t for t in declared if t.name not in created])
        # the broker's metadata may lag behind a creation: a client started right after this (a Faust app
        # fetching its tables' changelogs) would find the topic missing and never look again
        await _until_visible(admin, [t for t in declared if t.name in created])
        return created
    finally:
        await admin.close()


def topic_requests(topics: Iterable[TopicSpec], replication_factor: int) -> list[NewTopic]:
    """What is asked of the broker: each topic with its partitions, configs and `replication_factor`."""
    return [NewTopic(t.name, t.partitions, replication_factor, topic_configs=t.config()) for t in topics]


async def _create(admin: AIOKafkaAdminClient, topics: list[TopicSpec], replication_factor: int) -> list[str]:
    """Ask for every topic; the broker answers per topic (created, already exists, or an error)."""
    new = topic_requests(topics, replication_factor)
    try:
        response = await admin.create_topics(new)
    except KafkaError as exc:
        raise ReelstreamError(f"creating topics failed: {exc!r}", retriable=True) from exc
    created = []
    for name, error_code, error_message in response.topic_errors:
        if error_code == 0:
            created.append(name)
            logger.info("created topic %s", name, extra={"topic": name})
        elif error_code != TopicAlreadyExistsError.errno:
            raise ReelstreamError(f"creating topic {name} failed: {error_code} {error_message}")
    return created


async def _check_partitions(admin: AIOKafkaAdminClient, topics: list[TopicSpec]) -> None:
    if not topics:
        return
    described = await admin.describe_topics([t.name for t in topics])
    counts = {d["topic"]: len(d["partitions"]) for d in described}
    for topic in topics:
        if counts.get(topic.name) != topic.partitions:
            raise TopicMismatchError(
                f"topic {topic.name} has {counts.get(topic.name)} partitions, declared {topic.partitions}"
            )


async def _until_visible(admin: AIOKafkaAdminClient, topics: list[TopicSpec]) -> None:
    """Wait until the metadata shows every one of `topics` with its declared partitions."""
    waiting = {t.name: t.partitions for t in topics}
    try:
        async with asyncio.timeout(VISIBLE_WITHIN_SECONDS):
            while waiting:
                described = await admin.describe_topics(list(waiting))
                for d in described:
                    if d["error_code"] == 0 and len(d["partitions"]) == waiting.get(d["topic"]):
                        del waiting[d["topic"]]
                if waiting:
                    await asyncio.sleep(0.1)  # the next metadata look, within the deadline
    except TimeoutError:
        raise ReelstreamError(
            f"topics {sorted(waiting)} created, yet not in the metadata after {VISIBLE_WITHIN_SECONDS:g}s",
            retriable=True,
        ) from None


async def topic_configs(bootstrap: str, name: str, security: KafkaSecurity = PLAINTEXT) -> dict[str, str]:
    """The effective configuration of one topic (used by tests and `reelstream topics describe`)."""
    admin = AIOKafkaAdminClient(
        bootstrap_servers=bootstrap, client_id="reelstream-admin", **security.aiokafka()
    )
    await admin.start()
    try:
        responses = await admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, name)])
    finally:
        await admin.close()
    resources = responses[0].resources
    return {entry[0]: entry[1] for entry in resources[0][4]}
