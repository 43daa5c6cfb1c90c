"""Retries: which calls, on what, how long; Retry-After honoured; the Idempotency-Key kept across attempts."""

from __future__ import annotations

import time

import pytest
from conftest import Reply, ScriptedServer, job, problem
from reelstream_client import (
    ApiConnectionError,
    ApiTimeout,
    ApiUnavailable,
    AsyncClient,
    Client,
    RateLimited,
    RetryPolicy,
)

FAST = RetryPolicy(attempts=4, wait_initial=0.01, wait_max=0.05, wait_jitter=0.01)


def failing_then(server: ScriptedServer, failures: list[Reply], success: Reply) -> None:
    pending = list(failures)
    server.script = lambda _seen: pending.pop(0) if pending else success


def test_a_read_is_retried_after_503_and_succeeds(server: ScriptedServer) -> None:
    failing_then(
        server,
        [Reply(503, problem(503, "Unavailable")), Reply(502, problem(502, "Bad Gateway"))],
        Reply(200, job()),
    )
    with Client(server.url, "k", retry=FAST) as client:
        assert client.get("j1").id == "j1"
    assert len(server.requests) == 3


def test_retry_after_is_waited(server: ScriptedServer) -> None:
    failing_then(
        server, [Reply(429, problem(429, "Too Many Requests"), {"Retry-After": "1"})], Reply(200, job())
    )
    started = time.monotonic()
    with Client(server.url, "k", retry=FAST) as client:
        client.get("j1")
    assert time.monotonic() - started >= 1.0  # the backoff alone would be 0.01 s
    assert len(server.requests) == 2


def test_a_retry_after_beyond_the_policy_is_raised_not_waited(server: ScriptedServer) -> None:
    server.script = lambda _seen: Reply(429, problem(429, "Too Many Requests"), {"Retry-After": "3600"})
    with Client(server.url, "k", retry=FAST) as client, pytest.raises(RateLimited) as limited:
        client.get("j1")
    assert limited.value.retry_after == 3600
    assert len(server.requests) == 1


def test_submit_sends_an_idempotency_key_and_keeps_it_on_retry(server: ScriptedServer) -> None:
    failing_then(server, [Reply(503, problem(503, "Unavailable"))], Reply(202, job(status="accepted")))
    with Client(server.url, "k", retry=FAST) as client:
        client.submit("a fox", width=64)
    keys = [seen.headers.get("idempotency-key") for seen in server.requests]
    assert len(keys) == 2
    assert keys[0]
    assert keys[0] == keys[1]


def test_a_non_idempotent_call_is_not_retried(server: ScriptedServer) -> None:
    server.script = lambda _seen: Reply(503, problem(503, "Unavailable"))
    with Client(server.url, "k", retry=FAST) as client, pytest.raises(ApiUnavailable):
        client.create_key("tenant-a")
    assert len(server.requests) == 1


def test_a_client_error_is_not_retried(server: ScriptedServer) -> None:
    server.script = lambda _seen: Reply(404, problem(404, "Not Found"))
    with Client(server.url, "k", retry=FAST) as client, pytest.raises(Exception, match="Not Found"):
        client.get("j1")
    assert len(server.requests) == 1


def test_an_unreachable_api_is_a_retriable_connection_error(server: ScriptedServer) -> None:
    url = server.url
    server.stop()
    started = time.monotonic()
    with Client(url, "k", retry=FAST) as client, pytest.raises(ApiConnectionError) as down:
        client.get("j1")
    assert down.value.retriable
    assert time.monotonic() - started < 5


def test_every_call_has_a_timeout(server: ScriptedServer) -> None:
    server.script = lambda _seen: Reply(200, job(), delay=1.0)
    with (
        Client(server.url, "k", timeout=0.2, retry=RetryPolicy(attempts=1)) as client,
        pytest.raises(ApiTimeout),
    ):
        client.get("j1")


async def test_the_async_client_retries_the_same_way(server: ScriptedServer) -> None:
    failing_then(
        server,
        [Reply(429, problem(429, "Too Many Requests"), {"Retry-After": "0"})],
        Reply(202, job(status="accepted")),
    )
    async with AsyncClient(server.url, "k", retry=FAST) as client:
        assert (await client.submit("a fox")).status == "accepted"
    assert len({seen.headers["idempotency-key"] for seen in server.requests}) == 1
    assert len(server.requests) == 2
