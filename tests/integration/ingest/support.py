"""Helpers for the ingest tests: the API served by a real uvicorn, Kafka probes, snapshots, SSE parsing."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import secrets
import socket
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, TypeVar

import httpx
import uvicorn
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from starlette.applications import Starlette

from devstack.manager import ensure_bucket
from devstack.tenants import ensure_tenants
from ingest.app import create_app
from ingest.server import server_options
from reelstream.endpoints import Endpoints
from reelstream.http_settings import HttpServerSettings, WebhookTargetPolicy
from reelstream.kafka.admin import TopicMismatchError, ensure_topics
from reelstream.kafka.clients import Publisher
from reelstream.settings import IngestSettings, PipelineSettings
from schemas import events as ev
from schemas.topics import JOB_STATUS, Topic
from tests.keys import shared_key_dir
from tests.samples import T0, artifact, job_status

T = TypeVar("T")

DEADLINE_SECONDS = 20.0
# the snapshots these tests write finished at T0 (a fixed day): kept long enough that no sweep removes them
LONG_RETENTION: dict[str, Any] = {
    "job_retention_seconds": 100 * 365 * 86400.0,
    "video_retention_seconds": 100 * 365 * 86400.0,
}


async def eventually(
    probe: Callable[[], Awaitable[T]],
    until: Callable[[T], bool],
    *,
    within: float = DEADLINE_SECONDS,
    interval: float = 0.05,
) -> T:
    """Probe until `until(result)` holds; fail with the last result when the deadline passes."""
    deadline = time.monotonic() + within
    while True:
        result = await probe()
        if until(result):
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {within}s; last: {result!r}")
        await asyncio.sleep(interval)


# ---- the server ----------------------------------------------------------------------------------------


@dataclass
class RunningApi:
    app: Starlette
    settings: IngestSettings
    base_url: str
    keys: dict[str, str]  # who ("alice", "bob", …) → API key
    tenants: dict[str, str]  # who → tenant id
    clients: list[httpx.AsyncClient] = field(default_factory=list)

    def client(self, who: str | None = "alice", *, token: str | None = None) -> httpx.AsyncClient:
        """A client authenticated as `who` (or with a raw `token`, or none at all); closed at teardown."""
        headers = {}
        if token is not None or who is not None:
            headers["Authorization"] = f"Bearer {token if token is not None else self.keys[str(who)]}"
        client = httpx.AsyncClient(base_url=self.base_url, headers=headers, timeout=15.0)
        self.clients.append(client)
        return client


@dataclass
class Served:
    server: uvicorn.Server
    task: asyncio.Task[None]
    base_url: str


async def serve(app: Starlette, limits: HttpServerSettings | None = None) -> Served:
    """Run uvicorn on a socket bound and listening before it starts, so no request can race the start-up:
    connections wait in the backlog until the lifespan has opened every resource. With ingest's own
    protocol and bounds (ingest.server; `limits`: the defaults unless given)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    sock.listen(128)
    port = sock.getsockname()[1]
    options = server_options(limits or HttpServerSettings())
    config = uvicorn.Config(app, lifespan="on", timeout_graceful_shutdown=5, **options)
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    return Served(server, task, f"http://127.0.0.1:{port}")


async def shutdown(served: Served) -> None:
    served.server.should_exit = True
    async with asyncio.timeout(DEADLINE_SECONDS):
        await served.task


