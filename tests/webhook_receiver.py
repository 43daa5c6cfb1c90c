"""A real HTTP endpoint on loopback that records the webhooks it receives (for tests)."""

from __future__ import annotations

import asyncio
import dataclasses
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Protocol

import pytest


@dataclass(frozen=True)
class Delivery:
    path: str
    headers: dict[str, str]
    body: bytes
    received_at: float = 0.0  # time.time() when the request arrived
    status: int = 0  # what the receiver answered


# what to answer a request: status code and extra response headers
Responder = Callable[[Delivery], tuple[int, dict[str, str]]]


@dataclass
class Receiver:
    url: str
    deliveries: list[Delivery] = field(default_factory=list)
    status: int = 204
    respond: Responder | None = None  # decides the answer per request (status is the default)
    # called before the answer is sent, outside the lock (a receiver that hangs on some requests)
    stall: Callable[[Delivery], None] | None = None
    _cond: threading.Condition = field(default_factory=threading.Condition)

    def record(self, delivery: Delivery) -> tuple[int, dict[str, str]]:
        """Decide the answer (under the lock, so a responder may count what came before), keep the request."""
        with self._cond:
            status, headers = self.respond(delivery) if self.respond else (self.status, {})
            self.deliveries.append(dataclasses.replace(delivery, status=status))
            self._cond.notify_all()
        return status, headers

    def wait_count(self, predicate: Callable[[Delivery], bool], count: int, timeout: float) -> list[Delivery]:
        """The first `count` deliveries matching `predicate`, once that many arrived (TimeoutError if not)."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                found = [d for d in self.deliveries if predicate(d)]
                if len(found) >= count:
                    return found[:count]
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError(f"{len(found)} of {count} matching webhooks within {timeout:g}s")
                self._cond.wait(remaining)

    def wait_until(self, condition: Callable[[list[Delivery]], bool], timeout: float) -> list[Delivery]:
        """Every delivery so far, once `condition` holds for them (TimeoutError if it does not in time)."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while not condition(self.deliveries):
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    received = len(self.deliveries)
                    raise TimeoutError(f"condition not met within {timeout:g}s ({received} received)")
                self._cond.wait(remaining)
            return list(self.deliveries)

    def matching(self, predicate: Callable[[Delivery], bool]) -> list[Delivery]:
        with self._cond:
            return [d for d in self.deliveries if predicate(d)]

    def wait_for(self, predicate: Callable[[Delivery], bool], timeout: float = 60.0) -> Delivery:
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                found = next((d for d in self.deliveries if predicate(d)), None)
                if found is not None:
                    return found
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError(
                        f"no matching webhook within {timeout:g}s ({len(self.deliveries)} received)"
                    )
                self._cond.wait(remaining)


@contextmanager
def webhook_receiver() -> Iterator[Receiver]:
    receiver: Receiver

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("content-length", "0")))
            headers = {k.lower(): v for k, v in self.headers.items()}
            delivery = Delivery(self.path, headers, body, time.time())
            status, extra = receiver.record(delivery)
            if receiver.stall is not None:
                receiver.stall(delivery)
            with suppress(OSError):  # the sender may have given up on a stalled request
                self.send_response(status)
                for name, value in extra.items():
                    self.send_header(name, value)
                self.send_header("content-length", "0")
                self.end_headers()

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    receiver = Receiver(url=f"http://127.0.0.1:{server.server_address[1]}/hooks/reelstream")
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


class Sender(Protocol):
    """The service under test that sends the webhooks (a subprocess wrapper of the tests)."""

    def check_running(self) -> None: ...


async def delivered(
    receiver: Receiver, sender: Sender, wanted: Callable[[Delivery], bool], within: float = 60.0
) -> Delivery:
    """The first delivery `wanted` accepts, waited for in one-second slices while `sender` must keep
    running: a sender that crashed fails the test at once (with its log), not at the deadline."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        sender.check_running()
        with suppress(TimeoutError):
            return await asyncio.to_thread(receiver.wait_for, wanted, 1.0)
    log = getattr(sender, "log", None)
    pytest.fail(f"no such webhook within {within:g}s" + (f":\n{log()[-4000:]}" if log else ""))
