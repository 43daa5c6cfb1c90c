"""An ingest restarted over the same state directory (REELSTREAM_STATE_DIR) is ready with the jobs it showed,
and what changed while it was down, having read only the records written since its checkpoints: of the
status, the job keys and the usage topics (each view's own), and shows the same (a prompt opened with a job
key it did not read again, usage sums)."""

from __future__ import annotations

import logging
import re
import uuid
from pathlib import Path
from typing import Any

import pytest

from reelstream.endpoints import Endpoints
from schemas.events import JobState, new_id
from schemas.topics import JOB_KEYS, JOB_STATUS, USAGE_EVENTS, Topic
from tests.integration.ingest.support import StatusWriter, api_with_roles, eventually, snapshot
from tests.samples import usage_record


def records_read(caplog: pytest.LogCaptureFixture, topic: Topic[Any] = JOB_STATUS) -> list[int]:
    """What each view of `topic` that caught up while the log was captured had read."""
    caught_up = re.compile(rf"view of {re.escape(topic.name)} caught up: .*, ([0-9]+) records read")
    return [int(m.group(1)) for r in caplog.records if (m := caught_up.search(r.getMessage()))]


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


async def test_a_restarted_ingest_keeps_its_job_keys_and_usage_and_reads_only_their_tail(
    stack: Endpoints, topics: None, scheduler: StatusWriter, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    tenants = {"bea": f"bea-{uuid.uuid4().hex[:10]}"}
    tenant, state_dir = tenants["bea"], str(tmp_path / "state")
    publisher = scheduler.publisher
    caplog.set_level(logging.INFO, logger="reelstream.kafka.compacted_view")
    async with api_with_roles(stack, tenants, state_dir=state_dir) as api:
        client = api.client("bea")
        submitted = await client.post(
            "/v1/jobs", json={"prompt": "a heron at dawn", "num_inference_steps": 2}
        )
        assert submitted.status_code == 202, submitted.text
        job = submitted.json()["id"]
        first = usage_record(attempt_id=f"{job}/1", tenant_id=tenant, job_id=job, gpu_seconds=2.5)
        await publisher.publish(USAGE_EVENTS, first.attempt_id, first)
        usage = await eventually(
            lambda: client.get("/v1/usage", params={"from": "2000-01-01"}),
            lambda r: r.status_code == 200 and r.json()["total"]["attempts"] == 1,
        )
    assert len(records_read(caplog, JOB_KEYS)) == 1

    # while it is down: the attempt's record again (counts once) and a second attempt
    again = usage_record(attempt_id=f"{job}/2", tenant_id=tenant, job_id=job, gpu_seconds=4.0)
    await publisher.publish(USAGE_EVENTS, first.attempt_id, first)
    await publisher.publish(USAGE_EVENTS, again.attempt_id, again)
    caplog.clear()
    async with api_with_roles(stack, tenants, state_dir=state_dir) as api:
        assert records_read(caplog, JOB_KEYS) == [0]  # its key was checkpointed: not read again
        assert records_read(caplog, USAGE_EVENTS) == [2]  # the two written while it was down
        client = api.client("bea")
        shown = await client.get(f"/v1/jobs/{job}")
        assert (shown.status_code, shown.json()["prompt"]) == (200, "a heron at dawn")
        after = (await client.get("/v1/usage", params={"from": "2000-01-01"})).json()["total"]
        assert (after["attempts"], after["gpu_seconds"]) == (2, usage.json()["total"]["gpu_seconds"] + 4.0)