@contextlib.asynccontextmanager
async def api_with_roles(
    stack: Endpoints,
    tenants: dict[str, str],
    admins: Iterable[str] = (),
    server: HttpServerSettings | None = None,
    also: Iterable[str] = (),
    targets: WebhookTargetPolicy | None = None,
    clock: Callable[[], datetime] = ev.utc_now,
    **overrides: Any,
) -> AsyncIterator[RunningApi]:
    """An ingest API, ready, with one API key per `who` of `tenants` (the `admins` among them platform
    operators, acting for any tenant); every tenant of `tenants` and `also` recorded in the tenant registry
    first; `server`: its connection bounds, `targets`: where webhook URLs may point (the defaults unless
    given); `clock`: the time its retention goes by; `overrides`: other IngestSettings fields."""
    ensure_bucket(stack)
    await ensure_tenants(stack, [*tenants.values(), *also])
    keys = {who: f"rs_test_{secrets.token_urlsafe(24)}" for who in tenants}
    settings = IngestSettings(
        key_dir=shared_key_dir(),
        # a deployment of its own: its retention lease group (`<prefix>-ingest-retention`) is its alone, so
        # it sweeps whatever other ingest runs on the broker (its clock is the test's)
        pipeline=PipelineSettings(
            endpoints=stack, default_model="tiny-mochi", app_prefix=f"test-{uuid.uuid4().hex[:8]}"
        ),
        api_keys={keys[who]: tenants[who] for who in tenants},
        api_key_roles={keys[who]: frozenset({"operator"}) for who in admins},
        server=server or HttpServerSettings(),
        webhook_targets=targets or WebhookTargetPolicy(),
        **{**LONG_RETENTION, **overrides},
    )
    served = await serve(create_app(settings, clock=clock), settings.server)
    api = RunningApi(served.server.config.app, settings, served.base_url, keys, tenants)
    client = api.client(None)
    await eventually(lambda: readyz(client), lambda status: status == 200, within=120)
    try:
        yield api
    finally:
        for c in api.clients:
            await c.aclose()
        await shutdown(served)


async def readyz(client: httpx.AsyncClient) -> int | None:
    """/readyz's status, or None while the server is still starting (a loaded machine: the lifespan may
    take longer than one request's timeout)."""
    try:
        return (await client.get("/readyz")).status_code
    except httpx.TimeoutException:
        return None


# ---- Kafka ---------------------------------------------------------------------------------------------


class TopicProbe:
    """A started consumer without a group: end offsets of a topic and the records between two of them."""

    def __init__(self, consumer: AIOKafkaConsumer, topic: Topic[Any]) -> None:
        self.consumer = consumer
        self.topic = topic

    @property
    def partitions(self) -> list[TopicPartition]:
        return [TopicPartition(self.topic.name, p) for p in range(self.topic.partitions)]

    async def end_offsets(self) -> dict[TopicPartition, int]:
        ends: dict[TopicPartition, int] = await self.consumer.end_offsets(self.partitions)
        return ends

    async def records_since(
        self, start: dict[TopicPartition, int], key: bytes | None = None
    ) -> list[ConsumerRecord[bytes, bytes]]:
        """Every record from `start` up to the current end offsets (optionally only those with `key`)."""
        end = await self.end_offsets()
        grown = [tp for tp in self.partitions if end[tp] > start[tp]]
        if not grown:
            return []
        self.consumer.assign(grown)
        for tp in grown:
            self.consumer.seek(tp, start[tp])
        found: list[ConsumerRecord[bytes, bytes]] = []
        remaining = set(grown)
        async with asyncio.timeout(DEADLINE_SECONDS):
            while remaining:
                for tp, records in (await self.consumer.getmany(*remaining, timeout_ms=500)).items():
                    found.extend(r for r in records if r.offset < end[tp])
                for tp in list(remaining):
                    if await self.consumer.position(tp) >= end[tp]:
                        remaining.discard(tp)
        return [r for r in found if key is None or r.key == key]


# ---- snapshots as the scheduler writes them -------------------------------------------------------------


