"""Disabled webhook endpoints (410 Gone), shared by every notifier through a compacted topic.

`DisabledEndpoints` is the in-memory view; `follow_disabled_endpoints` fills it with everything on
reelstream.webhooks.endpoints before returning (so no delivery starts from an incomplete view), then keeps
following the topic in a background task. A notifier that disables an endpoint itself adds it at once; a
tombstone (an admin's `POST /v1/admin/webhooks/enable`) removes it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.errors import KafkaError

from reelstream.errors import ReelstreamError
from reelstream.kafka.consume_loop import ConsumeLoop, read_range
from reelstream.kafka.security import PLAINTEXT, KafkaSecurity
from reelstream.webhooks.retries import endpoint_key
from schemas.errors import SerializationError
from schemas.events import WebhookEndpointDisabled
from schemas.serde import AvroSerde
from schemas.topics import WEBHOOK_ENDPOINTS

log = logging.getLogger(__name__)


class DisabledEndpoints:
    """Endpoints (by URL hash) that answered 410 Gone."""

    def __init__(self) -> None:
        self._gone: dict[str, WebhookEndpointDisabled] = {}

    def add(self, record: WebhookEndpointDisabled) -> None:
        self._gone[record.endpoint_sha256] = record

    def remove(self, endpoint_sha256: str) -> bool:
        return self._gone.pop(endpoint_sha256, None) is not None

    def of(self, url: str) -> WebhookEndpointDisabled | None:
        return self._gone.get(endpoint_key(url))

    def __len__(self) -> int:
        return len(self._gone)


async def _apply(
    serde: AvroSerde, endpoints: DisabledEndpoints, key: bytes | None, value: bytes | None
) -> None:
    if value is None:  # a tombstone: an admin re-enabled the endpoint (POST /v1/admin/webhooks/enable)
        digest = key.decode(errors="replace") if key is not None else ""
        if endpoints.remove(digest):
            log.info("webhook endpoint %s… re-enabled", digest[:12])
        return
    try:
        endpoints.add(await serde.deserialize(WEBHOOK_ENDPOINTS, value))
    except SerializationError as exc:
        log.error("unreadable record on %s: %s", WEBHOOK_ENDPOINTS.name, exc.message)


@contextlib.asynccontextmanager
async def follow_disabled_endpoints(
    bootstrap: str, serde: AvroSerde, security: KafkaSecurity = PLAINTEXT
) -> AsyncIterator[DisabledEndpoints]:
    """The disabled endpoints, complete as of entry, and kept up to date until exit."""
    endpoints = DisabledEndpoints()
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False, **security.aiokafka())
    try:
        await consumer.start()
        tps = [TopicPartition(WEBHOOK_ENDPOINTS.name, p) for p in range(WEBHOOK_ENDPOINTS.partitions)]
        consumer.assign(tps)
        begin, end = await consumer.beginning_offsets(tps), await consumer.end_offsets(tps)
        for tp in tps:
            async for record in read_range(consumer, tp, begin[tp], end[tp]):
                await _apply(serde, endpoints, record.key, record.value)
    except KafkaError as exc:
        await consumer.stop()
        raise ReelstreamError(f"reading {WEBHOOK_ENDPOINTS.name} failed: {exc!r}", retriable=True) from exc
    log.info("%d disabled webhook endpoints", len(endpoints))
    loop = ConsumeLoop(consumer, lambda record: _apply(serde, endpoints, record.key, record.value))
    task = asyncio.create_task(loop.run())
    try:
        yield endpoints
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await consumer.stop()
