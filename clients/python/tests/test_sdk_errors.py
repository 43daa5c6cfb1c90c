"""Error answers become typed exceptions carrying the problem+json; the two clients have one surface."""

from __future__ import annotations

import inspect
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest
from conftest import Reply, ScriptedServer, problem
from reelstream_client import (
    ApiError,
    AsyncClient,
    AuthenticationError,
    Client,
    Conflict,
    NotFound,
    PermissionDenied,
    RateLimited,
    RetryPolicy,
    ServerError,
    ValidationError,
)
from reelstream_client.errors import parse_retry_after

ONCE = RetryPolicy(attempts=1)


@pytest.mark.parametrize(
    ("status", "kind"),
    [
        (401, AuthenticationError),
        (403, PermissionDenied),
        (404, NotFound),
        (409, Conflict),
        (429, RateLimited),
        (500, ServerError),
        (418, ApiError),
    ],
)
def test_each_status_has_its_exception(server: ScriptedServer, status: int, kind: type[ApiError]) -> None:
    server.script = lambda _seen: Reply(status, problem(status, "Some Title", detail="why it failed"))
    with Client(server.url, "k", retry=ONCE) as client, pytest.raises(kind) as raised:
        client.get("j1")
    assert type(raised.value) is kind
    assert (raised.value.status, raised.value.title, raised.value.detail) == (
        status,
        "Some Title",
        "why it failed",
    )
    assert raised.value.problem["status"] == status


def test_a_validation_error_names_the_field(server: ScriptedServer) -> None:
    errors = [
        {"field": "width", "message": "must be a multiple of 16"},
        {"field": "fps", "message": "too high"},
    ]
    server.script = lambda _seen: Reply(422, problem(422, "Unprocessable Content", errors=errors))
    with Client(server.url, "k", retry=ONCE) as client, pytest.raises(ValidationError) as invalid:
        client.submit("a fox", width=17, fps=999)
    assert invalid.value.field == "width"
    assert [e.field for e in invalid.value.errors] == ["width", "fps"]
    assert "width: must be a multiple of 16" in str(invalid.value)


def test_a_body_that_is_not_json_still_gives_a_typed_error(server: ScriptedServer) -> None:
    server.script = lambda _seen: Reply(
        503, raw=b"<html>bad gateway</html>", headers={"Content-Type": "text/html"}
    )
    with Client(server.url, "k", retry=ONCE) as client, pytest.raises(ApiError) as failed:
        client.get("j1")
    assert failed.value.status == 503


def test_retry_after_as_seconds_or_an_http_date() -> None:
    assert parse_retry_after("7") == 7.0
    later = datetime.now(UTC) + timedelta(seconds=30)
    assert 25 <= (parse_retry_after(format_datetime(later, usegmt=True)) or 0) <= 31
    assert parse_retry_after("soon") is None
    assert parse_retry_after(None) is None


def test_the_sync_and_async_clients_have_one_surface() -> None:
    def public(cls: type) -> dict[str, list[str]]:
        return {
            name: list(inspect.signature(member).parameters)
            for name, member in inspect.getmembers(cls, inspect.isfunction)
            if not name.startswith("_")
        }

    sync, asynchronous = public(Client), public(AsyncClient)
    assert sync == asynchronous
    assert {
        "submit",
        "get",
        "list",
        "cancel",
        "wait",
        "events",
        "download",
        "create_key",
        "list_webhook_endpoints",
    } <= set(sync)
    for name in sync:
        member = getattr(AsyncClient, name)
        assert inspect.iscoroutinefunction(member) or inspect.isasyncgenfunction(member), name
