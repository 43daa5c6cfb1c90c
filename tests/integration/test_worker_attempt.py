"""One render attempt against real MinIO (and, for the lost-GPU case, a real worker on the real broker).

The renderers here are the tiny random-weight Mochi and a stand-in whose GPU breaks: what crosses a network
(Kafka, the object store) is real.
"""

from __future__ import annotations

import asyncio
import io
import os
import tempfile
import threading
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

os.environ["HF_HUB_OFFLINE"] = "1"

from gpu_consumers.job import run_attempt
from gpu_consumers.render.base import (
    DeviceLost,
    RenderedVideo,
    RenderRequest,
)
from gpu_consumers.render.mochi import MochiRenderer, tiny_mochi_renderer
from gpu_consumers.render.simulated import SimulatedRenderer
from gpu_consumers.video import is_faststart, verify_mp4
from gpu_consumers.worker import Worker
from reelstream.endpoints import Endpoints
from reelstream.kafka.clients import BrokerUnavailableError
from reelstream.models import BUILTIN_MODELS
from reelstream.object_store import ObjectStore, ObjectStoreError, minio_client, poster_key_for
from reelstream.settings import WorkerSettings
from schemas.events import (
    DispatchRender,
    RenderFailed,
    RenderProgress,
    RenderStarted,
    RenderSucceeded,
    WorkerHeartbeat,
)
from schemas.serde import AvroSerde
from schemas.topics import RENDER_DISPATCH, SCHEDULER_INBOX
from tests.keys import shared_key_dir
from tests.renderers import RaisingRenderer
from tests.samples import render_params

pytestmark = [
    pytest.mark.render,
    pytest.mark.filterwarnings("ignore:In CPU autocast, but the target dtype is not supported:UserWarning"),
]

DEADLINE_S = 60.0


@pytest.fixture(scope="module")
def renderer() -> MochiRenderer:
    renderer = tiny_mochi_renderer()
    renderer.load()
    return renderer


@pytest.fixture(scope="module")
def store(stack: Endpoints) -> ObjectStore:
    return ObjectStore(minio_client(stack), stack.s3_bucket)


def dispatch(**overrides: Any) -> DispatchRender:
    job_id = uuid.uuid4().hex
    base: dict[str, Any] = dict(
        job_id=job_id,
        slot=0,
        attempt=1,
        tenant_id="t-attempt",
        prompt="a red boat on the sea",
        params=render_params(num_frames=7, num_inference_steps=2),
        artifact_key=f"t-attempt/{job_id}/1/video.mp4",
    )
    return DispatchRender(**{**base, **overrides})


async def attempt(cmd: DispatchRender, renderer: Any, store: ObjectStore) -> list[Any]:
    reports: list[Any] = []

    async def report(event: Any) -> None:
        reports.append(event)

    await run_attempt(cmd, renderer, store, report, threading.Event(), "test-worker", 0.0)
    return reports


@pytest.fixture
def downloads() -> Iterator[Path]:
    with tempfile.TemporaryDirectory() as tmp:
        yield Path(tmp)


async def test_success_means_a_verified_faststart_mp4_and_its_poster_in_the_bucket(
    renderer: MochiRenderer, store: ObjectStore, downloads: Path
) -> None:
    from PIL import Image

    cmd = dispatch()
    outcome = (await attempt(cmd, renderer, store))[-1]

    assert isinstance(outcome, RenderSucceeded)
    artifact = outcome.artifact
    assert artifact.poster_key == poster_key_for(cmd.artifact_key) == f"t-attempt/{cmd.job_id}/1/poster.jpg"
    assert artifact.renderer == "tiny-mochi"
    assert artifact.render_settings == {**renderer.options.record(), "tier": "full"}
    video = downloads / "video.mp4"
    store.client.fget_object(store.bucket, artifact.key, str(video))
    assert is_faststart(video)
    info = verify_mp4(video, frames=7, width=64, height=48, fps=24)
    assert (artifact.frames, artifact.fps, artifact.bytes) == (7, info.fps, video.stat().st_size)
    poster = store.client.get_object(store.bucket, artifact.poster_key)
    try:
        image = Image.open(io.BytesIO(poster.read()))
        assert (image.format, image.size) == ("JPEG", (64, 48))
    finally:
        poster.close()
        poster.release_conn()


