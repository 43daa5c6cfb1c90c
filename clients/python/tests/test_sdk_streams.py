"""Following a job: the event stream reopened with Last-Event-ID after a cut, polling when there is no
stream; downloads to a path or a stream with progress; webhook verification."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from conftest import Reply, ScriptedServer, Seen, job, problem
from reelstream_client import AsyncClient, Client, RetryPolicy, WebhookVerificationError, verify_webhook
from reelstream_client.errors import NotFound

FAST = RetryPolicy(attempts=4, wait_initial=0.01, wait_max=0.05, wait_jitter=0.01)


def sse(*snapshots: dict[str, object]) -> bytes:
    return b"".join(
        b": keep-alive\n\n" + f"event: status\nid: {s['version']}\ndata: {json.dumps(s)}\n\n".encode()
        for s in snapshots
    )


def cut_stream(seen: Seen) -> Reply:
    """The first stream sends versions 1 and 2 and is cut (no terminal event); the second starts again
    with the current snapshot (2, a repeat) and goes on to the end."""
    if not seen.path.endswith("/events"):
        return Reply(404, problem(404, "Not Found"))
    if "last-event-id" not in seen.headers:
        return Reply(200, raw=sse(job(1), job(2, "running")), headers={"Content-Type": "text/event-stream"})
    return Reply(
        200,
        raw=sse(job(2, "running"), job(3, "running"), job(4, "succeeded")),
        headers={"Content-Type": "text/event-stream"},
    )


def test_a_cut_stream_is_reopened_with_last_event_id(server: ScriptedServer) -> None:
    server.script = cut_stream
    with Client(server.url, "k", retry=FAST) as client:
        versions = [snapshot.version for snapshot in client.events("j1")]
    assert versions == [1, 2, 3, 4]
    assert [seen.headers.get("last-event-id") for seen in server.requests] == [None, "2"]


async def test_the_async_stream_resumes_the_same_way(server: ScriptedServer) -> None:
    server.script = cut_stream
    async with AsyncClient(server.url, "k", retry=FAST) as client:
        final = await client.wait("j1", timeout=10)
    assert (final.version, final.status) == (4, "succeeded")
    assert server.requests[-1].headers.get("last-event-id") == "2"


def deleted_while_followed(seen: Seen) -> Reply:
    """The stream sends one snapshot, then the job is deleted: `job.deleted` ends it."""
    deleted = b'event: job.deleted\ndata: {"id":"j1","object":"job","deleted":true}\n\n'
    return Reply(200, raw=sse(job(1, "running")) + deleted, headers={"Content-Type": "text/event-stream"})


def test_a_job_deleted_while_followed_raises_not_found_at_once(server: ScriptedServer) -> None:
    server.script = deleted_while_followed
    seen: list[int] = []
    with Client(server.url, "k", retry=FAST) as client, pytest.raises(NotFound, match="j1 was deleted"):
        seen.extend(snapshot.version for snapshot in client.events("j1"))
    assert seen == [1]
    assert len(server.requests) == 1  # not reopened: the job is gone


async def test_the_async_wait_on_a_deleted_job_raises_not_found(server: ScriptedServer) -> None:
    server.script = deleted_while_followed
    async with AsyncClient(server.url, "k", retry=FAST) as client:
        with pytest.raises(NotFound, match="j1 was deleted"):
            await client.wait("j1", timeout=10)
    assert len(server.requests) == 1


def test_without_a_stream_wait_polls(server: ScriptedServer) -> None:
    polls = iter([job(1), job(2, "running"), job(3, "failed", error={"code": "x", "message": "boom"})])

    def no_stream(seen: Seen) -> Reply:
        if seen.path.endswith("/events"):  # a proxy that does not pass event streams
            return Reply(200, raw=b"<html></html>", headers={"Content-Type": "text/html"})
        return Reply(200, next(polls))

    server.script = no_stream
    with Client(server.url, "k", retry=FAST, poll_interval=0.01) as client:
        final = client.wait("j1", timeout=10)
    assert (final.status, final.error and final.error.message) == ("failed", "boom")
    assert sum(not s.path.endswith("/events") for s in server.requests) == 3


def video_server(seen: Seen, url: str) -> Reply:
    if seen.path.startswith("/v1/jobs/j1/content"):
        return Reply(302, headers={"Location": f"{url}/bucket/video.mp4?signature=x"})
    if seen.path.startswith("/bucket/"):
        assert "authorization" not in seen.headers  # the API key never goes to the object store
        return Reply(
            200, raw=b"\x00" * 200_000, headers={"Content-Length": "200000", "Content-Type": "video/mp4"}
        )
    return Reply(404, problem(404, "Not Found"))


def test_download_to_a_path_and_to_a_stream(server: ScriptedServer, tmp_path: Path) -> None:
    server.script = lambda seen: video_server(seen, server.url)
    progress: list[tuple[int, int | None]] = []
    with Client(server.url, "k", retry=FAST) as client:
        size = client.download("j1", tmp_path / "v.mp4", progress=lambda d, t: progress.append((d, t)))
        sink = io.BytesIO()
        assert client.download("j1", sink) == 200_000
    assert size == (tmp_path / "v.mp4").stat().st_size == 200_000
    assert progress[-1] == (200_000, 200_000)
    assert len(progress) > 1
    assert [p.name for p in tmp_path.iterdir()] == ["v.mp4"]  # no partial file left


def test_a_download_before_the_video_exists_is_a_conflict(server: ScriptedServer, tmp_path: Path) -> None:
    server.script = lambda _seen: Reply(409, problem(409, "Conflict", detail="the job has no video yet"))
    with Client(server.url, "k", retry=FAST) as client, pytest.raises(Exception, match="no video yet"):
        client.download("j1", tmp_path / "v.mp4")
    assert list(tmp_path.iterdir()) == []


def test_webhooks_verify_only_under_their_secret() -> None:
    from standardwebhooks.webhooks import Webhook

    secret, other = (
        "whsec_" + "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
        "whsec_" + "c2VjcmV0LWJ1dC1hbm90aGVyLW9uZQ==",
    )
    body = json.dumps({"type": "job.succeeded", "data": {"id": "j1"}})
    signature = Webhook(secret).sign("msg_1", datetime.now(UTC), body)
    headers = {
        "Webhook-Id": "msg_1",
        "Webhook-Timestamp": str(int(datetime.now(UTC).timestamp())),
        "Webhook-Signature": signature,
    }
    assert verify_webhook(body, headers, [other, secret])["data"]["id"] == "j1"
    with pytest.raises(WebhookVerificationError):
        verify_webhook(body, headers, other)
    with pytest.raises(WebhookVerificationError):
        verify_webhook(body.replace("j1", "j2"), headers, secret)
