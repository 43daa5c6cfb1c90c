"""Failover through the real processes: a worker killed mid-render loses its lease and the job finishes on
another slot exactly once (one `succeeded`, one webhook), fenced against the dead attempt."""

from __future__ import annotations

import asyncio
import json
import os

from reelstream_client import Client

from devstack.services import Pipeline
from reelstream.endpoints import Endpoints
from schemas.serde import AvroSerde
from tests.e2e.support import SMALL, EventTail
from tests.webhook_receiver import Delivery, webhook_receiver


async def test_a_worker_killed_mid_render_does_not_lose_or_double_the_job(
    running_pipeline: Pipeline, client_a: Client, stack: Endpoints, serde: AvroSerde
) -> None:
    client = client_a
    with webhook_receiver() as receiver:
        async with EventTail(stack, serde) as tail:
            body = {
                "prompt": "a lighthouse in a storm",
                **SMALL,
                "width": 256,
                "height": 256,
                "num_frames": 61,
                "num_inference_steps": 60,
                "webhook_url": receiver.url,
            }
            job = await asyncio.to_thread(client.submit, **body)
            started = await tail.until(job.id, lambda e: e.type == "progress" and e.status.stage == "denoise")
            victim = f"worker-{started.status.slot}"
            running_pipeline.kill(victim)
            try:
                events = await tail.until_terminal(job.id, within=120)
            finally:
                running_pipeline.respawn(victim, stack, os.environ)
        await asyncio.to_thread(receiver.wait_for, lambda d: json.loads(d.body)["data"]["id"] == job.id)
    types = [e.type.value for e in events]
    assert types.count("succeeded") == 1, " ".join(types) + " " + str(events[-1].status.error)
    assert "requeued" in types
    final = events[-1].status
    assert final.state == "succeeded"
    assert final.attempt == 2
    assert final.artifact is not None
    assert f"/{final.attempt}/" in final.artifact.key
    assert len(_hooks_for(receiver.deliveries, job.id)) == 1


def _hooks_for(deliveries: list[Delivery], job_id: str) -> list[Delivery]:
    return [d for d in deliveries if json.loads(d.body)["data"]["id"] == job_id]


async def test_restarting_the_scheduler_mid_load_loses_and_doubles_nothing(
    running_pipeline: Pipeline, client_a: Client, stack: Endpoints, serde: AvroSerde
) -> None:
    """The pool's state lives in a changelog-backed table: a scheduler killed with jobs queued and running
    comes back with them, and every job still ends exactly once. The new process rejoins the group under
    the old one's static member id, so it does not wait out the killed process's session first.

    "Once" as consumers see it: one `succeeded` version. A job that finished just before the kill, its
    `succeeded` written but the state after it not yet stored, is decided again from the inbox and the
    same `succeeded` (same version) is written again (streams/group_commit.py); every consumer drops it.
    Renders here take ~0.3 s, so that happens in some runs; a second version would be a second finish."""
    async with EventTail(stack, serde) as tail:
        jobs = [
            await asyncio.to_thread(
                client_a.submit, **{"prompt": f"tide pool {i}", **SMALL, "num_inference_steps": 20}
            )
            for i in range(6)
        ]
        await tail.until(jobs[0].id, lambda e: e.type == "dispatched")
        running_pipeline.kill("scheduler")
        running_pipeline.respawn("scheduler", stack, os.environ)
        finals = [(await tail.until_terminal(job.id, within=120))[-1] for job in jobs]
    assert [f.status.state.value for f in finals] == ["succeeded"] * len(jobs)
    for job in jobs:
        succeeded = [e.status.version for e in tail.events[job.id] if e.type.value == "succeeded"]
        assert succeeded, job.id
        assert len(set(succeeded)) == 1, succeeded