class StatusWriter:
    """Writes JobStatus snapshots to the status topic keyed by job id, as the scheduler does."""

    def __init__(self, publisher: Publisher) -> None:
        self.publisher = publisher

    async def publish(self, *statuses: ev.JobStatus, partition: int | None = None) -> None:
        for status in statuses:
            await self.publisher.publish(JOB_STATUS, status.job_id, status, partition=partition)

    async def publish_and_wait(self, client: httpx.AsyncClient, status: ev.JobStatus) -> dict[str, Any]:
        """Publish, then wait until the API shows this version of the job."""
        await self.publish(status)
        response = await eventually(
            lambda: client.get(f"/v1/jobs/{status.job_id}"),
            lambda r: r.status_code == 200 and r.json()["version"] >= status.version,
        )
        job: dict[str, Any] = response.json()
        return job


def snapshot(job_id: str, tenant_id: str, state: ev.JobState, version: int, **overrides: Any) -> ev.JobStatus:
    base: dict[str, Any] = dict(
        job_id=job_id,
        tenant_id=tenant_id,
        state=state,
        version=version,
        created_at=T0,
        updated_at=T0 + timedelta(seconds=version),
        stage=None,
        artifact=None,
        progress=0.0,
        state_times={"queued": T0},
    )
    if state is ev.JobState.RUNNING:
        base["stage"] = ev.RenderStage.DENOISE
    if state is ev.JobState.SUCCEEDED:
        base.update(
            progress=1.0, stage=ev.RenderStage.UPLOAD, artifact=artifact(key=f"{tenant_id}/{job_id}/1/v.mp4")
        )
    return job_status(**{**base, **overrides})


# ---- server-sent events --------------------------------------------------------------------------------


@dataclass
class SseEvent:
    event: str | None
    id: str | None
    data: str

    def json(self) -> dict[str, Any]:
        parsed: dict[str, Any] = json.loads(self.data)
        return parsed


COMMENT = SseEvent(event=":comment", id=None, data="")


def _last(fields: dict[str, list[str]], name: str) -> str | None:
    values = fields.get(name)
    return values[-1] if values else None


async def sse_events(response: httpx.Response) -> AsyncIterator[SseEvent]:
    """Events of an event stream as they arrive; comment lines come out as COMMENT."""
    fields: dict[str, list[str]] = {}
    async for line in response.aiter_lines():
        if line.startswith(":"):
            yield COMMENT
        elif line == "":
            if "data" in fields:  # a block without data (e.g. only `retry:`) dispatches no event
                yield SseEvent(_last(fields, "event"), _last(fields, "id"), "\n".join(fields.get("data", [])))
            fields = {}
        else:
            name, _, value = line.partition(":")
            fields.setdefault(name, []).append(value.removeprefix(" "))


@contextlib.asynccontextmanager
async def scratch_copy(stack: Endpoints, contract: Topic[T], label: str) -> AsyncIterator[Topic[T]]:
    """A fresh copy of `contract` (its config, 3 partitions) under a unique name, deleted afterwards."""
    topic = dataclasses.replace(contract, name=f"test.ingest.{label}.{uuid.uuid4().hex}", partitions=3)

    async def created() -> bool:
        try:
            await ensure_topics(stack.kafka_bootstrap, [topic], security=stack.kafka_security)
        except TopicMismatchError:
            return False
        return True

    # right after creation the broker may describe fewer partitions than it created: ask again until not
    await eventually(created, bool)
    try:
        yield topic
    finally:
        admin = AIOKafkaAdminClient(
            bootstrap_servers=stack.kafka_bootstrap, **stack.kafka_security.aiokafka()
        )
        await admin.start()
        try:
            await admin.delete_topics([topic.name])
        finally:
            await admin.close()


@contextlib.asynccontextmanager
async def raw_producer_of(stack: Endpoints) -> AsyncIterator[AIOKafkaProducer]:
    """A plain producer with the test stack's credentials, for records no service would write."""
    producer = AIOKafkaProducer(
        bootstrap_servers=stack.kafka_bootstrap, **stack.kafka_security.aiokafka(), acks="all"
    )
    await producer.start()
    try:
        yield producer
    finally:
        await producer.stop()
