"""Deleting a job through the real processes: one deleted during its render never leaves a video and sends
no webhook but `job.deleted`; a finished one loses its video and reads 404 afterwards, through the SDK."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest
from reelstream_client import Client, Job
from reelstream_client.errors import NotFound

from devstack.services import PipelineConfig
from reelstream.endpoints import Endpoints
from reelstream.object_store import minio_client
from schemas.serde import AvroSerde
from tests.e2e.support import SMALL, EventTail, wait_status
from tests.webhook_receiver import Delivery, webhook_receiver


def _submit(client: Client, **body: Any) -> Job:
    return client.submit(**{"prompt": "a red fox in snow", **SMALL, **body})


def _objects(stack: Endpoints, job_id: str) -> list[str]:
    listed = minio_client(stack).list_objects(stack.s3_bucket, prefix=f"tenant-a/{job_id}/", recursive=True)
    return [o.object_name for o in listed if o.object_name]


def _about(job_id: str) -> Any:
    return lambda d: json.loads(d.body)["data"]["id"] == job_id


async def test_delete_while_rendering_leaves_no_video_and_sends_only_job_deleted(
    pipeline: PipelineConfig, client_a: Client, stack: Endpoints, serde: AvroSerde
) -> None:
    with webhook_receiver() as receiver:
        async with EventTail(stack, serde) as tail:
            slow = await asyncio.to_thread(
                _submit,
                client_a,
                webhook_url=receiver.url,
                width=256,
                height=256,
                num_frames=61,
                num_inference_steps=200,
            )
            await asyncio.to_thread(
                wait_status, client_a, slow.id, {"running"}, lambda j: j.stage == "denoise"
            )
            await asyncio.to_thread(client_a.delete, slow.id)
            with pytest.raises(NotFound):
                await asyncio.to_thread(client_a.get, slow.id)
            await tail.until(slow.id, lambda e: e.type == "deleted")
            events = await tail.until_terminal(slow.id)  # the scheduler's: canceled, marked deleted
            assert events[-1].status.error is not None
            assert events[-1].status.error.code == "deleted"
            assert events[-1].status.artifact is None
            # the slot is free again: the next job renders, and its webhook comes after the deleted one's
            after = await asyncio.to_thread(_submit, client_a, webhook_url=receiver.url)
            assert (await tail.until_terminal(after.id))[-1].status.state == "succeeded"
        await asyncio.to_thread(receiver.wait_for, _about(after.id), 90.0)
        await asyncio.to_thread(receiver.wait_for, _about(slow.id), 60.0)
        hooks: list[Delivery] = receiver.matching(_about(slow.id))
    assert [json.loads(h.body)["type"] for h in hooks] == ["job.deleted"]
    assert await asyncio.to_thread(_objects, stack, slow.id) == []


async def test_a_finished_job_is_deleted_with_its_video(
    pipeline: PipelineConfig, client_a: Client, stack: Endpoints, serde: AvroSerde, tmp_path: Path
) -> None:
    async with EventTail(stack, serde) as tail:
        job = await asyncio.to_thread(_submit, client_a)
        assert (await tail.until_terminal(job.id))[-1].status.state == "succeeded"
    done = await asyncio.to_thread(client_a.get, job.id)
    assert done.expires_at is not None
    assert done.content_expires_at is not None
    assert await asyncio.to_thread(_objects, stack, job.id) != []

    await asyncio.to_thread(client_a.delete, job.id)

    assert await asyncio.to_thread(_objects, stack, job.id) == []
    with pytest.raises(NotFound):
        await asyncio.to_thread(client_a.get, job.id)
    with pytest.raises(NotFound):
        await asyncio.to_thread(client_a.delete, job.id)
    await asyncio.to_thread(client_a.delete, job.id, missing_ok=True)  # a retry that finds it gone
