"""The ingest API served by uvicorn on a free loopback port, against the real Kafka, registry and MinIO."""

from __future__ import annotations

import secrets
import uuid
from collections.abc import AsyncIterator

import pytest
from aiokafka import AIOKafkaConsumer

from devstack.manager import ensure_bucket
from ingest.app import create_app
from reelstream.endpoints import Endpoints
from reelstream.http_settings import EventStreamSettings
from reelstream.kafka.clients import Publisher, new_producer, sender_of
from reelstream.settings import IngestSettings, PipelineSettings
from schemas.serde import AvroSerde
from schemas.topics import COMMANDS
from tests.integration.ingest.support import (
    LONG_RETENTION,
    RunningApi,
    StatusWriter,
    TopicProbe,
    eventually,
    readyz,
    serve,
    shutdown,
)
from tests.keys import shared_key_dir

# one tenant per concern, each unique to this run: alice (everyday jobs), bob (must not see alice's),
# carol (listing: exactly the jobs her test wrote), dave (invalid requests: nothing produced for him),
# erin (submissions to a server whose broker deadline cannot be met), frank (a key repeated on 2 replicas),
# grace (filtered listing), heidi and ivan (render load), olga (the platform operator: any tenant's load)
PEOPLE = ("alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi", "ivan", "olga")
OPERATORS = ("olga",)
SSE_KEEPALIVE_SECONDS = 0.5


@pytest.fixture(scope="session")
async def api(stack: Endpoints, topics: None) -> AsyncIterator[RunningApi]:
    ensure_bucket(stack)
    run = uuid.uuid4().hex[:10]
    tenants = {who: f"{who}-{run}" for who in PEOPLE}
    keys = {who: f"rs_test_{secrets.token_urlsafe(24)}" for who in PEOPLE}
    settings = IngestSettings(
        key_dir=shared_key_dir(),
        pipeline=PipelineSettings(endpoints=stack, default_model="tiny-mochi"),
        api_keys={keys[who]: tenants[who] for who in PEOPLE},
        api_key_roles={keys[who]: frozenset({"operator"}) for who in OPERATORS},
        presign_ttl_seconds=300,
        produce_timeout_seconds=10.0,
        sse=EventStreamSettings(heartbeat_seconds=SSE_KEEPALIVE_SECONDS, max_streams_per_tenant=4),
        **LONG_RETENTION,
    )
    app = create_app(settings)
    served = await serve(app)
    running = RunningApi(app, settings, served.base_url, keys, tenants)
    try:
        yield running
    finally:
        for client in running.clients:
            await client.aclose()
        await shutdown(served)


@pytest.fixture(scope="session")
async def ready_api(api: RunningApi) -> RunningApi:
    """The API once its status view has caught up (what a load balancer waits for)."""
    client = api.client(None)
    # a loaded machine: the lifespan may take longer than one request's timeout (support.readyz waits on)
    await eventually(lambda: readyz(client), lambda status: status == 200, within=120)
    return api


@pytest.fixture(scope="session")
async def commands_probe(stack: Endpoints, topics: None) -> AsyncIterator[TopicProbe]:
    consumer = AIOKafkaConsumer(
        bootstrap_servers=stack.kafka_bootstrap,
        **stack.kafka_security.aiokafka(),
        group_id=None,
        enable_auto_commit=False,
    )
    await consumer.start()
    try:
        yield TopicProbe(consumer, COMMANDS)
    finally:
        await consumer.stop()


@pytest.fixture(scope="session")
async def scheduler(stack: Endpoints, serde: AvroSerde) -> AsyncIterator[StatusWriter]:
    """Writes JobStatus snapshots to the status topic the way the scheduler does."""
    producer = new_producer(
        stack.kafka_bootstrap, client_id="test-ingest-scheduler", security=stack.kafka_security
    )
    await producer.start()
    try:
        yield StatusWriter(Publisher(sender_of(producer), serde))
    finally:
        await producer.stop()
