"""GET /v1/jobs/{id}/events: the current snapshot, then each newer one, ending after the terminal one, or at
once with `job.deleted` when the job is deleted."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import replace

from ingest.app import create_app
from reelstream.http_settings import EventStreamSettings
from schemas.events import JobState, new_id
from schemas.topics import JOB_STATUS
from tests.integration.ingest.support import (
    COMMENT,
    RunningApi,
    SseEvent,
    StatusWriter,
    serve,
    shutdown,
    snapshot,
    sse_events,
)

DEADLINE = 30.0


async def next_event(events: AsyncIterator[SseEvent]) -> SseEvent:
    async for event in events:
        if event is not COMMENT:
            return event
    raise AssertionError("the stream ended early")


async def test_the_stream_sends_every_newer_snapshot_in_order_and_ends_after_the_terminal_one(
    ready_api: RunningApi, scheduler: StatusWriter
) -> None:
    client, tenant, job = ready_api.client("alice"), ready_api.tenants["alice"], new_id()
    await scheduler.publish_and_wait(client, snapshot(job, tenant, JobState.QUEUED, 1, queue_position=1))
    async with asyncio.timeout(DEADLINE), client.stream("GET", f"/v1/jobs/{job}/events") as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        events = sse_events(response)
        first = await next_event(events)
        assert (first.event, first.id, first.json()["status"]) == ("status", "1", "queued")

        await scheduler.publish(
            snapshot(job, tenant, JobState.RUNNING, 2, progress=0.25),
            snapshot(job, tenant, JobState.RUNNING, 3, progress=0.75),
            snapshot(job, tenant, JobState.SUCCEEDED, 4),
        )
        rest = [event async for event in events if event is not COMMENT]  # ends when the server closes

    assert [e.event for e in rest] == ["status"] * 3
    assert [e.id for e in rest] == ["2", "3", "4"]
    assert [(e.json()["status"], e.json()["progress"]) for e in rest] == [
        ("running", 0.25),
        ("running", 0.75),
        ("succeeded", 1.0),
    ]
    assert all(e.json()["id"] == job for e in rest)


async def test_a_just_submitted_job_streams_accepted_then_the_pipelines_snapshots(
    ready_api: RunningApi, scheduler: StatusWriter
) -> None:
    client, tenant = ready_api.client("alice"), ready_api.tenants["alice"]
    submitted = await client.post("/v1/jobs", json={"prompt": "a lighthouse", "num_inference_steps": 2})
    job = submitted.json()["id"]
    # a pipeline sharing this broker may write snapshots of this job too: ours outranks any of theirs
    last = snapshot(job, tenant, JobState.REJECTED, 1_000_000)
    async with asyncio.timeout(DEADLINE), client.stream("GET", f"/v1/jobs/{job}/events") as response:
        events = sse_events(response)
        first = await next_event(events)
        assert (first.id, first.json()["status"]) == ("0", "accepted")
        await scheduler.publish(last)
        rest = [event async for event in events if event is not COMMENT]
    versions = [int(str(e.id)) for e in rest]
    assert versions == sorted(set(versions))
    assert (rest[-1].id, rest[-1].json()["status"]) == ("1000000", "rejected")


async def test_an_idle_stream_carries_keep_alive_comments(
    ready_api: RunningApi, scheduler: StatusWriter
) -> None:
    client, tenant, job = ready_api.client("alice"), ready_api.tenants["alice"], new_id()
    await scheduler.publish_and_wait(client, snapshot(job, tenant, JobState.QUEUED, 1))
    async with asyncio.timeout(DEADLINE), client.stream("GET", f"/v1/jobs/{job}/events") as response:
        events = sse_events(response)
        assert (await next_event(events)).id == "1"
        assert await anext(events) is COMMENT  # nothing happens to the job: only a keep-alive can come


async def test_a_finished_job_streams_its_last_snapshot_and_closes(
    ready_api: RunningApi, scheduler: StatusWriter
) -> None:
    client, tenant, job = ready_api.client("alice"), ready_api.tenants["alice"], new_id()
    await scheduler.publish_and_wait(client, snapshot(job, tenant, JobState.CANCELED, 2))
    async with asyncio.timeout(DEADLINE), client.stream("GET", f"/v1/jobs/{job}/events") as response:
        events = [event async for event in sse_events(response)]
    assert [(e.id, e.json()["status"]) for e in events] == [("2", "canceled")]


async def test_a_stream_resumed_with_last_event_id_starts_after_that_version(
    ready_api: RunningApi, scheduler: StatusWriter
) -> None:
    client, tenant, job = ready_api.client("alice"), ready_api.tenants["alice"], new_id()
    await scheduler.publish_and_wait(client, snapshot(job, tenant, JobState.RUNNING, 3, progress=0.5))
    resumed = {"Last-Event-ID": "3"}
    async with (
        asyncio.timeout(DEADLINE),
        client.stream("GET", f"/v1/jobs/{job}/events", headers=resumed) as response,
    ):
        events = sse_events(response)
        await scheduler.publish(snapshot(job, tenant, JobState.SUCCEEDED, 4))
        rest = [event async for event in events if event is not COMMENT]
    assert [(e.id, e.json()["status"]) for e in rest] == [("4", "succeeded")]  # version 3 was not repeated


async def test_a_tenant_holds_at_most_its_cap_of_streams_and_each_announces_its_retry_delay(
    ready_api: RunningApi, scheduler: StatusWriter
) -> None:
    """The conftest's cap is 4 streams per tenant: the 5th is a 429 problem; closing one frees a place;
    another tenant is not affected. Each stream's first block carries the `retry:` field."""
    client, tenant, job = ready_api.client("frank"), ready_api.tenants["frank"], new_id()
    await scheduler.publish_and_wait(client, snapshot(job, tenant, JobState.QUEUED, 1, queue_position=1))
    cap, url = ready_api.settings.sse.max_streams_per_tenant, f"/v1/jobs/{job}/events"
    async with contextlib.AsyncExitStack() as streams, asyncio.timeout(DEADLINE):
        held = [await streams.enter_async_context(client.stream("GET", url)) for _ in range(cap)]
        assert [r.status_code for r in held] == [200] * cap
        lines = held[0].aiter_lines()
        assert await anext(lines) == f"retry: {ready_api.settings.sse.retry_ms}"
        refused = await client.get(f"/v1/jobs/{job}/events")
        assert refused.status_code == 429
        assert refused.headers["content-type"] == "application/problem+json"
        assert int(refused.headers["retry-after"]) >= 1
        other = ready_api.client("erin")
        assert (await other.get(f"/v1/jobs/{job}/events")).status_code == 404  # not capped, not theirs
        await held[-1].aclose()
        while True:  # the server sees the disconnect a moment later; until then the cap still holds
            async with client.stream("GET", url) as again:
                if again.status_code == 200:
                    break
                assert again.status_code == 429
            await asyncio.sleep(0.05)


