"""A tenant capped at one running job, on the whole pipeline with two worker slots: its jobs wait `queued`
with reason `throttled` instead of failing, never two of them hold a slot at once, and all of them succeed."""

from __future__ import annotations

import asyncio
import itertools
from datetime import datetime
from typing import Any

from reelstream_client import Client

from devstack.services import PipelineConfig
from reelstream.endpoints import Endpoints
from schemas.events import JobEvent, JobState
from schemas.serde import AvroSerde
from tests.e2e.conftest import SERIAL_KEY
from tests.e2e.support import SMALL, EventTail

JOBS = 3


def _held(events: list[JobEvent]) -> tuple[datetime, datetime]:
    """When the job got its slot (dispatched) and when it let it go (its terminal snapshot)."""
    dispatched = next(
        e.status.state_times["dispatched"] for e in events if e.status.state is JobState.DISPATCHED
    )
    return dispatched, events[-1].status.updated_at


async def test_over_its_running_cap_a_tenant_waits_throttled_and_its_jobs_run_one_at_a_time(
    pipeline: PipelineConfig, stack: Endpoints, serde: AvroSerde
) -> None:
    body: dict[str, Any] = {"prompt": "a red fox in snow", **SMALL}
    with Client(pipeline.api_url, SERIAL_KEY) as client:
        async with EventTail(stack, serde) as tail:
            jobs = [await asyncio.to_thread(client.submit, **body) for _ in range(JOBS)]
            histories = {job.id: await tail.until_terminal(job.id, within=180) for job in jobs}

    assert all(h[-1].status.state is JobState.SUCCEEDED for h in histories.values()), {
        j: [e.type.value for e in h] for j, h in histories.items()
    }
    throttled = [j for j, h in histories.items() if any(e.status.reason == "throttled" for e in h)]
    assert throttled, "with two slots and a cap of one, a later job must have waited throttled"
    for history in histories.values():
        assert all(e.status.reason is None for e in history if e.status.state is not JobState.QUEUED)
    spans = sorted(_held(h) for h in histories.values())
    for (_, released), (taken, _) in itertools.pairwise(spans):
        assert taken >= released, f"two jobs of a tenant capped at one held slots at once: {spans}"
