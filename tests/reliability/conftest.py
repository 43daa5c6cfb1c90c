"""Stacks of the reliability package's own. The faults get a stack and a pipeline: they restart the broker
and stop MinIO, which must not disturb the session stack other packages use, and two pipelines on one broker
would act on each other's records. The API fuzzer and the poison records get another (`stack`, overriding the
session's): on the session's broker their fresh consumer groups would first read every other test's records
(retry tiers full of deliveries to receivers long gone, API keys of other tests). The counts of every fault
run are printed at the end of the session."""

from __future__ import annotations

import asyncio
import json
import os
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from aiokafka import AIOKafkaProducer

from devstack.manager import LocalStack, StackLayout
from devstack.process import free_port
from devstack.services import Pipeline, PipelineConfig, prepare_infrastructure
from reelstream.endpoints import Endpoints
from reelstream.webhooks.messages import generate_secret
from schemas.serde import AvroSerde
from tests import own_stack
from tests.kafka_clients import registered_serde, started_producer
from tests.reliability.support import (
    OTHER_TENANT,
    OTHER_TENANT_KEY,
    RETRY_SCHEDULE,
    TENANT,
    TENANT_KEY,
    WEBHOOK_DEADLINE,
    FaultRecorder,
    FaultRun,
    RunFactory,
)
from tests.webhook_receiver import Receiver, webhook_receiver

RECORDS = pytest.StashKey[list[dict[str, object]]]()

# the package's own Kafka, registry and MinIO (tests/own_stack.py)
stack, topics, serde = own_stack.stack, own_stack.topics, own_stack.serde


@pytest.fixture(scope="package")
def receiver() -> Iterator[Receiver]:
    with webhook_receiver() as recv:
        yield recv


@pytest.fixture(scope="package")
async def producer(stack: Endpoints, topics: None) -> AsyncIterator[AIOKafkaProducer]:
    async with started_producer(stack, "test-reliability") as producer:
        yield producer


@pytest.fixture(scope="package")
def local_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    """Kafka, the registry and MinIO on fresh ports, every one started here (never external services:
    the tests stop and start them)."""
    layout = StackLayout.ephemeral(tmp_path_factory.mktemp("reliability-stack"), os.environ)
    local = LocalStack(layout, os.environ)
    local.up()
    try:
        yield local
    finally:
        local.stop()


@pytest.fixture(scope="package")
def endpoints(local_stack: LocalStack) -> Endpoints:
    return local_stack.endpoints()


@pytest.fixture(scope="package")
async def reliability_serde(endpoints: Endpoints, pipeline: Pipeline) -> AsyncIterator[AvroSerde]:
    async with registered_serde(endpoints) as serde:
        yield serde


@pytest.fixture(scope="package")
def pipeline(endpoints: Endpoints, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pipeline]:
    """Two worker slots; leases short enough that a dead worker's job moves on quickly; a short webhook
    retry schedule; attempts enough that an outage of a few seconds does not exhaust a job."""
    asyncio.run(prepare_infrastructure(endpoints))
    config = PipelineConfig(
        api_keys={TENANT_KEY: TENANT, OTHER_TENANT_KEY: OTHER_TENANT},
        webhook_secret=generate_secret(),
        http_port=free_port(),
        app_prefix=f"rel-{uuid.uuid4().hex[:8]}",
        worker_slots=(0, 1),
        extra_env={
            "PYTHONPATH": str(Path(__file__).parents[2]),
            "REELSTREAM_LEASE_SECONDS": "6",
            "REELSTREAM_HEARTBEAT_SECONDS": "1",
            "REELSTREAM_MAX_ATTEMPTS": "6",
            "REELSTREAM_WEBHOOK_RETRY_SCHEDULE": ",".join(f"{d:g}" for d in RETRY_SCHEDULE),
            "REELSTREAM_WEBHOOK_TIMEOUT_SECONDS": f"{WEBHOOK_DEADLINE:g}",
            "REELSTREAM_TENANT_LIMITS": "*=rate:100,burst:1000,queued:10000",
        },
    )
    running = Pipeline(config, tmp_path_factory.mktemp("reliability-logs"))
    try:
        running.start(endpoints, os.environ, timeout=120)
        yield running
    finally:
        running.stop()


@pytest.fixture
def fault_run(
    pipeline: Pipeline,
    endpoints: Endpoints,
    reliability_serde: AvroSerde,
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
) -> RunFactory:
    """`fault_run(name)`: an open-able run of one fault (jobs, events, webhooks; see support.FaultRun)."""
    records = request.config.stash.setdefault(RECORDS, [])
    report = tmp_path_factory.getbasetemp() / "reliability.jsonl"

    def record(entry: dict[str, object]) -> None:
        records.append(entry)
        with report.open("a") as out:
            out.write(json.dumps(entry) + "\n")

    recorder: FaultRecorder = record

    def factory(name: str) -> FaultRun:
        return FaultRun(name, pipeline, endpoints, reliability_serde, recorder, os.environ)

    return factory


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter, config: pytest.Config) -> None:
    records = config.stash.get(RECORDS, [])
    if records:
        terminalreporter.section("reliability: jobs through each fault")
        for entry in records:
            terminalreporter.write_line(json.dumps(entry))
