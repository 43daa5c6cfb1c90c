"""A render that hangs past its deadline, on the real pipeline: the worker gives up on it (its thread cannot
be stopped, so the process ends and is restarted, as an orchestrator would), the attempt fails with
`render_timeout`, is retried once, then the job fails; the slot is freed and serves the next job."""

from __future__ import annotations

import asyncio
import os

from reelstream_client import Client

from devstack.services import Pipeline
from reelstream.endpoints import Endpoints
from schemas.serde import AvroSerde
from tests.e2e.conftest import HANGING_MODEL, HANGING_SLOT
from tests.e2e.support import EventTail


async def test_a_hung_render_times_out_is_retried_once_then_fails_and_its_slot_serves_the_next_job(
    client_a: Client, running_pipeline: Pipeline, stack: Endpoints, serde: AvroSerde
) -> None:
    async with running_pipeline.supervised(stack, os.environ) as restarted, EventTail(stack, serde) as tail:
        stuck = await asyncio.to_thread(client_a.submit, prompt="stuck heron", model=HANGING_MODEL)
        events = await tail.until_terminal(stuck.id, within=150)
        final = events[-1].status
        assert final.state == "failed"
        assert final.error is not None
        assert final.error.code == "render_timeout", final.error
        attempts = [e.status.attempt for e in events if e.type == "started"]
        assert attempts == [1, 2]  # retried once, then failed
        assert f"worker-{HANGING_SLOT}" in restarted  # the stuck process ended and was started again

        fine = await asyncio.to_thread(client_a.submit, prompt="a heron", model=HANGING_MODEL)
        after = await tail.until_terminal(fine.id, within=150)
    assert after[-1].status.state == "succeeded", after[-1].status.error
    assert after[-1].status.slot == HANGING_SLOT  # the slot was freed
