"""Ingest's HTTP-facing settings (built by `IngestSettings.from_config`): the server's connection bounds,
the event streams' bounds, and where webhook targets may point."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from reelstream.webhooks.targets import Network, parse_networks, url_problem


@dataclass(frozen=True)
class HttpServerSettings:
    """Bounds on what one client connection may take from an ingest process (ingest.server)."""

    header_timeout_seconds: float = 10.0  # the request line and headers must be in by then
    body_timeout_seconds: float = 30.0  # the body must be in this long after the headers
    keep_alive_seconds: int = 5
    max_connections: int = 1000  # uvicorn's limit_concurrency: beyond it, 503
    max_header_bytes: int = 32 * 1024
    max_headers: int = 100

    @classmethod
    def from_values(cls, v: Any) -> HttpServerSettings:
        return cls(
            header_timeout_seconds=v.http_header_timeout_seconds,
            body_timeout_seconds=v.http_body_timeout_seconds,
            keep_alive_seconds=v.http_keep_alive_seconds,
            max_connections=v.http_max_connections,
            max_header_bytes=v.http_max_header_bytes,
            max_headers=v.http_max_headers,
        )


@dataclass(frozen=True)
class EventStreamSettings:
    """Bounds on `GET /v1/jobs/{id}/events` (ingest.sse)."""

    max_streams_per_tenant: int = 16  # per process; one more is a 429
    heartbeat_seconds: float = 15.0
    max_stream_seconds: float = 3600.0  # then the stream ends and the client reconnects
    retry_ms: int = 3000  # the `retry:` field sent first

    @classmethod
    def from_values(cls, v: Any) -> EventStreamSettings:
        return cls(
            max_streams_per_tenant=v.sse_max_streams_per_tenant,
            heartbeat_seconds=v.sse_heartbeat_seconds,
            max_stream_seconds=v.sse_max_stream_seconds,
            retry_ms=v.sse_retry_ms,
        )


@dataclass(frozen=True)
class WebhookTargetPolicy:
    """What a webhook URL may name at submit (reelstream.webhooks.targets.url_problem): the one rule that
    ingest applies to an HTTP submission and admission to a SubmitJob produced straight to Kafka."""

    allow_http: bool = False  # dev and tests only
    allow_networks: tuple[Network, ...] = ()  # non-public networks allowed (dev and tests: loopback)

    def problem(self, url: str) -> str | None:
        """Why `url` may not be a webhook target under this policy (None: it may)."""
        return url_problem(url, allow_http=self.allow_http, allow=self.allow_networks)

    @classmethod
    def from_values(cls, v: Any) -> WebhookTargetPolicy:
        return cls(v.webhook_allow_http, parse_networks(v.webhook_allow_networks))