async def test_a_tiny_mochi_attempt_reports_progress_per_step_and_per_phase(
    renderer: MochiRenderer, store: ObjectStore
) -> None:
    """With the worker's default report interval, a CPU render whose steps take milliseconds still moves the
    bar on every denoise step and at decode, encode and upload (before: 0 -> 23.8 -> 95 %)."""
    reports: list[Any] = []

    async def report(event: Any) -> None:
        reports.append(event)

    cmd = dispatch(params=render_params(num_frames=7, num_inference_steps=4))
    interval = WorkerSettings.progress_interval_seconds  # the default a deployed worker runs with
    await run_attempt(cmd, renderer, store, report, threading.Event(), "test-worker", interval)

    assert isinstance(reports[-1], RenderSucceeded)
    progress = [e for e in reports if isinstance(e, RenderProgress)]
    values = [e.progress for e in progress]
    assert values == sorted(values)
    assert values[-1] < 1.0
    assert len(set(values)) >= 8
    assert [e.step for e in progress if e.stage.value == "denoise"] == [1, 2, 3, 4]
    stages = list(dict.fromkeys(e.stage.value for e in progress))
    assert stages == ["encode_text", "denoise", "decode", "encode_video", "upload"]


async def test_a_simulated_render_makes_a_verified_artifact_like_a_real_one(store: ObjectStore) -> None:
    """The benchmarks' stand-in goes through the same attempt: encode, verify, upload."""
    cmd = dispatch(params=render_params(num_frames=13, num_inference_steps=4))
    outcome = (await attempt(cmd, SimulatedRenderer(BUILTIN_MODELS["tiny-mochi"], 0.01), store))[-1]
    assert isinstance(outcome, RenderSucceeded), outcome
    assert outcome.artifact.frames == 13
    assert outcome.artifact.render_settings == {"simulated": "0.01× the cost model's prior", "tier": "full"}


async def test_reports_the_broker_refuses_do_not_stall_the_attempt(
    renderer: MochiRenderer, store: ObjectStore
) -> None:
    """During a broker restart: a progress report that fails is dropped and the later ones still go out;
    the start and the outcome are tried until the broker takes them, once each. (Before: the first failed
    progress report ended the forwarder and the attempt waited forever for its queue to drain.)"""
    refusals = {"progress": 2, "outcome": 2}
    delivered: list[Any] = []

    async def report(event: Any) -> None:
        kind = {RenderProgress: "progress", RenderSucceeded: "outcome"}.get(type(event))
        if kind is not None and refusals[kind] > 0:
            refusals[kind] -= 1
            raise BrokerUnavailableError("the broker is restarting")
        delivered.append(event)

    cmd = dispatch(params=render_params(num_frames=7, num_inference_steps=4))
    running = run_attempt(cmd, renderer, store, report, threading.Event(), "test-worker", 0.0)
    await asyncio.wait_for(running, DEADLINE_S)

    assert refusals == {"progress": 0, "outcome": 0}
    assert isinstance(delivered[0], RenderStarted)
    assert [type(e) for e in delivered].count(RenderSucceeded) == 1
    assert isinstance(delivered[-1], RenderSucceeded)
    steps = [e.step for e in delivered if isinstance(e, RenderProgress) and e.stage.value == "denoise"]
    assert steps[-1:] == [4]  # progress after the refused ones was still reported


async def test_a_storage_outage_is_a_retriable_failure_not_a_success(renderer: MochiRenderer) -> None:
    gone = ObjectStore(minio_client(closed_port_endpoints()), "nowhere")

    outcome = (await attempt(dispatch(), renderer, gone))[-1]

    assert isinstance(outcome, RenderFailed)
    assert (outcome.error.code, outcome.error.retriable) == ("storage_unavailable", True)


async def test_an_upload_the_store_refuses_twice_is_retried_within_the_attempt(
    renderer: MochiRenderer, store: ObjectStore
) -> None:
    class Flaky(ObjectStore):
        """The real bucket, after two refusals (as during a short MinIO outage)."""

        refusals = 2

        def upload(self, path: Path, key: str, sha256: str, content_type: str = "video/mp4") -> int:
            if self.refusals:
                self.refusals -= 1
                raise ObjectStoreError(f"upload of {key} failed: connection refused")
            return super().upload(path, key, sha256, content_type)

    flaky = Flaky(store.client, store.bucket)
    outcome = (await attempt(dispatch(), renderer, flaky))[-1]

    assert isinstance(outcome, RenderSucceeded), outcome
    assert flaky.refusals == 0
    stat = store.client.stat_object(store.bucket, outcome.artifact.key)
    assert stat.size == outcome.artifact.bytes


async def test_frames_that_do_not_match_the_request_fail_as_an_invalid_artifact(
    renderer: MochiRenderer, store: ObjectStore
) -> None:
    class Short:
        name, settings = "short", {"attention": "auto"}

        def render(self, request: RenderRequest, *_: Any) -> RenderedVideo:
            frames = np.zeros((request.num_frames - 6, request.height, request.width, 3), np.uint8)
            return RenderedVideo(frames=frames, fps=request.fps)

    outcome = (await attempt(dispatch(), Short(), store))[-1]

    assert isinstance(outcome, RenderFailed)
    assert (outcome.error.code, outcome.error.retriable) == ("artifact_invalid", False)


@dataclass
class LostGpuSlot:
    """A real worker on a pool of its own (no scheduler dispatches to it), its GPU broken, and the inbox."""

    slot: int
    pool: str
    inbox: AIOKafkaConsumer
    running: asyncio.Task[None]


