"""The dev webhook receiver, over real HTTP on loopback: a signed delivery printed, a forged one refused."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator

import httpx
import pytest

from devstack.receiver import serve
from reelstream.webhooks.messages import generate_secret, webhook_headers

SECRET = generate_secret()


@pytest.fixture
def receiver() -> Iterator[tuple[str, list[str]]]:
    lines: list[str] = []
    server = serve(0, SECRET, lines.append)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/", lines
    finally:
        server.shutdown()
        server.server_close()


def post(url: str, secret: str, payload: dict[str, object]) -> httpx.Response:
    body = json.dumps(payload).encode()
    return httpx.post(url, content=body, headers=webhook_headers(secret, "msg_1", int(time.time()), body))


def test_a_signed_event_is_printed_in_one_line(receiver: tuple[str, list[str]]) -> None:
    url, lines = receiver
    job = {"id": "j1", "status": "succeeded", "progress": 1.0, "artifact": {"bytes": 1234}}
    response = post(url, SECRET, {"type": "job.succeeded", "timestamp": "t", "data": job})
    assert response.status_code == 204
    assert len(lines) == 1
    assert "✓ job.succeeded" in lines[0]
    assert "job j1, status succeeded, progress 100%, video 1234 bytes" in lines[0]
    assert "signature verified, id msg_1" in lines[0]


def test_a_delivery_signed_with_another_secret_is_refused(receiver: tuple[str, list[str]]) -> None:
    url, lines = receiver
    response = post(url, generate_secret(), {"type": "job.succeeded", "data": {"id": "j1"}})
    assert response.status_code == 400
    assert len(lines) == 1
    assert "refused a delivery" in lines[0]
    assert "j1" not in lines[0]
