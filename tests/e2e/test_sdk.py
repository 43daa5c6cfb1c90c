"""The SDK (clients/python) against the real pipeline: submit -> wait -> download a real MP4 (sync and
async), list paging, cancel, another tenant's job, a refused body, a bad key, an event stream resumed after
the test cuts the connection, and the models against the live /openapi.json."""

from __future__ import annotations

import io
import re
import time
from pathlib import Path

import httpx
import pytest
from reelstream_client import (
    AsyncClient,
    AuthenticationError,
    Client,
    Job,
    NotFound,
    RetryPolicy,
    ValidationError,
)

from devstack.services import PipelineConfig
from gpu_consumers.video import probe_mp4
from tests.e2e.conftest import TENANT_A_KEY, TENANT_B_KEY
from tests.e2e.cut_proxy import cuttable_proxy
from tests.e2e.support import SMALL
from tests.sdk_openapi import mismatches

QUEUED_FOREVER = {"model": "mochi-1", "width": 848, "height": 480, "duration_seconds": 1.0, "fps": 30}


def test_the_models_match_the_live_openapi_document(pipeline: PipelineConfig) -> None:
    auth = {"Authorization": f"Bearer {TENANT_A_KEY}"}
    document = (
        httpx.get(f"{pipeline.api_url}/openapi.json", headers=auth, timeout=10).raise_for_status().json()
    )
    assert mismatches(document) == []


def test_submit_wait_download(client_a: Client, tmp_path: Path) -> None:
    seen: list[Job] = []
    progress: list[tuple[int, int | None]] = []
    with client_a:
        job = client_a.submit("a red fox in snow", **SMALL, seed=5, metadata={"run": "sdk"})
        assert (job.status, job.parameters and job.parameters.seed) == ("accepted", 5)
        final = client_a.wait(job.id, timeout=120, on_update=seen.append)
        assert final.status == "succeeded", final.error
        target = tmp_path / "fox.mp4"
        size = client_a.download(job.id, target, progress=lambda done, total: progress.append((done, total)))
    assert final.artifact is not None
    assert size == final.artifact.bytes == target.stat().st_size
    assert probe_mp4(target).width == 64
    assert progress[-1] == (size, size)
    assert [s.version for s in seen] == sorted({s.version for s in seen})  # each snapshot once, in order
    assert final.metadata == {"run": "sdk"}


async def test_the_async_client_does_the_same(pipeline: PipelineConfig) -> None:
    async with AsyncClient(pipeline.api_url, TENANT_A_KEY) as client:
        job = await client.submit("a heron at dawn", **SMALL)
        final = await client.wait(job.id, timeout=120)
        assert final.status == "succeeded", final.error
        sink = io.BytesIO()
        size = await client.download(job.id, sink)
        assert size == len(sink.getvalue()) > 0
        assert sink.getvalue()[4:8] == b"ftyp"
        assert (await client.get(job.id)).version == final.version
        assert job.id in [j.id async for j in client.list(limit=5)]


def test_list_pages_through_every_job(client_a: Client) -> None:
    with client_a:
        ids = {client_a.submit(f"a tide pool {i}", **SMALL).id for i in range(3)}
        first = client_a.list_page(limit=2)
        assert len(first.data) == 2
        assert first.next_cursor is not None
        assert {job.id for job in client_a.list(page_size=2, limit=3)} == ids  # the newest three
        assert ids <= {
            job.id
            for job in client_a.list(
                status=["accepted", "queued", "dispatched", "running", "succeeded"], page_size=2, limit=50
            )
        }


def test_cancel_and_another_tenants_job(client_a: Client, pipeline: PipelineConfig) -> None:
    with client_a, Client(pipeline.api_url, TENANT_B_KEY) as other:
        job = client_a.submit("a slow glacier", **QUEUED_FOREVER)  # no mochi-1 slot is up: it stays queued
        for attempt in (other.get, other.cancel, other.content_url):
            with pytest.raises(NotFound) as refused:
                attempt(job.id)
            assert refused.value.status == 404
            assert refused.value.problem["status"] == 404
        with pytest.raises(NotFound):
            next(iter(other.events(job.id)))
        canceled = client_a.cancel(job.id, reason="changed my mind")
        assert canceled.id == job.id
        assert client_a.wait(job.id, timeout=60).status == "canceled"


def test_refusals_are_typed(client_a: Client, pipeline: PipelineConfig) -> None:
    with client_a, pytest.raises(ValidationError) as invalid:
        client_a.submit("a fox", model="tiny-mochi", width=17)
    assert invalid.value.field == "width"
    assert invalid.value.status == 422
    with Client(pipeline.api_url, "rs_test_" + "0" * 32) as stranger, pytest.raises(AuthenticationError):
        stranger.get("nope")


def test_an_event_stream_cut_mid_way_resumes_with_last_event_id(
    client_a: Client, pipeline: PipelineConfig
) -> None:
    with client_a:
        job = client_a.submit("a paper lantern", **{**SMALL, "num_inference_steps": 20})
    with cuttable_proxy(pipeline.http_port) as proxy:
        retry = RetryPolicy(wait_initial=0.1, wait_jitter=0.1)
        with Client(proxy.url, TENANT_A_KEY, retry=retry) as client:
            seen, arrived = [], []
            for snapshot in client.events(job.id):
                seen.append(snapshot)
                arrived.append(time.monotonic())
                if len(seen) == 1:
                    proxy.cut()
    versions = [s.version for s in seen]
    # reopened because of the cut, not after the stream's 60 s read timeout
    assert len(arrived) > 1
    assert arrived[1] - arrived[0] < 30
    assert seen[-1].status == "succeeded", seen[-1]
    assert versions == sorted(set(versions))  # none twice, none out of order
    resumed = [r for r in proxy.requests if b"/events" in r and b"last-event-id" in r.lower()]
    assert resumed, "the stream was not reopened with Last-Event-ID"
    # the snapshots already in the client's buffer when the cut landed are still yielded, so the stream is
    # resumed from the last one received, which need not be the first: any seen one but the final
    resumed_from = int(re.search(rb"(?i)last-event-id: (\d+)", resumed[0]).group(1))  # type: ignore[union-attr]
    assert resumed_from in versions[:-1]
