"""Endpoint health shared between notifier replicas, through the compacted reelstream.webhooks.health.

Each replica keeps its endpoints' states in `EndpointHealth` (reelstream.webhooks.endpoint_health, pure).
When an attempt changes an endpoint's state (a failure, or the first success after failures), the gate
calls `SharedHealth.publish`, which writes the new state under the endpoint's digest. `HealthView` replays
the topic whole before the notifier delivers anything (a restarted replica starts with every backoff and
failure window as it stood), then keeps applying what any replica writes, the later state winning. Sharing is
best-effort: a replica that cannot publish still enforces its own state, and says so in its log.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
from collections.abc import AsyncIterator
from datetime import UTC, datetime

from reelstream.errors import ReelstreamError
from reelstream.kafka.clients import Publisher
from reelstream.kafka.compacted_view import CompactedView
from reelstream.kafka.security import PLAINTEXT, KafkaSecurity
from reelstream.webhooks.endpoint_health import EndpointHealth, Finished, SharedState, tenant_of
from schemas.events import WebhookEndpointHealth
from schemas.serde import AvroSerde
from schemas.topics import WEBHOOK_HEALTH

log = logging.getLogger(__name__)


def endpoint_digest(endpoint: str) -> str:
    return hashlib.sha256(endpoint.encode()).hexdigest()


def _instant(seconds: float | None) -> datetime | None:
    return None if not seconds else datetime.fromtimestamp(seconds, UTC)


def record_of(endpoint: str, shared: SharedState, disabled: bool = False) -> WebhookEndpointHealth:
    return WebhookEndpointHealth(
        endpoint_sha256=endpoint_digest(endpoint),
        tenant_id=tenant_of(endpoint),
        endpoint=endpoint,
        failures=shared.failures,
        failing_since=_instant(shared.failing_since),
        backoff_until=_instant(shared.not_before),
        disabled=disabled,
        occurred_at=datetime.fromtimestamp(shared.at, UTC),
    )


def shared_of(record: WebhookEndpointHealth) -> SharedState:
    since, until = record.failing_since, record.backoff_until
    return SharedState(
        failures=record.failures,
        failing_since=None if since is None else since.timestamp(),
        not_before=0.0 if until is None else until.timestamp(),
        at=record.occurred_at.timestamp(),
    )


class HealthView(CompactedView[WebhookEndpointHealth]):
    """Every replica's endpoint states, applied to this replica's `EndpointHealth`."""

    def __init__(
        self,
        bootstrap: str,
        serde: AvroSerde,
        health: EndpointHealth,
        client_id: str,
        security: KafkaSecurity = PLAINTEXT,
    ) -> None:
        super().__init__(
            bootstrap, serde, topic=WEBHOOK_HEALTH, client_id=f"{client_id}-health", security=security
        )
        self.health = health

    def _on_value(self, key: str | None, value: WebhookEndpointHealth) -> None:
        self.health.apply(value.endpoint, shared_of(value))

    def _on_tombstone(self, key: str) -> bool:
        return False  # none are written: a recovered endpoint's record says failures 0

    def _size(self) -> int:
        return len(self.health)


class SharedHealth:
    """The gate's `on_change`: publishes an endpoint's new state for the other replicas."""

    def __init__(self, publisher: Publisher) -> None:
        self.publisher = publisher

    async def publish(self, endpoint: str, finished: Finished) -> None:
        if finished.shared is None:
            return
        record = record_of(endpoint, finished.shared, finished.disable)
        try:
            await self.publisher.publish(WEBHOOK_HEALTH, record.endpoint_sha256, record)
        except ReelstreamError as exc:  # the replica still enforces its own state
            log.warning("endpoint health not shared: %s", exc.message, extra={"topic": WEBHOOK_HEALTH.name})


@contextlib.asynccontextmanager
async def following_endpoint_health(
    bootstrap: str,
    serde: AvroSerde,
    health: EndpointHealth,
    client_id: str,
    security: KafkaSecurity = PLAINTEXT,
) -> AsyncIterator[HealthView]:
    """`health` holds every endpoint state on the topic as of entry, and follows it until exit."""
    await serde.register(WEBHOOK_HEALTH)
    view = HealthView(bootstrap, serde, health, client_id, security)
    try:
        await view.start()
        await view.wait_caught_up()
        log.info("endpoint health loaded: %d endpoints failing or busy", len(health))
        yield view
    finally:
        await view.stop()
