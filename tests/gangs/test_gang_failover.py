"""A low-latency tenant's job on a gang of two worker slots, through the real processes (streams/gang.py,
gpu_consumers/gang_member.py): both slots hold it as one job (the pool names the gang on each, the leader
first); a member SIGKILLed mid-render fails the attempt for the whole gang, the job is retried and succeeds,
it ends exactly once, and every slot is idle after. The renderer is the simulated one (an all-reduce over the
gang per step): the tiny Mochi ignores the gang until its parallel split lands, so a member's death would
only show when its lease ran out."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Callable
from typing import Any

import httpx
from reelstream_client import Client

from devstack.services import Pipeline
from reelstream.endpoints import Endpoints
from schemas.serde import AvroSerde
from tests.e2e.support import SMALL, EventTail
from tests.gangs.conftest import OPERATOR_KEY, TENANT_KEY

GANG_JOB = {**SMALL, "num_inference_steps": 20}
Slots = list[dict[str, Any]]


def _slots(api_url: str) -> Slots:
    """Every slot of the pool as `GET /v1/admin/pool` answers (a 503 while its view catches up: none)."""
    headers = {"Authorization": f"Bearer {OPERATOR_KEY}"}
    response = httpx.get(f"{api_url}/v1/admin/pool", headers=headers, timeout=10)
    if response.status_code == 503:
        return []
    response.raise_for_status()
    return [slot for pool in response.json()["data"] for slot in pool["slots"]]


async def _wait_slots(api_url: str, holds: Callable[[Slots], bool], within: float = 90) -> Slots:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        slots = await asyncio.to_thread(_slots, api_url)
        if holds(slots):
            return slots
        await asyncio.sleep(0.2)  # polling the API until a deadline: the condition is the pool's state
    raise TimeoutError(f"the pool never reached the state asked for; last seen {_slots(api_url)}")


def _holding(job_id: str, slots: Slots) -> list[int]:
    return sorted(s["slot"] for s in slots if s["job"] is not None and s["job"]["id"] == job_id)


async def test_a_gang_member_killed_mid_render_fails_the_attempt_and_the_job_succeeds_once_retried(
    gang_pipeline: Pipeline, stack: Endpoints, serde: AvroSerde
) -> None:
    api_url = gang_pipeline.config.api_url
    with Client(api_url, TENANT_KEY) as client:
        async with EventTail(stack, serde) as tail:
            job = await asyncio.to_thread(client.submit, prompt="a kite over dunes", **GANG_JOB)
            started = await tail.until(job.id, lambda e: e.type == "progress" and e.status.stage == "denoise")
            slots = await _wait_slots(api_url, lambda s: _holding(job.id, s) == [0, 1])
            assert all(s["state"] == "busy" for s in slots if s["slot"] in (0, 1))
            leader = started.status.slot
            assert leader in (0, 1)
            assert [s["job"]["gang"] for s in slots] == [[leader, 1 - leader]] * 2
            victim = f"worker-{1 - leader}"  # a member that is not the leader: it reports nothing itself
            gang_pipeline.kill(victim)
            try:
                events = await tail.until_terminal(job.id, within=240)
            finally:
                gang_pipeline.respawn(victim, stack, os.environ)
    types = [e.type.value for e in events]
    assert types.count("succeeded") == 1, " ".join(types) + " " + str(events[-1].status.error)
    assert sum(e.status.state.terminal for e in events) == 1, types
    assert "requeued" in types, types
    final = events[-1].status
    assert final.attempt >= 2
    assert final.artifact is not None
    assert f"/{final.attempt}/" in final.artifact.key
    await _wait_slots(api_url, lambda s: len(s) == 2 and all(slot["job"] is None for slot in s), within=120)
