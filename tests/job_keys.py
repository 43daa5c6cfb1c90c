"""What the strongest reader of the bus can open: the key-encryption keys themselves, plus every tenant key
and job key still on reelstream.keys.tenants / reelstream.keys.jobs (a `FieldOpener`, as the services use);
and every decoded record of some topics, for checks that a deleted job's fields no longer open."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition

from reelstream.crypto.job_keys_view import FieldOpener, following_job_keys
from reelstream.crypto.provider import FileKeyProvider
from reelstream.endpoints import Endpoints
from schemas.serde import AvroSerde
from schemas.topics import Topic


@contextlib.asynccontextmanager
async def job_key_reader(
    stack: Endpoints, serde: AvroSerde, key_dir: str | Path
) -> AsyncIterator[FieldOpener]:
    """The keys on the bus as of entry, opened with the key-encryption keys of `key_dir`."""
    async with following_job_keys(
        stack.kafka_bootstrap,
        serde,
        FileKeyProvider.load(key_dir),
        "test-job-key-reader",
        stack.kafka_security,
    ) as opener:
        yield opener


async def every_value(stack: Endpoints, serde: AvroSerde, topic: Topic[Any]) -> list[Any]:
    """Every value (tombstones left out) of `topic`, from its start to its end offsets as of the call."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=stack.kafka_bootstrap, enable_auto_commit=False, **stack.kafka_security.aiokafka()
    )
    await consumer.start()
    try:
        tps = [TopicPartition(topic.name, p) for p in range(topic.partitions)]
        ends = await consumer.end_offsets(tps)
        remaining = {tp for tp in tps if ends[tp] > 0}
        consumer.assign(list(remaining))
        await consumer.seek_to_beginning(*remaining)
        values: list[Any] = []
        while remaining:
            for tp, records in (await consumer.getmany(*remaining, timeout_ms=500)).items():
                for r in records:
                    if r.offset < ends[tp] and r.value is not None:
                        values.append(await serde.deserialize(topic, r.value))
            for tp in list(remaining):
                if await consumer.position(tp) >= ends[tp]:
                    remaining.discard(tp)
        return values
    finally:
        await consumer.stop()
