"""End to end through the real processes: HTTP or Kafka in, verified MP4 + status + signed webhook out."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
from reelstream_client import Client, Job

from devstack.services import PipelineConfig
from gpu_consumers.video import probe_mp4
from reelstream.endpoints import Endpoints
from reelstream.kafka.clients import Publisher, new_producer, sender_of
from reelstream.object_store import minio_client
from reelstream.webhooks.messages import verify
from schemas.events import RequestedParams, SubmitJob
from schemas.serde import AvroSerde
from schemas.topics import COMMANDS
from tests.e2e.conftest import TENANT_B_KEY
from tests.e2e.support import SMALL, EventTail, wait_status
from tests.webhook_receiver import webhook_receiver


def _submit(client: Client, **body: Any) -> Job:
    return client.submit(**{"prompt": "a red fox in snow", **SMALL, **body})


async def test_http_submit_to_signed_webhook_status_download_and_ordered_events(
    pipeline: PipelineConfig, client_a: Client, stack: Endpoints, serde: AvroSerde, tmp_path: Path
) -> None:
    with webhook_receiver() as receiver:
        async with EventTail(stack, serde) as tail:
            job = await asyncio.to_thread(_submit, client_a, webhook_url=receiver.url, seed=42)
            assert job.parameters.seed == 42
            events = await tail.until_terminal(job.id)
        hook = await asyncio.to_thread(
            receiver.wait_for, lambda d: json.loads(d.body)["data"]["id"] == job.id
        )
    verify(pipeline.webhook_secret, hook.headers, hook.body, now=int(time.time()))
    assert json.loads(hook.body)["type"] == "job.succeeded"

    types = [e.type for e in events]
    assert types[0] == "queued"
    assert types.index("dispatched") < types.index("started") < types.index("succeeded") == len(types) - 1
    versions = [e.status.version for e in events]
    assert versions == sorted(versions)

    final = await asyncio.to_thread(client_a.get, job.id)
    assert final.status == "succeeded"
    assert final.artifact.frames == 13
    target = tmp_path / "video.mp4"
    await asyncio.to_thread(client_a.download, job.id, target)
    info = probe_mp4(target)
    assert (info.frames, info.width, info.height) == (13, 64, 48)


async def test_a_job_submitted_through_kafka_alone_completes(
    stack: Endpoints, serde: AvroSerde, pipeline: PipelineConfig
) -> None:
    producer = new_producer(stack.kafka_bootstrap, "e2e-internal-team", security=stack.kafka_security)
    await producer.start()
    try:
        async with EventTail(stack, serde) as tail:
            job_id = uuid.uuid4().hex
            command = SubmitJob(
                job_id=job_id, tenant_id="tenant-a", prompt="waves at dusk", params=RequestedParams(**SMALL)
            )
            await Publisher(sender_of(producer), serde).publish(COMMANDS, "tenant-a", command)
            events = await tail.until_terminal(job_id)
    finally:
        await producer.stop()
    final = events[-1].status
    assert final.state == "succeeded"
    assert final.params is not None
    assert final.params.seed is not None
    assert final.artifact is not None
    stored = minio_client(stack).stat_object(stack.s3_bucket, final.artifact.key)
    assert stored.size == final.artifact.bytes


async def test_cancel_while_queued_ends_canceled_without_an_artifact(
    pipeline: PipelineConfig, client_a: Client, stack: Endpoints, serde: AvroSerde
) -> None:
    async with EventTail(stack, serde) as tail:
        # the pool is configured for mochi-1 but no slot of it is up, so the job stays queued until canceled
        job = await asyncio.to_thread(
            _submit,
            client_a,
            model="mochi-1",
            width=848,
            height=480,
            num_frames=None,
            duration_seconds=1.0,
            num_inference_steps=2,
            fps=30,
        )
        await asyncio.to_thread(wait_status, client_a, job.id, {"queued"})
        await asyncio.to_thread(client_a.cancel, job.id)
        events = await tail.until_terminal(job.id)
    assert events[-1].status.state == "canceled"
    assert events[-1].status.artifact is None


async def test_cancel_while_rendering_frees_the_slot_and_leaves_no_artifact(
    pipeline: PipelineConfig, client_a: Client, stack: Endpoints, serde: AvroSerde
) -> None:
    async with EventTail(stack, serde) as tail:
        slow = await asyncio.to_thread(
            _submit, client_a, width=256, height=256, num_frames=61, num_inference_steps=200
        )
        await asyncio.to_thread(wait_status, client_a, slow.id, {"running"}, lambda j: j.stage == "denoise")
        await asyncio.to_thread(client_a.cancel, slow.id)
        events = await tail.until_terminal(slow.id)
        assert events[-1].status.state == "canceled"
        assert events[-1].status.error is not None
        assert events[-1].status.error.code == "canceled"
        after = await asyncio.to_thread(_submit, client_a)
        assert (await tail.until_terminal(after.id))[-1].status.state == "succeeded"
    leftovers = list(
        minio_client(stack).list_objects(stack.s3_bucket, prefix=f"tenant-a/{slow.id}/", recursive=True)
    )
    assert leftovers == []


def test_another_tenant_cannot_see_the_job(pipeline: PipelineConfig, client_a: Client) -> None:
    job = _submit(client_a)
    response = httpx.get(
        f"{pipeline.api_url}/v1/jobs/{job.id}", headers={"Authorization": f"Bearer {TENANT_B_KEY}"}
    )
    assert response.status_code == 404


async def test_a_tiny_mochi_job_s_progress_moves_per_step_and_phase_in_order(
    pipeline: PipelineConfig, client_a: Client, stack: Endpoints, serde: AvroSerde
) -> None:
    """What a client sees on jobs.events (and so on the status, the event stream and webhooks): the bar
    moves on each denoise step and at decode, encode and upload, then 1.0 (before: 0 -> 23.8 -> 95 %)."""
    async with EventTail(stack, serde) as tail:
        job = await asyncio.to_thread(_submit, client_a)
        events = await tail.until_terminal(job.id)
    assert events[-1].status.state == "succeeded"
    progress = [e.status.progress for e in events if e.type == "progress"]
    assert progress == sorted(progress)
    assert len(set(progress)) >= 6
    stages = [e.status.stage.value for e in events if e.type == "progress" and e.status.stage is not None]
    assert list(dict.fromkeys(stages)) == ["encode_text", "denoise", "decode", "encode_video", "upload"]
    assert events[-1].status.progress == 1.0
