"""`delete`: one DELETE, 204 is done; a job that is gone is NotFound unless `missing_ok` (a retry that finds
its own deletion applied). The same on the async client."""

from __future__ import annotations

import pytest
from conftest import Reply, ScriptedServer, problem
from reelstream_client import AsyncClient, Client, NotFound, RetryPolicy

ONCE = RetryPolicy(attempts=1)


def gone_after_first(server: ScriptedServer) -> None:
    server.script = lambda seen: (
        Reply(204)
        if len(server.requests) == 1
        else Reply(404, problem(404, "Not found", detail="job j1 not found"))
    )


def test_delete_sends_one_delete_and_a_second_is_not_found(server: ScriptedServer) -> None:
    gone_after_first(server)
    with Client(server.url, "rs_test_key", retry=ONCE) as client:
        assert client.delete("j1") is None
        with pytest.raises(NotFound):
            client.delete("j1")
        client.delete("j1", missing_ok=True)
    assert [(s.method, s.path) for s in server.requests] == [("DELETE", "/v1/jobs/j1")] * 3
    assert server.requests[0].headers["authorization"] == "Bearer rs_test_key"


async def test_the_async_client_deletes_the_same_way(server: ScriptedServer) -> None:
    gone_after_first(server)
    async with AsyncClient(server.url, "rs_test_key", retry=ONCE) as client:
        assert await client.delete("j1") is None
        with pytest.raises(NotFound):
            await client.delete("j1")
        await client.delete("j1", missing_ok=True)
    assert [(s.method, s.path) for s in server.requests] == [("DELETE", "/v1/jobs/j1")] * 3
