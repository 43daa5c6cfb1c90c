"""A real worker overlaps a render's finish with the next render (docs/architecture.md, "No idle gap between
renders"): real Kafka, real MinIO reached through a TCP proxy the test controls (it holds or refuses the
object store's traffic, so a finish lasts exactly as long as the test needs, without sleeps)."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field, replace
from typing import Any
from urllib.parse import urlsplit

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from gpu_consumers.render.base import RenderedVideo, RenderRequest
from gpu_consumers.render.simulated import SimulatedRenderer
from gpu_consumers.worker import Worker
from reelstream.endpoints import Endpoints
from reelstream.models import BUILTIN_MODELS
from reelstream.object_store import ObjectStore, minio_client
from reelstream.settings import WorkerSettings
from schemas.events import (
    CancelRender,
    DispatchRender,
    RenderFailed,
    RenderProgress,
    RenderStarted,
    RenderSucceeded,
    WorkerHeartbeat,
)
from schemas.serde import AvroSerde
from schemas.topics import RENDER_DISPATCH, SCHEDULER_INBOX
from tests.integration.test_worker_attempt import DEADLINE_S, dispatch
from tests.keys import shared_key_dir
from tests.samples import render_params

pytestmark = pytest.mark.render


@dataclass
class StoreProxy:
    """A TCP proxy to MinIO: `hold` (traffic waits for `release`), `refuse` (connections are closed at
    once: the store is unavailable) or `pass`."""

    target: tuple[str, int]
    mode: str = "hold"
    opened: asyncio.Event = field(default_factory=asyncio.Event)  # mode changed away from hold

    def set(self, mode: str) -> None:
        self.mode = mode
        if mode != "hold":
            self.opened.set()

    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self.mode == "hold":
            await self.opened.wait()
        if self.mode == "refuse":
            writer.close()
            return
        upstream_reader, upstream_writer = await asyncio.open_connection(*self.target)
        await asyncio.gather(_pump(reader, upstream_writer), _pump(upstream_reader, writer))


async def _pump(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(1 << 16):
            writer.write(data)
            await writer.drain()
    except ConnectionError:
        pass
    finally:
        writer.close()


@dataclass
class Slot:
    slot: int
    pool: str
    inbox: AIOKafkaConsumer
    proxy: StoreProxy
    worker: Worker
    seen: list[Any] = field(default_factory=list)

    async def until(self, serde: AvroSerde, wanted: Callable[[Any], bool]) -> Any:
        """The first event `wanted` seen so far, else read the inbox (keeping every event in `seen`) until
        one comes."""
        deadline = asyncio.get_running_loop().time() + DEADLINE_S
        while asyncio.get_running_loop().time() < deadline:
            found = [e for e in self.seen if wanted(e)]
            if found:
                return found[0]
            for records in (await self.inbox.getmany(timeout_ms=500)).values():
                for record in records:  # the whole batch is kept: what follows may be waited for next
                    self.seen.append(await serde.deserialize(SCHEDULER_INBOX, record.value))
        kinds = [(type(e).__name__, getattr(e, "job_id", None), getattr(e, "stage", None)) for e in self.seen]
        raise AssertionError(f"no such event on the inbox before the deadline; seen {kinds}")

    def outcomes(self, job_id: str) -> list[Any]:
        return [e for e in self.seen if isinstance(e, RenderSucceeded | RenderFailed) and e.job_id == job_id]


class ShortWhenAsked(SimulatedRenderer):
    """The benchmarks' stand-in; a prompt starting "short" gets too few frames (its finish's verify fails)."""

    def render(self, request: RenderRequest, *args: Any, **kwargs: Any) -> RenderedVideo:
        video = super().render(request, *args, **kwargs)
        short = request.prompt.startswith("short")
        return RenderedVideo(frames=video.frames[:2], fps=video.fps) if short else video


async def until_true(condition: Callable[[], bool]) -> None:
    """Wait (polling the condition, not sleeping a guess) until it holds, or fail at the deadline."""
    deadline = asyncio.get_running_loop().time() + DEADLINE_S
    while not condition():
        assert asyncio.get_running_loop().time() < deadline, "the condition never held"
        await asyncio.sleep(0.05)


@asynccontextmanager
async def overlapping_slot(stack: Endpoints, serde: AvroSerde) -> AsyncIterator[Slot]:
    """A real worker on a pool of its own (no scheduler), its object store behind the proxy."""
    minio = urlsplit(stack.s3_endpoint)
    proxy = StoreProxy((minio.hostname or "127.0.0.1", minio.port or 80))
    server = await asyncio.start_server(proxy.serve, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    slot, pool = 2, f"pool-{uuid.uuid4().hex[:6]}"
    env = {
        **stack.as_env(),
        "REELSTREAM_S3_ENDPOINT": f"{minio.scheme}://127.0.0.1:{port}",
        "REELSTREAM_POOLS": pool,
        "REELSTREAM_POOL": pool,
        "REELSTREAM_APP_PREFIX": f"t-{uuid.uuid4().hex[:8]}",
        "REELSTREAM_KEY_DIR": shared_key_dir(),
        "REELSTREAM_WORKER_MAX_FINISHING": "1",
        "REELSTREAM_HEARTBEAT_SECONDS": "0.5",
    }
    worker = Worker(
        WorkerSettings.from_env(env, slot=slot), ShortWhenAsked(BUILTIN_MODELS["tiny-mochi"], 0.01)
    )
    inbox = AIOKafkaConsumer(
        bootstrap_servers=stack.kafka_bootstrap, **stack.kafka_security.aiokafka(), auto_offset_reset="latest"
    )
    partition = TopicPartition(SCHEDULER_INBOX.name, worker.settings.pipeline.pool_partition(pool))
    await inbox.start()
    inbox.assign([partition])
    await inbox.position(partition)
    stop = asyncio.Event()
    running = asyncio.create_task(worker.run(stop))
    at = Slot(slot, pool, inbox, proxy, worker)
    try:
        await at.until(serde, lambda e: isinstance(e, WorkerHeartbeat) and e.pool_id == pool)
        yield at
    finally:
        proxy.set("pass")
        stop.set()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(running, DEADLINE_S)
        server.close()
        await inbox.stop()


async def send(producer: AIOKafkaProducer, serde: AvroSerde, at: Slot, *commands: Any) -> None:
    for command in commands:
        value = serde.serialize(RENDER_DISPATCH, command)
        await producer.send_and_wait(RENDER_DISPATCH.name, value, key=at.pool.encode(), partition=at.slot)


def two_jobs(at: Slot) -> tuple[DispatchRender, DispatchRender]:
    params = render_params(num_frames=7, num_inference_steps=2)
    return dispatch(slot=at.slot, params=params), dispatch(slot=at.slot, params=params)


def started(job: DispatchRender) -> Callable[[Any], bool]:
    return lambda e: isinstance(e, RenderStarted) and e.job_id == job.job_id


def ended(job: DispatchRender) -> Callable[[Any], bool]:
    return lambda e: isinstance(e, RenderSucceeded | RenderFailed) and e.job_id == job.job_id


async def test_the_next_render_starts_while_the_previous_one_uploads(
    stack: Endpoints, serde: AvroSerde, producer: AIOKafkaProducer
) -> None:
    async with overlapping_slot(stack, serde) as at:
        first, second = two_jobs(at)
        await send(producer, serde, at, first, second)
        await at.until(serde, started(second))  # the first is held in its upload meanwhile
        assert not at.outcomes(first.job_id), "the second render waited for the first one's outcome"
        beat = await at.until(serde, lambda e: isinstance(e, WorkerHeartbeat) and e.job_id == second.job_id)
        at.proxy.set("pass")
        await at.until(serde, ended(first))
        await at.until(serde, ended(second))

    finish = [e for e in at.seen if isinstance(e, RenderProgress) and e.job_id == first.job_id]
    assert any(e.stage.value in {"encode_video", "upload"} for e in finish)
    assert beat.job_id == second.job_id  # the heartbeat names the GPU's attempt
    assert [type(e) for e in at.outcomes(first.job_id)] == [RenderSucceeded]
    assert [type(e) for e in at.outcomes(second.job_id)] == [RenderSucceeded]
    store = ObjectStore(minio_client(stack), stack.s3_bucket)
    for job in (first, second):
        assert store.client.stat_object(store.bucket, job.artifact_key).size > 0


async def test_a_cancel_reaches_an_attempt_in_its_finish(
    stack: Endpoints, serde: AvroSerde, producer: AIOKafkaProducer
) -> None:
    async with overlapping_slot(stack, serde) as at:
        first, second = two_jobs(at)
        await send(producer, serde, at, first, second)
        await at.until(serde, started(second))
        await send(producer, serde, at, CancelRender(job_id=first.job_id, slot=at.slot, attempt=1))
        finishing = at.worker.flight.find(first.job_id, 1)
        assert finishing is not None
        assert finishing in at.worker.flight.finishing  # in its finish, the GPU on the second job
        await until_true(finishing.canceled.is_set)  # the worker read the cancel
        at.proxy.set("pass")
        await at.until(serde, ended(first))
        await at.until(serde, ended(second))

    (outcome,) = at.outcomes(first.job_id)
    assert isinstance(outcome, RenderFailed)
    assert outcome.error.code == "canceled"
    assert [type(e) for e in at.outcomes(second.job_id)] == [RenderSucceeded]


async def test_a_finish_that_fails_reports_one_failure_and_the_next_render_goes_on(
    stack: Endpoints, serde: AvroSerde, producer: AIOKafkaProducer
) -> None:
    async with overlapping_slot(stack, serde) as at:
        first, second = two_jobs(at)
        first = replace(first, prompt="short: its frames fail the finish's verify")
        await send(producer, serde, at, first, second)
        failed = await at.until(serde, ended(first))
        at.proxy.set("pass")
        await at.until(serde, ended(second))
        await at.until(serde, lambda e: isinstance(e, WorkerHeartbeat) and e.job_id is None)

    assert isinstance(failed, RenderFailed)
    assert (failed.error.code, failed.error.retriable) == ("artifact_invalid", False)
    assert len(at.outcomes(first.job_id)) == 1
    assert [type(e) for e in at.outcomes(second.job_id)] == [RenderSucceeded]
