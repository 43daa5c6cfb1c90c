"""The tenants' webhook configuration materialized from its two compacted topics (the same consume loop as
ingest's views, `reelstream.kafka.compacted_view`), into one `reelstream.webhooks.tenants.TenantWebhooks`.

Secrets travel sealed under the tenants' data keys, so the views follow reelstream.keys.tenants too (a
`Keyring` over the key-encryption keys of a `KeyProvider`), and the state opens a secret when it signs.

`following_tenant_webhooks` replays all three topics whole before it returns (no delivery is signed from an
incomplete view), then keeps following them until exit. Used by the notifier and by ingest's admin routes.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator
from functools import partial
from typing import Any

from reelstream.crypto.keyring import Keyring
from reelstream.crypto.keys_view import TenantKeysView
from reelstream.crypto.provider import KeyProvider
from reelstream.kafka.compacted_view import CompactedView
from reelstream.kafka.security import PLAINTEXT, KafkaSecurity
from reelstream.webhooks.sealing import revealed
from reelstream.webhooks.tenants import TenantWebhooks, split_key
from schemas.events import WebhookEndpointRegistered, WebhookSecretIssued
from schemas.serde import AvroSerde
from schemas.topics import TENANT_KEYS, WEBHOOK_REGISTRATIONS, WEBHOOK_SECRETS

log = logging.getLogger(__name__)


class SecretsView(CompactedView[WebhookSecretIssued]):
    def __init__(
        self, bootstrap: str, serde: AvroSerde, state: TenantWebhooks, client_id: str, security: KafkaSecurity
    ) -> None:
        super().__init__(
            bootstrap, serde, topic=WEBHOOK_SECRETS, client_id=f"{client_id}-secrets", security=security
        )
        self.state = state

    def _on_value(self, key: str | None, value: WebhookSecretIssued) -> None:
        self.state.put_secret(value)

    def _on_tombstone(self, key: str) -> bool:
        parts = split_key(key)
        return parts is not None and self.state.retire_secret(*parts)

    def _size(self) -> int:
        return len(self.state)


class RegistrationsView(CompactedView[WebhookEndpointRegistered]):
    def __init__(
        self, bootstrap: str, serde: AvroSerde, state: TenantWebhooks, client_id: str, security: KafkaSecurity
    ) -> None:
        super().__init__(
            bootstrap,
            serde,
            topic=WEBHOOK_REGISTRATIONS,
            client_id=f"{client_id}-endpoints",
            security=security,
        )
        self.state = state

    def _on_value(self, key: str | None, value: WebhookEndpointRegistered) -> None:
        self.state.put_endpoint(value)

    def _on_tombstone(self, key: str) -> bool:
        parts = split_key(key)
        return parts is not None and self.state.delete_endpoint(*parts)

    def _size(self) -> int:
        return len(self.state)


class TenantWebhooksViews:
    """The three views over one state; construct freely, `start()` / `stop()` from a lifespan."""

    def __init__(
        self,
        bootstrap: str,
        serde: AvroSerde,
        client_id: str,
        provider: KeyProvider,
        security: KafkaSecurity = PLAINTEXT,
    ) -> None:
        self.keyring = Keyring(provider)
        self.state = TenantWebhooks(reveal=partial(revealed, self.keyring))
        self.views: tuple[CompactedView[Any], ...] = (
            TenantKeysView(bootstrap, serde, self.keyring, client_id, security),
            SecretsView(bootstrap, serde, self.state, client_id, security),
            RegistrationsView(bootstrap, serde, self.state, client_id, security),
        )

    async def start(self) -> None:
        for view in self.views:
            await view.start()

    async def wait_caught_up(self) -> None:
        for view in self.views:
            await view.wait_caught_up()

    async def stop(self) -> None:
        for view in self.views:
            await view.stop()

    @property
    def ready(self) -> bool:
        return all(v.running and v.caught_up for v in self.views)


@contextlib.asynccontextmanager
async def following_tenant_webhooks(
    bootstrap: str,
    serde: AvroSerde,
    client_id: str,
    provider: KeyProvider,
    security: KafkaSecurity = PLAINTEXT,
) -> AsyncIterator[TenantWebhooks]:
    """The tenants' webhook configuration, complete as of entry, and kept up to date until exit."""
    await serde.register(TENANT_KEYS, WEBHOOK_SECRETS, WEBHOOK_REGISTRATIONS)
    views = TenantWebhooksViews(bootstrap, serde, client_id, provider, security)
    try:
        await views.start()
        await views.wait_caught_up()
        log.info("tenant webhook configuration loaded: %d secrets and endpoints", len(views.state))
        yield views.state
    finally:
        await views.stop()
