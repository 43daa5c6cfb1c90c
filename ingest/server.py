"""How ingest is served: uvicorn's options from the settings, and its httptools protocol with the bounds
uvicorn lacks.

uvicorn (0.5x) bounds an idle keep-alive connection and, through `limit_concurrency`, the connections and
requests of a process, but not how long a client may take to send its headers (a slow-loris client held a
connection for as long as it liked), how long its body, or how large its header block is (httptools takes
any number of headers of any size). `bounded_protocol` adds those four to uvicorn's own protocol class:

- the request line and headers must be complete `header_timeout_seconds` after the connection opened or the
  request's first byte arrived: else 408 and the connection is closed;
- the body must be complete `body_timeout_seconds` after its headers: else 408 and the connection is closed
  (the handler then sees a disconnect);
- at most `max_header_bytes` of request line and headers and `max_headers` fields: else 431, closed.
"""

from __future__ import annotations

import asyncio
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from reelstream.http_settings import HttpServerSettings

REASONS = {408: b"Request Timeout", 431: b"Request Header Fields Too Large"}


def bounded_protocol(limits: HttpServerSettings) -> type[HttpToolsProtocol]:
    """uvicorn's httptools protocol with the header and body bounds of `limits`."""

    class BoundedHttpToolsProtocol(HttpToolsProtocol):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self._deadline: asyncio.TimerHandle | None = None
            self._header_bytes = 0
            self._header_count = 0
            self._refusal: int | None = None  # the status a parse error is answered with (431)

        def connection_made(self, transport: asyncio.BaseTransport) -> None:
            super().connection_made(transport)  # type: ignore[arg-type]
            self._arm(limits.header_timeout_seconds)

        def connection_lost(self, exc: Exception | None) -> None:
            self._disarm()
            super().connection_lost(exc)

        def on_message_begin(self) -> None:
            super().on_message_begin()
            self._header_bytes = self._header_count = 0
            if self._deadline is None:  # the next request on a kept-alive connection
                self._arm(limits.header_timeout_seconds)

        def on_url(self, url: bytes) -> None:
            self._count(len(url), 0)
            super().on_url(url)

        def on_header(self, name: bytes, value: bytes) -> None:
            self._count(len(name) + len(value), 1)
            super().on_header(name, value)

        def on_headers_complete(self) -> None:
            self._disarm()
            super().on_headers_complete()
            if not self.parser.should_upgrade() and self.cycle is not None and self.cycle.more_body:
                self._arm(limits.body_timeout_seconds)

        def on_message_complete(self) -> None:
            self._disarm()
            super().on_message_complete()

        def send_400_response(self, msg: str) -> None:
            """A parse error: ours (a header block too large, raised from `_count`) is a 431."""
            if self._refusal is None:
                super().send_400_response(msg)
            else:
                self._refuse(self._refusal)

        def _count(self, size: int, fields: int) -> None:
            self._header_bytes += size
            self._header_count += fields
            if self._header_bytes > limits.max_header_bytes or self._header_count > limits.max_headers:
                self._refusal = 431
                raise ValueError("header block too large")  # httptools stops parsing: send_400_response

        def _arm(self, seconds: float) -> None:
            self._disarm()
            self._deadline = self.loop.call_later(seconds, self._timed_out)

        def _disarm(self) -> None:
            if self._deadline is not None:
                self._deadline.cancel()
                self._deadline = None

        def _timed_out(self) -> None:
            self._deadline = None
            if self.cycle is not None and self.cycle.response_started:
                self.transport.close()  # the answer is under way: only cut it
            else:
                self._refuse(408)

        def _refuse(self, status: int) -> None:
            if self.transport.is_closing():
                return
            body = REASONS[status]
            head = b"HTTP/1.1 %d %s\r\n" % (status, body)
            fields = b"content-type: text/plain\r\ncontent-length: %d\r\nconnection: close\r\n\r\n" % len(
                body
            )
            self.transport.write(head + fields + body)
            self.transport.close()

    return BoundedHttpToolsProtocol


def server_options(limits: HttpServerSettings) -> dict[str, Any]:
    """uvicorn.run / uvicorn.Config keyword arguments for these bounds (besides app, host and port)."""
    return {
        "http": bounded_protocol(limits),
        "loop": "auto",
        "proxy_headers": False,
        "log_config": None,  # keep the logging configured in main()
        "timeout_keep_alive": limits.keep_alive_seconds,
        "limit_concurrency": limits.max_connections,
    }
