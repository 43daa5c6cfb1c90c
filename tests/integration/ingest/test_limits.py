"""`GET /v1/limits` on a real ingest and broker: the caller's limits as admission last published them on
reelstream.tenants.limits (here the test publishes them, as admission does), the GPU budget's used and
remaining included; before any state, the configured limits unused. The SDK and the CLI show the same."""

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

from schemas.events import TenantLimitState, utc_now
from schemas.topics import TENANT_LIMITS
from tests.integration.ingest.support import RunningApi, StatusWriter, eventually


async def limits_of(client: httpx.AsyncClient) -> dict[str, Any]:
    response = await client.get("/v1/limits")
    assert response.status_code == 200, response.text
    return dict(response.json())


async def test_the_callers_limits_and_gpu_budget_as_admission_published_them(
    ready_api: RunningApi, scheduler: StatusWriter, capsys: pytest.CaptureFixture[str]
) -> None:
    frank, tenant = ready_api.client("frank"), ready_api.tenants["frank"]
    before = await limits_of(frank)
    assert (before["object"], before["tenant"], before["as_of"], before["queued"]) == (
        "limits",
        tenant,
        None,
        0,
    )
    budget = ready_api.settings.pipeline.tenant_gpu_seconds
    assert budget is not None
    assert before["gpu_seconds"] == {
        "budget": budget,
        "window_seconds": ready_api.settings.pipeline.tenant_budget_window_seconds,
        "used": 0.0,
        "remaining": budget,
    }

    # as admission publishes it: 100 of 1,000 GPU seconds per 10⁹ s window used (it refills next to nothing)
    at = utc_now().replace(microsecond=0)
    state = TenantLimitState(
        tenant_id=tenant,
        rate=5.0,
        burst=10.0,
        tokens=10.0,
        tokens_at=at,
        full_at=at,
        queued=2,
        queued_cap=20,
        running_cap=4,
        gpu_budget_seconds=1000.0,
        gpu_window_seconds=1e9,
        gpu_remaining_seconds=900.0,
        occurred_at=at,
    )
    await scheduler.publisher.publish(TENANT_LIMITS, tenant, state)
    shown = await eventually(lambda: limits_of(frank), lambda body: body["as_of"] is not None)
    assert shown["as_of"] == at.isoformat().replace("+00:00", "Z")
    assert (shown["queued"], shown["queued_cap"], shown["running_cap"]) == (2, 20, 4)
    assert shown["gpu_seconds"]["budget"] == 1000.0
    assert 99.9 <= shown["gpu_seconds"]["used"] <= 100.0
    assert shown["gpu_seconds"]["used"] + shown["gpu_seconds"]["remaining"] == 1000.0

    other = await limits_of(ready_api.client("grace"))  # another tenant never sees it
    assert other["tenant"] == ready_api.tenants["grace"]
    assert other["queued"] == 0

    async with AsyncClient(ready_api.base_url, ready_api.keys["frank"]) as client:
        sdk = to_json(await client.limits())
    assert sdk["gpu_seconds"]["budget"] == 1000.0
    assert sdk["as_of"] == shown["as_of"]
    env = {"REELSTREAM_API_URL": ready_api.base_url, "REELSTREAM_API_KEY": ready_api.keys["frank"]}
    env["HOME"] = env["XDG_CONFIG_HOME"] = "/nonexistent"
    capsys.readouterr()
    assert await asyncio.to_thread(main, ["limits", "--json"], env) == 0
    assert json.loads(capsys.readouterr().out)["queued_cap"] == 20
    assert await asyncio.to_thread(main, ["limits"], env) == 0
    lines = capsys.readouterr().out.splitlines()
    assert any(line.startswith("gpu_seconds\t") and "remaining of 1000 per 1e+09 s" in line for line in lines)
    assert "queued\t2 of 20 (running at once: 4)" in lines
    assert timedelta(0) <= utc_now() - at
