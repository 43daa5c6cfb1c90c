"""GET and list read the status view: the newest snapshot of each job, the caller's jobs only."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from typing import Any

from ingest.context import platform_retention
from ingest.retention import retained_resource
from schemas.events import JobState, JobStatus, new_id
from tests.integration.ingest.support import RunningApi, StatusWriter, eventually, snapshot
from tests.samples import T0, render_params


async def test_get_follows_the_snapshots_and_ignores_an_older_one_arriving_late(
    ready_api: RunningApi, scheduler: StatusWriter
) -> None:
    client, tenant, job = ready_api.client("alice"), ready_api.tenants["alice"], new_id()
    retention = platform_retention(ready_api.settings)

    def job_resource(status: JobStatus) -> dict[str, Any]:  # as the API shows it: with its expiry times
        return retained_resource(status, retention)

    queued = snapshot(job, tenant, JobState.QUEUED, 1, queue_position=2, eta_seconds=30.0)
    assert (await scheduler.publish_and_wait(client, queued)) == job_resource(queued)
    running = snapshot(job, tenant, JobState.RUNNING, 2, progress=0.5, attempt=1)
    assert (await scheduler.publish_and_wait(client, running)) == job_resource(running)

    succeeded = snapshot(job, tenant, JobState.SUCCEEDED, 3, attempt=1)
    later = new_id()  # written after the stale snapshot, on the same partition: once seen, all before were
    partition = 5
    await scheduler.publish(succeeded, running, partition=partition)
    await scheduler.publish(snapshot(later, tenant, JobState.QUEUED, 1), partition=partition)
    await eventually(lambda: client.get(f"/v1/jobs/{later}"), lambda r: r.status_code == 200)

    shown = (await client.get(f"/v1/jobs/{job}")).json()
    assert shown == job_resource(succeeded)
    assert (shown["status"], shown["version"], shown["progress"]) == ("succeeded", 3, 1.0)
    assert shown["artifact"]["key"] == f"{tenant}/{job}/1/v.mp4"


async def test_list_pages_through_the_callers_jobs_newest_first(
    ready_api: RunningApi, scheduler: StatusWriter
) -> None:
    client, tenant = ready_api.client("carol"), ready_api.tenants["carol"]
    jobs = [
        snapshot(new_id(), tenant, JobState.QUEUED, 1, created_at=T0 + timedelta(minutes=i)) for i in range(5)
    ]
    await scheduler.publish(*jobs)
    await eventually(lambda: client.get("/v1/jobs?limit=100"), lambda r: len(r.json()["data"]) == 5)

    pages: list[list[str]] = []
    cursor: str | None = None
    while True:
        query: dict[str, str | int] = {"limit": 2, **({"after": cursor} if cursor else {})}
        response = await client.get("/v1/jobs", params=query)
        assert response.status_code == 200
        body = response.json()
        pages.append([job["id"] for job in body["data"]])
        cursor = body["next_cursor"]
        if cursor is None:
            break
        assert len(pages) < 5
    newest_first = [j.job_id for j in reversed(jobs)]
    assert pages == [newest_first[0:2], newest_first[2:4], newest_first[4:]]

    default = (await client.get("/v1/jobs")).json()
    assert [j["id"] for j in default["data"]] == newest_first
    assert default["next_cursor"] is None


async def test_list_filters_by_status_model_and_creation_time(
    ready_api: RunningApi, scheduler: StatusWriter
) -> None:
    client, tenant = ready_api.client("grace"), ready_api.tenants["grace"]
    mochi = replace(render_params(), model="mochi-1")
    jobs = {
        "old-queued": snapshot(new_id(), tenant, JobState.QUEUED, 1, created_at=T0),
        "running": snapshot(new_id(), tenant, JobState.RUNNING, 2, created_at=T0 + timedelta(hours=1)),
        "mochi-failed": snapshot(
            new_id(), tenant, JobState.FAILED, 3, created_at=T0 + timedelta(hours=2), params=mochi
        ),
        "new-queued": snapshot(new_id(), tenant, JobState.QUEUED, 1, created_at=T0 + timedelta(hours=3)),
    }
    await scheduler.publish(*jobs.values())
    await eventually(lambda: client.get("/v1/jobs?limit=100"), lambda r: len(r.json()["data"]) == 4)
    name = {status.job_id: key for key, status in jobs.items()}

    async def listed(query: str) -> list[str]:
        response = await client.get(f"/v1/jobs?limit=1&{query}")
        assert response.status_code == 200, response.text
        found, cursor = [], response.json()
        while True:  # one job a page: the cursor carries the filter on
            found += [name[job["id"]] for job in cursor["data"]]
            if cursor["next_cursor"] is None:
                return found
            cursor = (await client.get(f"/v1/jobs?limit=1&{query}&after={cursor['next_cursor']}")).json()

    assert await listed("status=queued") == ["new-queued", "old-queued"]
    assert await listed("status=queued,running") == ["new-queued", "running", "old-queued"]
    assert await listed("status=running&status=failed") == ["mochi-failed", "running"]
    assert await listed("model=mochi-1") == ["mochi-failed"]
    after, before = (T0 + timedelta(hours=h) for h in (1, 3))
    window = f"created_after={after.isoformat()}&created_before={before.isoformat()}".replace("+", "%2B")
    assert await listed(window) == ["mochi-failed", "running"]  # from 1 h (inclusive) to 3 h (exclusive)
    assert await listed(f"status=queued&{window}") == []


async def test_list_parameters_are_validated(ready_api: RunningApi) -> None:
    client = ready_api.client("carol")
    for query, field in [
        ("limit=0", "limit"),
        ("limit=101", "limit"),
        ("limit=x", "limit"),
        ("limit=" + "9" * 5000, "limit"),  # past int()'s 4,300-digit limit
        ("limit=%C2%B2", "limit"),  # "²": a digit to str.isdigit, not to int()
        ("after=%%%", "after"),
        ("status=finished", "status"),
        ("status=", "status"),
        ("model=sora", "model"),
        ("created_after=yesterday", "created_after"),
        ("created_before=2026-02-30T00:00:00Z", "created_before"),
        ("created_after=2026-12-06T09:30:00", "created_after"),  # no offset
    ]:
        response = await client.get(f"/v1/jobs?{query}")
        assert response.status_code == 422, query
        assert response.headers["content-type"] == "application/problem+json"
        assert [e["field"] for e in response.json()["errors"]] == [field]


async def test_another_tenants_job_is_invisible_to_every_route(
    ready_api: RunningApi, scheduler: StatusWriter
) -> None:
    alice, bob = ready_api.client("alice"), ready_api.client("bob")
    job = snapshot(new_id(), ready_api.tenants["alice"], JobState.SUCCEEDED, 4)
    await scheduler.publish_and_wait(alice, job)

    for method, path in [
        ("GET", f"/v1/jobs/{job.job_id}"),
        ("POST", f"/v1/jobs/{job.job_id}/cancel"),
        ("GET", f"/v1/jobs/{job.job_id}/content"),
        ("GET", f"/v1/jobs/{job.job_id}/events"),
    ]:
        theirs = await bob.request(method, path)
        unknown = await bob.request(method, path.replace(job.job_id, new_id()))
        assert theirs.status_code == unknown.status_code == 404, path
        assert theirs.headers["content-type"] == "application/problem+json"
        assert theirs.json()["title"] == unknown.json()["title"]
    listed = (await bob.get("/v1/jobs?limit=100")).json()["data"]
    assert job.job_id not in [j["id"] for j in listed]