async def test_a_stream_ends_at_its_maximum_lifetime_and_the_reconnect_gets_the_current_snapshot(
    ready_api: RunningApi, scheduler: StatusWriter
) -> None:
    """A second ingest on the same broker whose streams live 1 s: the stream of a job that never finishes
    closes by itself (keep-alives meanwhile); reopened with Last-Event-ID, it resumes after what was seen."""
    sse = EventStreamSettings(heartbeat_seconds=0.2, max_stream_seconds=1.0, retry_ms=250)
    app = create_app(replace(ready_api.settings, sse=sse))
    served = await serve(app)
    short_lived = RunningApi(app, ready_api.settings, served.base_url, ready_api.keys, ready_api.tenants)
    try:
        client, tenant, job = short_lived.client("alice"), ready_api.tenants["alice"], new_id()
        await scheduler.publish_and_wait(client, snapshot(job, tenant, JobState.RUNNING, 5, progress=0.5))
        async with asyncio.timeout(DEADLINE), client.stream("GET", f"/v1/jobs/{job}/events") as response:
            lines = [line async for line in response.aiter_lines()]  # ends when the server closes
        assert lines[0] == "retry: 250"
        assert "id: 5" in lines
        assert ": keep-alive" in lines  # it stayed open, idle, until its lifetime was over
        await scheduler.publish_and_wait(client, snapshot(job, tenant, JobState.SUCCEEDED, 6))
        async with (
            asyncio.timeout(DEADLINE),
            client.stream("GET", f"/v1/jobs/{job}/events", headers={"Last-Event-ID": "5"}) as again,
        ):
            rest = [event async for event in sse_events(again) if event is not COMMENT]
        assert [(e.id, e.json()["status"]) for e in rest] == [("6", "succeeded")]
    finally:
        for open_client in short_lived.clients:
            await open_client.aclose()
        await shutdown(served)


async def test_a_stream_ends_with_job_deleted_at_the_tombstone_another_replica_wrote(
    ready_api: RunningApi, scheduler: StatusWriter
) -> None:
    """A running job's stream (lifetime: the default, far longer than the deadline) ends as soon as the job's
    tombstone reaches the view, however it got there (here: written by another replica), with a last
    `job.deleted` event; the job then reads 404."""
    client, tenant, job = ready_api.client("alice"), ready_api.tenants["alice"], new_id()
    assert ready_api.settings.sse.max_stream_seconds > DEADLINE
    await scheduler.publish_and_wait(client, snapshot(job, tenant, JobState.RUNNING, 2, progress=0.5))
    async with asyncio.timeout(DEADLINE), client.stream("GET", f"/v1/jobs/{job}/events") as response:
        events = sse_events(response)
        assert (await next_event(events)).id == "2"
        await scheduler.publisher.tombstone(JOB_STATUS, job)
        rest = [event async for event in events if event is not COMMENT]  # ends when the server closes
    assert [e.event for e in rest] == ["job.deleted"]
    assert rest[0].id is None
    assert rest[0].json() == {"id": job, "object": "job", "deleted": True}
    assert (await client.get(f"/v1/jobs/{job}")).status_code == 404


async def test_a_stream_ends_with_job_deleted_when_the_job_is_deleted_through_the_api(
    ready_api: RunningApi, scheduler: StatusWriter
) -> None:
    client, tenant, job = ready_api.client("alice"), ready_api.tenants["alice"], new_id()
    await scheduler.publish_and_wait(client, snapshot(job, tenant, JobState.QUEUED, 1, queue_position=3))
    async with asyncio.timeout(DEADLINE), client.stream("GET", f"/v1/jobs/{job}/events") as response:
        events = sse_events(response)
        assert (await next_event(events)).id == "1"
        assert (await client.delete(f"/v1/jobs/{job}")).status_code == 204
        rest = [event async for event in events if event is not COMMENT]
    assert [(e.event, e.json()["id"]) for e in rest] == [("job.deleted", job)]