@asynccontextmanager
async def lost_gpu_slot(stack: Endpoints, serde: AvroSerde) -> AsyncIterator[LostGpuSlot]:
    slot = 3
    pool = f"pool-{uuid.uuid4().hex[:6]}"
    env = {
        **stack.as_env(),
        "REELSTREAM_POOLS": pool,  # a pool of its own: no scheduler running here dispatches to it
        "REELSTREAM_POOL": pool,
        "REELSTREAM_APP_PREFIX": f"t-{uuid.uuid4().hex[:8]}",
        "REELSTREAM_KEY_DIR": shared_key_dir(),  # the worker opens jobs' sealed prompts
    }
    worker = Worker(
        WorkerSettings.from_env(env, slot=slot),
        RaisingRenderer(
            "lost-gpu", DeviceLost("cuda:0 is unusable: an illegal memory access was encountered")
        ),
    )
    inbox = AIOKafkaConsumer(
        bootstrap_servers=stack.kafka_bootstrap, **stack.kafka_security.aiokafka(), auto_offset_reset="latest"
    )
    partition = worker.settings.pipeline.pool_partition(pool)
    await inbox.start()
    inbox.assign([TopicPartition(SCHEDULER_INBOX.name, partition)])
    await inbox.position(TopicPartition(SCHEDULER_INBOX.name, partition))
    stop = asyncio.Event()
    running = asyncio.create_task(worker.run(stop))
    try:
        # the slot announces itself once it reads its partition: then a dispatch is sure to be seen
        await next_event(inbox, serde, lambda e: isinstance(e, WorkerHeartbeat) and e.pool_id == pool)
        yield LostGpuSlot(slot, pool, inbox, running)
    finally:
        stop.set()
        if not running.done():
            running.cancel()
        await inbox.stop()


async def send(producer: AIOKafkaProducer, serde: AvroSerde, at: LostGpuSlot, cmd: DispatchRender) -> None:
    value = serde.serialize(RENDER_DISPATCH, cmd)
    await producer.send_and_wait(RENDER_DISPATCH.name, value, key=at.pool.encode(), partition=at.slot)


async def test_a_lost_gpu_reports_the_attempt_retriable_then_the_worker_exits(
    stack: Endpoints, serde: AvroSerde, producer: AIOKafkaProducer
) -> None:
    async with lost_gpu_slot(stack, serde) as at:
        cmd = dispatch(slot=at.slot)
        await send(producer, serde, at, cmd)
        failed = await next_event(
            at.inbox, serde, lambda e: isinstance(e, RenderFailed) and e.job_id == cmd.job_id
        )
        with pytest.raises(DeviceLost, match="illegal memory access"):
            await asyncio.wait_for(at.running, DEADLINE_S)

    assert (failed.error.code, failed.error.retriable, failed.attempt) == ("device_lost", True, 1)


async def test_a_dispatch_whose_lease_ran_out_a_lease_ago_is_skipped_not_run(
    stack: Endpoints, serde: AvroSerde, producer: AIOKafkaProducer
) -> None:
    """What a restarted worker reads first is the dispatch its predecessor died on: long since requeued by
    the scheduler, it must not hold the slot. One that is merely late still runs."""
    now = datetime.now(UTC)
    lease = timedelta(seconds=60)
    stale = dispatch(occurred_at=now - 3 * lease, lease_expires_at=now - 2 * lease)
    late = dispatch(
        occurred_at=now - lease - timedelta(seconds=1), lease_expires_at=now - timedelta(seconds=1)
    )
    async with lost_gpu_slot(stack, serde) as at:
        for cmd in (stale, late):
            await send(producer, serde, at, replace(cmd, slot=at.slot))
        first = await next_event(at.inbox, serde, lambda e: isinstance(e, RenderFailed | RenderStarted))
        with pytest.raises(DeviceLost):
            await asyncio.wait_for(at.running, DEADLINE_S)  # after running `late`: nothing else ran

    assert first.job_id == late.job_id


async def next_event(consumer: AIOKafkaConsumer, serde: AvroSerde, wanted: Any) -> Any:
    deadline = time.monotonic() + DEADLINE_S
    while time.monotonic() < deadline:
        batch = await consumer.getmany(timeout_ms=500)
        for records in batch.values():
            for record in records:
                event = await serde.deserialize(SCHEDULER_INBOX, record.value)
                if wanted(event):
                    return event
    raise AssertionError("no such event on the inbox before the deadline")


def closed_port_endpoints() -> Endpoints:
    return Endpoints(
        kafka_bootstrap="127.0.0.1:9",
        schema_registry_url="http://127.0.0.1:9",
        s3_endpoint="http://127.0.0.1:9",
        s3_access_key="nobody",
        s3_secret_key="nothing-here",
        s3_bucket="nowhere",
    )
