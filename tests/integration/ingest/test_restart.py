"""An ingest restarted over the same state directory (REELSTREAM_STATE_DIR) is ready with the jobs it showed,
and what changed while it was down, having read only the status records written since its checkpoint."""

from __future__ import annotations

import logging
import re
import uuid
from pathlib import Path

import pytest

from reelstream.endpoints import Endpoints
from schemas.events import JobState, new_id
from schemas.topics import JOB_STATUS
from tests.integration.ingest.support import StatusWriter, api_with_roles, eventually, snapshot

CAUGHT_UP = re.compile(rf"view of {re.escape(JOB_STATUS.name)} caught up: .*, ([0-9]+) records read")


def records_read(caplog: pytest.LogCaptureFixture) -> list[int]:
    """What each status view that caught up while the log was captured had read."""
    return [int(m.group(1)) for r in caplog.records if (m := CAUGHT_UP.search(r.getMessage()))]


async def test_a_restarted_ingest_resumes_from_its_checkpoint(
    stack: Endpoints, topics: None, scheduler: StatusWriter, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    tenants = {"ann": f"ann-{uuid.uuid4().hex[:10]}"}
    tenant, state_dir = tenants["ann"], str(tmp_path / "state")
    jobs = [new_id() for _ in range(4)]
    caplog.set_level(logging.INFO, logger="reelstream.kafka.compacted_view")
    async with api_with_roles(stack, tenants, state_dir=state_dir) as api:
        client = api.client("ann")
        for job in jobs[:3]:
            await scheduler.publish_and_wait(client, snapshot(job, tenant, JobState.QUEUED, 1))
    assert len(records_read(caplog)) == 1  # the first start replayed the topic into an empty directory

    # while it is down: one job moves on, one is new
    await scheduler.publish(
        snapshot(jobs[0], tenant, JobState.RUNNING, 2), snapshot(jobs[3], tenant, JobState.QUEUED, 1)
    )
    caplog.clear()
    async with api_with_roles(stack, tenants, state_dir=state_dir) as api:  # ready on return
        assert records_read(caplog) == [2]  # what was written since the checkpoint; a replay reads ≥ 5
        client = api.client("ann")
        listed = await eventually(lambda: client.get("/v1/jobs"), lambda r: r.status_code == 200)
        shown = {job["id"]: (job["status"], job["version"]) for job in listed.json()["data"]}
        assert shown == {
            jobs[0]: ("running", 2),
            jobs[1]: ("queued", 1),
            jobs[2]: ("queued", 1),
            jobs[3]: ("queued", 1),
        }
