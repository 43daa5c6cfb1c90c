"""Each tenant's own webhook configuration: signing secrets (rotation) and registered endpoints (filters).

Pure: no Kafka, Faust or HTTP. `TenantWebhooks` is the state both the notifier and ingest materialize from
the compacted topics reelstream.webhooks.secrets and reelstream.webhooks.registrations (keys
`tenant_id/secret_id` and `tenant_id/endpoint_id`; a tombstone retires a secret or deletes an endpoint).

Signing: a delivery to a tenant is signed with EVERY active secret of the tenant (created, not retired,
not past its expires_at), so a receiver holding any of them verifies it and can rotate without downtime.
Secrets travel sealed (reelstream.webhooks.sealing): `reveal` opens one. A tenant without an active secret
gets no signed delivery at all (there is no shared global secret).

Fan-out: a terminal job event goes to the job's own webhook_url, and a job event to every enabled
registered endpoint of its tenant whose filter names its type (an empty filter: the default types,
`reelstream.webhooks.messages.DEFAULT_TYPE_NAMES`; the opt-in ones must be named); each pair is its own
delivery with its own webhook-id, derived from (event id, endpoint id): redelivering the event reuses it.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
from collections.abc import Callable
from datetime import datetime

from reelstream.webhooks.messages import DEFAULT_TYPE_NAMES
from schemas.events import WebhookEndpointRegistered, WebhookSecretIssued

KEY_SEPARATOR = "/"


def record_key(tenant_id: str, item_id: str) -> str:
    """`tenant/secret_id` or `tenant/endpoint_id`: the key on the compacted topics."""
    return f"{tenant_id}{KEY_SEPARATOR}{item_id}"


def split_key(key: str) -> tuple[str, str] | None:
    tenant_id, sep, item_id = key.rpartition(KEY_SEPARATOR)
    return (tenant_id, item_id) if sep and tenant_id and item_id else None


def new_secret_id() -> str:
    return "whsk_" + secrets.token_hex(8)


def new_endpoint_id() -> str:
    return "ep_" + secrets.token_hex(8)


def endpoint_webhook_id(event_id: str, endpoint_id: str) -> str:
    """The webhook-id of one job event delivered to one registered endpoint: stable across redeliveries of
    the event, distinct per endpoint (and from the event id the job's own webhook_url receives)."""
    digest = hashlib.sha256(f"{event_id}{KEY_SEPARATOR}{endpoint_id}".encode()).digest()
    return "msg_" + base64.b32encode(digest[:15]).decode("ascii").lower()


def accepts(endpoint: WebhookEndpointRegistered, type_name: str) -> bool:
    """Whether the endpoint is enabled and its filter lets `type_name` through (an empty filter: the
    default types)."""
    return endpoint.enabled and type_name in (endpoint.event_types or DEFAULT_TYPE_NAMES)


def is_active(secret: WebhookSecretIssued, now: datetime) -> bool:
    return secret.expires_at is None or now < secret.expires_at


class TenantWebhooks:
    """Secrets and endpoints per tenant, as the compacted topics hold them."""

    def __init__(self, reveal: Callable[[WebhookSecretIssued], str | None] = lambda r: r.secret) -> None:
        self._reveal = reveal
        self._secrets: dict[str, dict[str, WebhookSecretIssued]] = {}
        self._endpoints: dict[str, dict[str, WebhookEndpointRegistered]] = {}

    # ---- applying the topics ---------------------------------------------------------------------------

    def put_secret(self, record: WebhookSecretIssued) -> None:
        self._secrets.setdefault(record.tenant_id, {})[record.secret_id] = record

    def retire_secret(self, tenant_id: str, secret_id: str) -> bool:
        return self._secrets.get(tenant_id, {}).pop(secret_id, None) is not None

    def put_endpoint(self, record: WebhookEndpointRegistered) -> None:
        self._endpoints.setdefault(record.tenant_id, {})[record.endpoint_id] = record

    def delete_endpoint(self, tenant_id: str, endpoint_id: str) -> bool:
        return self._endpoints.get(tenant_id, {}).pop(endpoint_id, None) is not None

    # ---- reading -----------------------------------------------------------------------------------------

    def secrets_of(self, tenant_id: str, now: datetime) -> list[WebhookSecretIssued]:
        """The tenant's active secrets, oldest first."""
        active = [s for s in self._secrets.get(tenant_id, {}).values() if is_active(s, now)]
        return sorted(active, key=lambda s: (s.occurred_at, s.secret_id))

    def secret(self, tenant_id: str, secret_id: str) -> WebhookSecretIssued | None:
        return self._secrets.get(tenant_id, {}).get(secret_id)

    def signing_secrets(self, tenant_id: str, now: datetime) -> tuple[str, ...]:
        """What to sign a delivery to the tenant with: each of its active secrets that opens (maybe none)."""
        opened = (self._reveal(s) for s in self.secrets_of(tenant_id, now))
        return tuple(secret for secret in opened if secret is not None)

    def all_secrets(self) -> list[WebhookSecretIssued]:
        return [s for held in self._secrets.values() for s in held.values()]

    def endpoints_of(self, tenant_id: str) -> list[WebhookEndpointRegistered]:
        return sorted(
            self._endpoints.get(tenant_id, {}).values(), key=lambda e: (e.occurred_at, e.endpoint_id)
        )

    def endpoint(self, tenant_id: str, endpoint_id: str) -> WebhookEndpointRegistered | None:
        return self._endpoints.get(tenant_id, {}).get(endpoint_id)

    def subscribers(self, tenant_id: str, type_name: str) -> list[WebhookEndpointRegistered]:
        """The tenant's endpoints whose filter lets `type_name` through."""
        return [e for e in self.endpoints_of(tenant_id) if accepts(e, type_name)]

    def __len__(self) -> int:
        return sum(map(len, self._secrets.values())) + sum(map(len, self._endpoints.values()))
