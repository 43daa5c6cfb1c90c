"""The webhook portal's calls (a tenant admin's endpoint updates, secret rotation, delivery log and
resends), as mixins of `Client` and `AsyncClient`: one surface, both sending the same `_calls`."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import TypeVar

from reelstream_client import _calls
from reelstream_client._core import Call
from reelstream_client.models import (
    DeliveryStatus,
    WebhookDeliveryList,
    WebhookEndpoint,
    WebhookResend,
    WebhookResendBatch,
    WebhookSecretRotated,
)

T = TypeVar("T")


class WebhookPortal:
    """Mixed into `Client`, which sends."""

    def _send(self, call: Call, model: type[T]) -> T:
        raise NotImplementedError

    def update_webhook_endpoint(
        self,
        tenant: str,
        endpoint_id: str,
        *,
        url: str | None = None,
        event_types: Sequence[str] | None = None,
        description: str | None = None,
        enabled: bool | None = None,
    ) -> WebhookEndpoint:
        """Change what is given (an empty `event_types`: the default types); the rest is kept."""
        call = _calls.update_webhook_endpoint(tenant, endpoint_id, url, event_types, description, enabled)
        return self._send(*call)

    def rotate_webhook_secret(
        self, tenant: str, secret_id: str, *, overlap_seconds: int | None = None
    ) -> WebhookSecretRotated:
        """A new secret (`.secret`, shown once); the old one also signs for `overlap_seconds` (1 day)."""
        return self._send(*_calls.rotate_webhook_secret(tenant, secret_id, overlap_seconds))

    def list_webhook_deliveries(
        self,
        tenant: str,
        endpoint_id: str,
        *,
        status: DeliveryStatus | None = None,
        cursor: str | None = None,
        limit: int | None = None,
    ) -> WebhookDeliveryList:
        """One page of the endpoint's delivery attempts, newest first (`.next_cursor`: the next page)."""
        return self._send(*_calls.list_webhook_deliveries(tenant, endpoint_id, status, cursor, limit))

    def resend_webhook_delivery(self, tenant: str, endpoint_id: str, delivery_id: str) -> WebhookResend:
        """Send a logged delivery again, under its webhook-id (receivers dedupe)."""
        return self._send(*_calls.resend_webhook_delivery(tenant, endpoint_id, delivery_id))

    def resend_failed_webhooks(
        self, tenant: str, endpoint_id: str, *, since: dt.datetime | str
    ) -> WebhookResendBatch:
        """Send again each message the endpoint never received since `since`."""
        return self._send(*_calls.resend_failed_webhooks(tenant, endpoint_id, since))


class AsyncWebhookPortal:
    """Mixed into `AsyncClient`, which sends."""

    async def _send(self, call: Call, model: type[T]) -> T:
        raise NotImplementedError

    async def update_webhook_endpoint(
        self,
        tenant: str,
        endpoint_id: str,
        *,
        url: str | None = None,
        event_types: Sequence[str] | None = None,
        description: str | None = None,
        enabled: bool | None = None,
    ) -> WebhookEndpoint:
        """Change what is given (an empty `event_types`: the default types); the rest is kept."""
        call = _calls.update_webhook_endpoint(tenant, endpoint_id, url, event_types, description, enabled)
        return await self._send(*call)

    async def rotate_webhook_secret(
        self, tenant: str, secret_id: str, *, overlap_seconds: int | None = None
    ) -> WebhookSecretRotated:
        """A new secret (`.secret`, shown once); the old one also signs for `overlap_seconds` (1 day)."""
        return await self._send(*_calls.rotate_webhook_secret(tenant, secret_id, overlap_seconds))

    async def list_webhook_deliveries(
        self,
        tenant: str,
        endpoint_id: str,
        *,
        status: DeliveryStatus | None = None,
        cursor: str | None = None,
        limit: int | None = None,
    ) -> WebhookDeliveryList:
        """One page of the endpoint's delivery attempts, newest first (`.next_cursor`: the next page)."""
        return await self._send(*_calls.list_webhook_deliveries(tenant, endpoint_id, status, cursor, limit))

    async def resend_webhook_delivery(self, tenant: str, endpoint_id: str, delivery_id: str) -> WebhookResend:
        """Send a logged delivery again, under its webhook-id (receivers dedupe)."""
        return await self._send(*_calls.resend_webhook_delivery(tenant, endpoint_id, delivery_id))

    async def resend_failed_webhooks(
        self, tenant: str, endpoint_id: str, *, since: dt.datetime | str
    ) -> WebhookResendBatch:
        """Send again each message the endpoint never received since `since`."""
        return await self._send(*_calls.resend_failed_webhooks(tenant, endpoint_id, since))
