"""Scale-out from a snapshot (reelstream.state_snapshot): an ingest publishes its local store to object
storage; a new one with an empty state directory restores it, reads only the status records written since,
and answers as one that replayed everything; a corrupt snapshot falls back to that replay."""

from __future__ import annotations

import asyncio
import dataclasses
import io
import logging
import re
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from devstack.manager import ensure_bucket
from reelstream.endpoints import Endpoints
from reelstream.object_store import ObjectStore, minio_client
from reelstream.state_snapshot import SNAPSHOT_KEY
from schemas.events import JobState, new_id
from schemas.topics import JOB_STATUS
from tests.integration.ingest.support import RunningApi, StatusWriter, api_with_roles, eventually, snapshot

CAUGHT_UP = re.compile(rf"view of {re.escape(JOB_STATUS.name)} caught up: .*, ([0-9]+) records read")
RESTORED = re.compile(r"state restored from snapshot|state snapshot .* not used|no state snapshot")


def records_read(caplog: pytest.LogCaptureFixture) -> list[int]:
    return [int(m.group(1)) for r in caplog.records if (m := CAUGHT_UP.search(r.getMessage()))]


def restores(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [m.group(0) for r in caplog.records if (m := RESTORED.search(r.getMessage()))]


async def answers(api: RunningApi, jobs: list[str]) -> dict[str, Any]:
    """Every job's GET, and the tenant's list walked two at a time through its cursors."""
    client = api.client("ann")
    shown: dict[str, Any] = {}
    for job in jobs:
        response = await client.get(f"/v1/jobs/{job}")
        assert response.status_code == 200, response.text
        shown[job] = response.json()
    pages, cursor = [], None
    while True:
        params = {"limit": "2", **({"after": cursor} if cursor else {})}
        page = (await client.get("/v1/jobs", params=params)).json()
        pages.append([job["id"] for job in page["data"]])
        if (cursor := page["next_cursor"]) is None:
            break
    shown["pages"] = pages
    return shown


async def test_an_empty_replica_restores_the_snapshot_and_reads_only_the_tail(
    stack: Endpoints, topics: None, scheduler: StatusWriter, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    own = dataclasses.replace(stack, s3_bucket=f"snapshots-{uuid.uuid4().hex[:8]}")  # its snapshot alone
    ensure_bucket(own)
    objects = ObjectStore(minio_client(own), own.s3_bucket)
    tenants = {"ann": f"ann-{uuid.uuid4().hex[:10]}"}
    tenant, jobs = tenants["ann"], [new_id() for _ in range(5)]
    caplog.set_level(logging.INFO, logger="reelstream.kafka.compacted_view")
    caplog.set_level(logging.INFO, logger="reelstream.state_snapshot")
    publishing = {"state_snapshot_interval_seconds": 1.0}
    async with api_with_roles(own, tenants, state_dir=str(tmp_path / "a"), **publishing) as api:
        client = api.client("ann")
        for job in jobs[:3]:
            await scheduler.publish_and_wait(client, snapshot(job, tenant, JobState.QUEUED, 1))
        shown_at = datetime.now(UTC).replace(microsecond=0) + timedelta(
            seconds=1
        )  # S3 times are whole seconds
        await eventually(lambda: _modified(objects), lambda at: at is not None and at > shown_at, within=60)
    assert restores(caplog) == ["no state snapshot"]

    # written after the snapshot: one job moves on, two are new
    await scheduler.publish(
        snapshot(jobs[0], tenant, JobState.RUNNING, 2),
        snapshot(jobs[3], tenant, JobState.QUEUED, 1),
        snapshot(jobs[4], tenant, JobState.QUEUED, 1),
    )
    caplog.clear()
    async with api_with_roles(own, tenants, state_dir=str(tmp_path / "b")) as api:  # ready on return
        assert restores(caplog) == ["state restored from snapshot"]
        assert records_read(caplog) == [3]  # the tail only; a replay reads every record of the topic
        seeded = await answers(api, jobs)
    assert seeded[jobs[0]]["status"] == "running"
    assert sum(len(page) for page in seeded["pages"]) == 5

    caplog.clear()
    async with api_with_roles(
        own, tenants, state_dir=str(tmp_path / "c"), state_snapshot_enabled=False
    ) as api:
        replayed_count = records_read(caplog)
        replayed = await answers(api, jobs)
    assert restores(caplog) == []
    assert replayed_count[0] >= 6
    assert seeded == replayed

    # a corrupt snapshot: one byte changed in the middle of the database's files
    with objects.reading(SNAPSHOT_KEY) as stream:
        assert stream is not None
        data = bytearray(stream.read())
    data[len(data) // 2] ^= 0xFF
    objects.client.put_object(own.s3_bucket, SNAPSHOT_KEY, io.BytesIO(bytes(data)), len(data))
    caplog.clear()
    async with api_with_roles(own, tenants, state_dir=str(tmp_path / "d")) as api:
        assert restores(caplog) == ["state snapshot _state/ingest/store.tar not used"]
        assert records_read(caplog)[0] >= 6  # replayed from the beginning
        assert await answers(api, jobs) == replayed


async def _modified(objects: ObjectStore) -> datetime | None:
    return await asyncio.to_thread(objects.modified_at, SNAPSHOT_KEY)
