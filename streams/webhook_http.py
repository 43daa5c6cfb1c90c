"""The HTTP side of webhooks: an SSRF-guarded client and one signed POST, described as a WebhookDelivery.

A receiver's fault never raises here; what to do about it (retry, give up, disable) is
reelstream.webhooks.retries' decision, applied by streams.webhook_delivery.
"""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import httpx

from reelstream.settings import NotifierSettings
from reelstream.tracing import TRACEPARENT
from reelstream.webhooks.messages import (
    BLOCKED_TARGET,
    Network,
    event_payload,
    is_blocked_address,
    parse_networks,
    webhook_headers,
)
from reelstream.webhooks.retries import DEADLINE_EXCEEDED
from schemas.events import DeliveryOutcome, JobEvent, WebhookDelivery

MAX_ERROR_CHARS = 300


def _describe(exc: Exception, url: str) -> str:
    """A transport error as text for the delivery record, with the URL (and any token in it) left out."""
    detail = str(exc).replace(url, "<webhook url>")
    text = f"{type(exc).__name__}: {detail}" if detail else type(exc).__name__
    return text[:MAX_ERROR_CHARS]


class BlockedTargetError(httpx.TransportError):
    """The webhook host resolves to an address webhooks may not reach (see webhooks.is_blocked_address)."""


class GuardedTransport(httpx.AsyncHTTPTransport):
    """Resolves the host, refuses it if any of its addresses is blocked, then connects to the address it
    checked (Host header and TLS server name stay the original host), so a DNS answer that changes between
    the check and the connection (rebinding) cannot reach an internal address."""

    def __init__(self, allow: tuple[Network, ...], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._allow = allow

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.scheme not in ("http", "https"):
            return await super().handle_async_request(request)  # httpcore refuses it (UnsupportedProtocol)
        host = request.url.host
        port = request.url.port or (443 if request.url.scheme == "https" else 80)
        try:
            infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except (OSError, UnicodeError) as exc:
            raise httpx.ConnectError(f"cannot resolve host: {exc}", request=request) from exc
        addresses = [str(info[4][0]) for info in infos]
        if not addresses or any(is_blocked_address(a, self._allow) for a in addresses):
            raise BlockedTargetError(BLOCKED_TARGET, request=request)
        request.url = request.url.copy_with(host=addresses[0])
        request.extensions = {**request.extensions, "sni_hostname": host}
        return await super().handle_async_request(request)


def new_http_client(settings: NotifierSettings) -> httpx.AsyncClient:
    """The client every delivery goes through, behind the SSRF-guarding transport; redirects are not
    followed (a redirect is a failed attempt)."""
    allow = parse_networks(settings.webhook_allow_networks)
    return httpx.AsyncClient(
        transport=GuardedTransport(allow),
        timeout=httpx.Timeout(settings.timeout_seconds),
        follow_redirects=False,
        headers={"user-agent": "reelstream-notifier"},
    )


@dataclass(frozen=True)
class Attempt:
    delivery: WebhookDelivery
    retry_after: str | None  # the receiver's Retry-After header, as sent


@dataclass(frozen=True)
class Outbound:
    """One webhook message to one URL: the body is signed under `webhook_id` (the same on every attempt)."""

    url: str
    webhook_id: str
    body: bytes
    tenant_id: str
    job_id: str = ""  # empty for a ping
    endpoint_id: str | None = None  # a registered endpoint; None: the job's own webhook_url
    event_type: str | None = None  # the body's `type` (job.succeeded, ping, …), recorded in the delivery log

    @classmethod
    def of_event(cls, event: JobEvent) -> Outbound:
        """A job event to the job's own webhook_url, under the event's id."""
        url = event.status.webhook_url
        if not url:
            raise ValueError(f"job event {event.event_id} has no webhook URL")
        return cls(url, event.event_id, event_payload(event), event.tenant_id, event.job_id)


async def post(
    client: httpx.AsyncClient,
    secret: str | Sequence[str],
    message: Outbound,
    now: int,
    *,
    attempt: int = 1,
    traceparent: str | None = None,
    deadline: float | None = None,
) -> Attempt:
    """POST `message` once, signed with `secret` (or each of several); the outcome and the receiver's
    Retry-After, never a raise. `deadline` (seconds) bounds the whole attempt: resolving, connecting, TLS,
    sending and the answer's headers; the client's timeouts bound each step only.

    `now` (Unix seconds) is the `webhook-timestamp`; `webhook-id` is the message's id, so every attempt of
    one message carries the same id and receivers can drop duplicates. `traceparent` (W3C) lets the
    receiver join the job's trace."""
    url = message.url
    headers = webhook_headers(secret, message.webhook_id, now, message.body)
    if traceparent:
        headers[TRACEPARENT] = traceparent
    status_code: int | None = None
    error: str | None = None
    retry_after: str | None = None
    started = time.perf_counter()
    try:
        async with asyncio.timeout(deadline):
            request = client.build_request("POST", url, content=message.body, headers=headers)
            response = await client.send(request, stream=True)  # the receiver's body is never read
            await response.aclose()
        status_code = response.status_code
        retry_after = response.headers.get("retry-after")
    except TimeoutError:
        error = f"{DEADLINE_EXCEEDED}: no answer within {deadline:g} s"
    except BlockedTargetError:
        error = BLOCKED_TARGET
    except (httpx.HTTPError, httpx.InvalidURL) as exc:
        error = _describe(exc, url)
    duration_ms = (time.perf_counter() - started) * 1000
    delivered = status_code is not None and 200 <= status_code < 300
    delivery = WebhookDelivery(
        job_id=message.job_id,
        tenant_id=message.tenant_id,
        webhook_event_id=message.webhook_id,
        attempt=attempt,
        outcome=DeliveryOutcome.DELIVERED if delivered else DeliveryOutcome.FAILED,
        duration_ms=duration_ms,
        status_code=status_code,
        error=error,
        endpoint_id=message.endpoint_id,
        event_type=message.event_type,
    )
    return Attempt(delivery, retry_after)


async def post_once(
    client: httpx.AsyncClient,
    secret: str | Sequence[str],
    event: JobEvent,
    now: int,
    *,
    attempt: int = 1,
    traceparent: str | None = None,
) -> Attempt:
    """POST the signed webhook of `event` to the job's webhook_url once (see `post`)."""
    return await post(client, secret, Outbound.of_event(event), now, attempt=attempt, traceparent=traceparent)


async def deliver(
    client: httpx.AsyncClient, secret: str | Sequence[str], event: JobEvent, now: int, *, attempt: int = 1
) -> WebhookDelivery:
    """One attempt, described (see post_once)."""
    return (await post_once(client, secret, event, now, attempt=attempt)).delivery
