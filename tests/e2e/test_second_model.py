"""A second model family, registered as one module (tests/fake_model.py) named in REELSTREAM_EXTRA_MODELS:
its job goes through the whole pipeline (HTTP → admission → scheduler → its own worker → succeeded, the
artifact stored) by its own limits and defaults; a model no pool serves is refused at submit."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

import httpx
from reelstream_client import Client

from devstack.services import PipelineConfig
from gpu_consumers.video import probe_mp4
from reelstream.endpoints import Endpoints
from reelstream.kafka.clients import Publisher, new_producer, sender_of
from schemas.events import RequestedParams, SubmitJob
from schemas.serde import AvroSerde
from schemas.topics import COMMANDS
from tests.e2e.conftest import FAKE_MODEL, FAKE_SLOT, POOL_MODELS, TENANT_A_KEY, UNSERVED_MODEL
from tests.e2e.support import EventTail


async def test_a_job_of_a_registered_second_model_renders_on_its_own_slot_by_its_own_rules(
    client_a: Client, stack: Endpoints, serde: AvroSerde, tmp_path: Path
) -> None:
    # 40 wide and 9 frames: fake-clip's rules (multiples of 8, 4k+1), both refused for the Mochi family
    body = {"prompt": "a paper boat", "model": FAKE_MODEL, "width": 40, "num_frames": 9}
    async with EventTail(stack, serde) as tail:
        job = await asyncio.to_thread(client_a.submit, **body)
        assert job.parameters.model == FAKE_MODEL
        assert (job.parameters.height, job.parameters.fps) == (24, 8)  # its defaults
        events = await tail.until_terminal(job.id)
    final = events[-1].status
    assert final.state == "succeeded", final.error
    started = next(e for e in events if e.type == "started")
    assert started.status.slot == FAKE_SLOT  # only its own worker serves it
    assert final.artifact is not None
    assert (final.artifact.renderer, final.artifact.frames) == (FAKE_MODEL, 9)
    target = tmp_path / "fake.mp4"
    await asyncio.to_thread(client_a.download, job.id, target)
    info = probe_mp4(target)
    assert (info.frames, info.width, info.height) == (9, 40, 24)


async def test_a_model_no_pool_serves_is_refused_at_submit_naming_it_and_the_models_served(
    pipeline: PipelineConfig,
) -> None:
    async with httpx.AsyncClient(
        base_url=pipeline.api_url, headers={"Authorization": f"Bearer {TENANT_A_KEY}"}, timeout=30
    ) as http:
        refused = await http.post("/v1/jobs", json={"prompt": "a heron", "model": UNSERVED_MODEL})
        document = (await http.get("/openapi.json")).json()
    assert refused.status_code == 422
    assert refused.headers["content-type"] == "application/problem+json"
    [error] = refused.json()["errors"]
    assert error["field"] == "model"
    served = ", ".join(POOL_MODELS)
    assert error["message"] == f"model '{UNSERVED_MODEL}' is served by no pool; served: {served}"
    offered = document["components"]["schemas"]["JobRequest"]["properties"]["model"]["enum"]
    assert offered == list(POOL_MODELS)


async def test_a_job_for_a_model_no_pool_serves_produced_straight_to_kafka_is_rejected_not_left_waiting(
    stack: Endpoints, serde: AvroSerde, pipeline: PipelineConfig
) -> None:
    producer = new_producer(stack.kafka_bootstrap, "e2e-internal-team", security=stack.kafka_security)
    await producer.start()
    try:
        async with EventTail(stack, serde) as tail:
            job_id = uuid.uuid4().hex
            command = SubmitJob(
                job_id=job_id,
                tenant_id="tenant-a",
                prompt="a heron",
                params=RequestedParams(model=UNSERVED_MODEL),
            )
            await Publisher(sender_of(producer), serde).publish(COMMANDS, "tenant-a", command)
            events = await tail.until_terminal(job_id)
    finally:
        await producer.stop()
    final = events[-1].status
    assert final.state == "rejected"
    assert final.error is not None
    assert final.error.code == "no_capacity"
    assert UNSERVED_MODEL in final.error.message
