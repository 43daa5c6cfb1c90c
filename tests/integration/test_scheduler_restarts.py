"""The scheduler SIGKILLed again and again while admissions stream into its inbox: every admitted job is
still queued exactly once afterwards.

A restart must neither lose an inbox record (Faust acks records it skips during a rebalance and may commit
past them) nor apply one twice: the pool's state carries the inbox offset it has applied, and the scheduler
seeks back to it when the records it is handed skip ahead.

The scheduler runs on a broker of its own: a new consumer group reads the inbox from the start, and on the
session's broker that would be every other test's jobs.
"""

from __future__ import annotations

import asyncio
import os
import sys
import time
import uuid
from collections import defaultdict
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import UTC, datetime
from functools import partial
from pathlib import Path

import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition

from reelstream.kafka.clients import new_producer
from reelstream.kafka.registry import ConfluentRegistry
from reelstream.services import prepare_infrastructure
from reelstream.stack.manager import Endpoints, ExternalServices, LocalStack, StackLayout
from reelstream.stack.process import ManagedProcess
from schemas.events import CancelRequested, JobAdmitted, JobEvent, JobEventType
from schemas.serde import AvroSerde
from schemas.topics import JOB_EVENTS, SCHEDULER_INBOX
from tests.samples import render_params

REPO = Path(__file__).resolve().parents[2]
RESTARTS = int(os.environ.get("REELSTREAM_TEST_RESTARTS", "6"))  # more for a soak
IN_QUEUE = 20  # each job is cancelled once twenty more were admitted
ADMISSIONS_PER_SECOND = 40


@pytest.fixture(scope="module")
def own_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Endpoints]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("REELSTREAM_")}  # never an external one
    layout = StackLayout.ephemeral(tmp_path_factory.mktemp("restart-stack"), env)
    with LocalStack(layout, env, ExternalServices.from_env(env)) as endpoints:
        asyncio.run(prepare_infrastructure(endpoints))
        yield endpoints


@pytest.fixture
async def own_serde(own_stack: Endpoints) -> AsyncIterator[AvroSerde]:
    registry = ConfluentRegistry(own_stack.schema_registry_url)
    yield AvroSerde(registry)
    await registry.aclose()


def number(job_id: str) -> int:
    return int(job_id.removeprefix("job-"))


class Scheduler:
    """The scheduler process as deployed (one static member id), killed and started again at will."""

    def __init__(self, stack: Endpoints, log_dir: Path) -> None:
        self.env = {
            **os.environ,
            **stack.as_env(),
            "REELSTREAM_APP_PREFIX": f"restarts-{uuid.uuid4().hex[:8]}",
            "REELSTREAM_SCHEDULER_INSTANCE_ID": "restarts-scheduler",
            "REELSTREAM_DEFAULT_MODEL": "tiny-mochi",
            "REELSTREAM_TICK_SECONDS": "0.5",
            "PYTHONUNBUFFERED": "1",
            "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])),
        }
        self.log_path = log_dir / "scheduler.log"
        self.process: ManagedProcess | None = None

    def start(self) -> None:
        argv = [sys.executable, "-m", "streams.scheduler"]
        self.process = ManagedProcess("scheduler", argv, self.log_path, self.env, die_with_parent=True)
        self.process.start()

    def kill(self) -> None:
        assert self.process is not None
        self.process.kill()

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


async def test_a_scheduler_killed_repeatedly_loses_and_doubles_no_admission(
    own_stack: Endpoints, own_serde: AvroSerde, tmp_path: Path
) -> None:
    """Jobs are admitted at a steady pace and each is cancelled a little later (no workers here: the queue
    stays short), while the scheduler is SIGKILLed and restarted RESTARTS times. Afterwards every job was
    queued once and cancelled once; none went missing."""
    scheduler = Scheduler(own_stack, tmp_path)
    producer = new_producer(own_stack.kafka_bootstrap, f"test-{uuid.uuid4().hex[:8]}")
    await producer.start()
    await own_serde.register(SCHEDULER_INBOX, JOB_EVENTS)
    seen: dict[tuple[str, JobEventType], set[int]] = defaultdict(set)  # (job, event type) → versions
    admitted: list[str] = []
    stop_admitting = asyncio.Event()

    async def send(event: JobAdmitted | CancelRequested) -> None:
        value = own_serde.serialize(SCHEDULER_INBOX, event)
        await producer.send_and_wait(SCHEDULER_INBOX.name, value, key=b"default", partition=0)

    async def admit() -> None:
        while not stop_admitting.is_set():
            job_id, now = f"job-{len(admitted):05d}", datetime.now(UTC)
            tenant = f"tenant-{len(admitted) % 3}"
            await send(JobAdmitted(job_id, tenant, "default", "a paper boat", render_params(), now))
            admitted.append(job_id)
            if len(admitted) > IN_QUEUE:
                await send(cancel(admitted[-IN_QUEUE - 1]))
            await asyncio.sleep(1 / ADMISSIONS_PER_SECOND)  # the load's pace, not a synchronization

    consumer = AIOKafkaConsumer(bootstrap_servers=own_stack.kafka_bootstrap, enable_auto_commit=False)
    await consumer.start()
    tps = [TopicPartition(JOB_EVENTS.name, p) for p in range(JOB_EVENTS.partitions)]
    consumer.assign(tps)
    await consumer.seek_to_beginning(*tps)

    async def until(condition: str, check: Callable[[], bool], within: float) -> None:
        deadline = time.monotonic() + within
        while not check():
            if time.monotonic() > deadline:
                raise AssertionError(f"{condition} within {within:g}s\n{scheduler.log()[-4000:]}")
            batch = await consumer.getmany(timeout_ms=200)
            for records in batch.values():
                for record in records:
                    event: JobEvent = await own_serde.deserialize(JOB_EVENTS, record.value)
                    seen[event.job_id, event.type].add(event.status.version)

    def queued_since(mark: int) -> bool:
        return any((job, JobEventType.QUEUED) in seen for job in admitted[mark:])

    def all_cancelled() -> bool:
        return all((job, JobEventType.CANCELED) in seen for job in admitted)

    scheduler.start()
    admitting = asyncio.create_task(admit())
    try:
        for _ in range(RESTARTS):
            mark = len(admitted)  # killed once it has queued a job admitted since it (re)started
            await until("the scheduler queues new jobs", partial(queued_since, mark), within=60)
            scheduler.kill()
            scheduler.start()
        stop_admitting.set()
        await admitting
        for job_id in admitted[-IN_QUEUE:]:
            await send(cancel(job_id))
        await until("every admitted job queued and cancelled", all_cancelled, within=60)
    finally:
        stop_admitting.set()
        await asyncio.gather(admitting, return_exceptions=True)
        scheduler.kill()
        await consumer.stop()
        await producer.stop()
    lost = [job for job in admitted if (job, JobEventType.QUEUED) not in seen]
    # A restart may publish an output again (written before the state that follows it was stored): the
    # same version, which every consumer drops. A job cancelled under two versions was cancelled twice.
    doubled = [job for job in admitted if len(seen[job, JobEventType.CANCELED]) > 1]
    print(
        f"\n{len(admitted)} jobs through {RESTARTS} scheduler kills: {len(lost)} lost, {len(doubled)} doubled"
    )
    assert not lost
    assert not doubled


def cancel(job_id: str) -> CancelRequested:
    tenant = f"tenant-{number(job_id) % 3}"
    return CancelRequested(job_id=job_id, tenant_id=tenant, pool_id="default", occurred_at=datetime.now(UTC))
