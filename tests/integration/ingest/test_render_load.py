"""`GET /v1/stats/render-load` on the real ingest, its jobs published to the status topic as the scheduler
does: the Grafana panel's classes, counts and nearest-rank percentiles of the caller's succeeded jobs only,
the newest `limit`, the creation-time window, the 422s; and the SDK and the CLI reading the same report."""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta
from typing import Any

import httpx
import pytest
from reelstream_client import AsyncClient
from reelstream_client.cli.main import main
from reelstream_client.models import to_json

from schemas.events import JobState, JobStatus, new_id
from tests.integration.ingest.support import RunningApi, StatusWriter, eventually, snapshot
from tests.samples import T0, render_params

ROUTE = "/v1/stats/render-load"


def succeeded(tenant: str, minute: int, seconds: float, frames: int, words: int) -> JobStatus:
    """A succeeded job created `minute` minutes after T0 that rendered for `seconds`."""
    created = T0 + timedelta(minutes=minute)
    running = created + timedelta(seconds=5)
    return snapshot(
        new_id(),
        tenant,
        JobState.SUCCEEDED,
        3,
        created_at=created,
        prompt=" ".join(["word"] * words),
        params=render_params(num_frames=frames),
        state_times={
            "queued": created,
            "running": running,
            "succeeded": running + timedelta(seconds=seconds),
        },
    )


def rows(report: dict[str, Any], key: str) -> dict[str, tuple[int, Any, Any, Any]]:
    return {
        row["class"]: (row["count"], row["mean_seconds"], row["p50_seconds"], row["p95_seconds"])
        for row in report[key]
    }


async def report_of(client: httpx.AsyncClient, query: str = "") -> dict[str, Any]:
    response = await client.get(f"{ROUTE}?{query}")
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def test_render_seconds_by_frames_and_prompt_words_of_the_callers_succeeded_jobs(
    ready_api: RunningApi, scheduler: StatusWriter, capsys: pytest.CaptureFixture[str]
) -> None:
    heidi, tenant = ready_api.client("heidi"), ready_api.tenants["heidi"]
    ivan, other = ready_api.client("ivan"), ready_api.tenants["ivan"]
    jobs = [  # (minute created, render seconds, frames, prompt words)
        succeeded(tenant, 0, 10, 13, 4),
        succeeded(tenant, 1, 20, 13, 20),
        succeeded(tenant, 2, 40, 60, 20),
        succeeded(tenant, 3, 80, 60, 100),
        succeeded(tenant, 4, 600, 200, 200),
    ]
    not_counted = [
        snapshot(new_id(), tenant, JobState.RUNNING, 2, created_at=T0 + timedelta(minutes=5)),
        snapshot(new_id(), tenant, JobState.FAILED, 3, created_at=T0 + timedelta(minutes=6)),
    ]
    others = [succeeded(other, 0, 3000, 13, 4)]
    await scheduler.publish(*jobs, *not_counted, *others)
    await eventually(lambda: heidi.get("/v1/jobs?limit=100"), lambda r: len(r.json()["data"]) == 7)
    await eventually(lambda: ivan.get("/v1/jobs?limit=100"), lambda r: len(r.json()["data"]) == 1)

    report = await report_of(heidi)
    assert (report["object"], report["tenant"], report["from"], report["to"]) == (
        "render_load",
        tenant,
        None,
        None,
    )
    assert (report["limit"], report["complete"]) == (1000, True)
    assert report["total"] == {"count": 5, "mean_seconds": 150.0, "p50_seconds": 40.0, "p95_seconds": 600.0}
    assert rows(report, "by_frames") == {
        "0-31": (2, 15.0, 10.0, 20.0),
        "32-85": (2, 60.0, 40.0, 80.0),
        "86-169": (0, None, None, None),
        "170+": (1, 600.0, 600.0, 600.0),
    }
    assert rows(report, "by_prompt_words") == {
        "0-15": (1, 10.0, 10.0, 10.0),
        "16-31": (2, 30.0, 20.0, 40.0),
        "32-63": (0, None, None, None),
        "64-127": (1, 80.0, 80.0, 80.0),
        "128+": (1, 600.0, 600.0, 600.0),
    }

    mine = await report_of(ivan)  # another tenant's jobs never show, either way
    assert (mine["tenant"], mine["total"]["count"], mine["total"]["p50_seconds"]) == (other, 1, 3000.0)
    refused = await ivan.get(f"{ROUTE}?tenant={tenant}")  # naming another tenant: as if it did not exist
    assert refused.status_code == 404
    assert refused.headers["content-type"] == "application/problem+json"
    operator = ready_api.client("olga")  # the platform operator reads any tenant's
    assert await report_of(operator, f"tenant={tenant}") == report
    assert (await report_of(operator, f"tenant={other}"))["total"]["count"] == 1

    newest = await report_of(heidi, "limit=2")  # the two newest: 600 s and 80 s
    assert (newest["complete"], newest["total"]["count"], newest["total"]["mean_seconds"]) == (
        False,
        2,
        340.0,
    )
    start, end = (T0 + timedelta(minutes=m) for m in (1, 3))
    window = await report_of(heidi, f"from={start.isoformat()}&to={end.isoformat()}".replace("+", "%2B"))
    assert window["from"] == start.isoformat().replace("+00:00", "Z")
    assert (window["total"]["count"], window["total"]["mean_seconds"]) == (2, 30.0)  # from inclusive, to not

    async with AsyncClient(ready_api.base_url, ready_api.keys["heidi"]) as client:
        assert to_json(await client.render_load()) == report
        assert to_json(await client.render_load(start=start, end=end)) == window
    env = {"REELSTREAM_API_URL": ready_api.base_url, "REELSTREAM_API_KEY": ready_api.keys["heidi"]}
    env["HOME"] = env["XDG_CONFIG_HOME"] = "/nonexistent"
    capsys.readouterr()
    assert await asyncio.to_thread(main, ["load", "--limit", "2", "--json"], env) == 0
    assert json.loads(capsys.readouterr().out) == newest
    async with AsyncClient(ready_api.base_url, ready_api.keys["olga"]) as client:
        assert to_json(await client.render_load(tenant=tenant)) == report
    operator_env = {**env, "REELSTREAM_API_KEY": ready_api.keys["olga"]}
    assert await asyncio.to_thread(main, ["load", "--tenant", tenant, "--json"], operator_env) == 0
    assert json.loads(capsys.readouterr().out) == report
    assert await asyncio.to_thread(main, ["load"], env) == 0
    table = capsys.readouterr().out.splitlines()
    assert "170+\t1\t600.000\t600.000\t600.000" in table
    assert "total\t5\t150.000\t40.000\t600.000" in table


async def test_bad_query_values_are_422s_naming_the_parameter(ready_api: RunningApi) -> None:
    client = ready_api.client("ivan")
    for query, field in [
        ("limit=0", "limit"),
        ("limit=10001", "limit"),
        ("limit=many", "limit"),
        ("from=yesterday", "from"),
        ("to=2026-12-06T10:00:00", "to"),  # no offset
        ("from=2026-12-06&to=2026-12-01", "from"),
        ("tenant=-not-a-tenant-id", "tenant"),
        ("tenants=someone-else", "tenants"),
    ]:
        response = await client.get(f"{ROUTE}?{query}")
        assert response.status_code == 422, query
        assert response.headers["content-type"] == "application/problem+json"
        assert [e["field"] for e in response.json()["errors"]] == [field], query
