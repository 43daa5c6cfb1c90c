"""Poison records on every topic a stage consumes, on the real broker with the real stage processes.

For each (stage, topic, kind of poison): random bytes, Confluent-framed bytes naming a schema id the
registry never issued, and a well-formed record that breaks an invariant of that stage. The poison must land
on the stage's dead-letter topic with the original bytes, headers, the error and the stage, and the valid
record produced right after it on the same partition must still be processed: the consumer moved on.

Extends tests/integration/test_dead_letters.py (framed garbage on the notifier's jobs.events, and the
`reelstream dlq` CLI), which is not repeated here.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, replace
from datetime import timedelta
from pathlib import Path
from typing import Any, TypeVar

import pytest
from aiokafka import AIOKafkaProducer

from gpu_consumers.render.base import (
    RenderError,
)
from gpu_consumers.worker import Worker
from reelstream.endpoints import Endpoints
from reelstream.kafka.clients import Publisher, sender_of
from reelstream.settings import WorkerSettings
from schemas import events as ev
from schemas.serde import AvroSerde
from schemas.topics import (
    COMMANDS,
    DEAD_LETTERS,
    JOB_EVENTS,
    JOB_STATUS,
    RENDER_DISPATCH,
    SCHEDULER_INBOX,
    WEBHOOK_PINGS,
    WEBHOOK_RETRIES,
    Topic,
)
from tests.integration.admission_process import AdmissionProcess, running_admission
from tests.integration.ingest.support import RunningApi, api_with_roles
from tests.integration.notifier_process import NotifierProcess, running_notifier
from tests.kafka_tail import tail
from tests.keys import shared_key_dir
from tests.processes import killed_on_failure, stop_gracefully
from tests.renderers import RaisingRenderer
from tests.samples import job_status, render_params
from tests.webhook_receiver import Receiver, delivered

T = TypeVar("T")
REPO = Path(__file__).resolve().parents[2]
DEADLINE_S = 60.0
LETTER_S = 10.0  # once the valid record after the poison was processed (a margin for the read)
POOL = "default"  # the scheduler's (and admission's) pool: inbox partition 0
WORKER_SLOT = 5  # a render.dispatch partition no scheduler here dispatches to
WORKER_POOL = f"poison-{uuid.uuid4().hex[:6]}"
INGEST_TENANT = f"poison-{uuid.uuid4().hex[:8]}"
RETRY_TIER = WEBHOOK_RETRIES[0]
UNKNOWN_SCHEMA_ID = 2_000_000_000  # far above any id the registry of one test run issues


# ---- poison -------------------------------------------------------------------------------------------


def random_bytes() -> bytes:
    """Not the wire format at all (the first byte is not the magic 0); unique, to be found again."""
    return b"\xfe\xff" + uuid.uuid4().bytes + os.urandom(16)


def unknown_schema_id() -> bytes:
    """The wire format, naming a schema id no one registered, with an Avro-looking body."""
    return b"\x00" + UNKNOWN_SCHEMA_ID.to_bytes(4, "big") + b"\x02" + uuid.uuid4().bytes


# ---- the stages ---------------------------------------------------------------------------------------


def _env(stack: Endpoints, prefix: str) -> dict[str, str]:
    return {
        **os.environ,
        **stack.as_env(),
        "REELSTREAM_APP_PREFIX": f"{prefix}-{uuid.uuid4().hex[:12]}",
        "REELSTREAM_DEFAULT_MODEL": "tiny-mochi",
        "REELSTREAM_LOG_FORMAT": "text",
        "PYTHONUNBUFFERED": "1",
        "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])),
    }


@dataclass
class SchedulerProcess:
    process: subprocess.Popen[bytes]
    log_path: Path

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def check_running(self) -> None:
        if self.process.poll() is not None:
            pytest.fail(f"scheduler exited with {self.process.returncode}:\n{self.log()[-4000:]}")


@contextlib.contextmanager
def running_scheduler(stack: Endpoints, workdir: Path) -> Iterator[SchedulerProcess]:
    log_path = workdir / "scheduler.log"
    with log_path.open("wb") as log_file:
        process = subprocess.Popen(
            [sys.executable, "-m", "streams.scheduler"],
            env=_env(stack, "poison-scheduler"),
            cwd=workdir,
            stdout=log_file,
            stderr=subprocess.STDOUT,
        )
    handle = SchedulerProcess(process, log_path)
    with killed_on_failure(process):
        yield handle
    stop_gracefully(process, "scheduler", handle.log)


@pytest.fixture(scope="module")
def admission(
    stack: Endpoints, topics: None, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[AdmissionProcess]:
    limits = "*=rate:1000,burst:1000,queued:100000"
    with running_admission(stack, tmp_path_factory.mktemp("poison-admission"), "poison", limits) as handle:
        yield handle


@pytest.fixture(scope="module")
def notifier(
    stack: Endpoints, topics: None, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[NotifierProcess]:
    notifier_dir = tmp_path_factory.mktemp("poison-notifier")
    with running_notifier(stack, notifier_dir, "poison", tenants=["t-poison"]) as handle:
        yield handle


@pytest.fixture(scope="module")
def scheduler(
    stack: Endpoints, topics: None, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[SchedulerProcess]:
    with running_scheduler(stack, tmp_path_factory.mktemp("poison-scheduler")) as handle:
        yield handle


@dataclass
class WorkerTask:
    task: asyncio.Task[None]

    def check_running(self) -> None:
        if self.task.done():
            pytest.fail(f"the worker stopped: {self.task.exception()!r}")


@pytest.fixture(scope="module")
async def worker(stack: Endpoints, serde: AvroSerde) -> AsyncIterator[WorkerTask]:
    env = {
        **stack.as_env(),
        "REELSTREAM_POOLS": WORKER_POOL,
        "REELSTREAM_POOL": WORKER_POOL,
        "REELSTREAM_APP_PREFIX": f"poison-{uuid.uuid4().hex[:8]}",
        "REELSTREAM_KEY_DIR": shared_key_dir(),  # the worker opens jobs' sealed prompts
    }
    running = Worker(
        WorkerSettings.from_env(env, slot=WORKER_SLOT),
        RaisingRenderer("failing", RenderError("this renderer fails on purpose")),
    )
    stop = asyncio.Event()
    async with tail(stack, serde, SCHEDULER_INBOX) as inbox:
        task = asyncio.create_task(running.run(stop))
        handle = WorkerTask(task)
        # the slot announces itself once it reads its partition: then what is produced next is seen
        await inbox.first(lambda e: isinstance(e, ev.WorkerHeartbeat) and e.pool_id == WORKER_POOL, handle)
    try:
        yield handle
    finally:
        stop.set()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(task, 30)


# ---- reading what a stage wrote -----------------------------------------------------------------------


# ---- the table ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Feed:
    """What a case produces: the poison's bytes (or a record to serialize), where, and the valid record."""

    topic: Topic[Any]
    partition: int
    key: str
    valid: Any  # produced right after the poison, on the same partition
    processed: Callable[[Any], bool]  # true of what the stage writes once it processed `valid`
    output: Topic[Any] | None  # where that is written (None: a webhook reaches the receiver, or `probe`)
    probe: Callable[[], Awaitable[bool]] | None = None  # true once the stage shows that it processed it


@dataclass(frozen=True)
class Case:
    stage: str
    feed: Callable[..., Feed]  # (receiver, stage) -> Feed
    invariant: Callable[[Feed], Any]  # the well-formed record that breaks an invariant of the stage


def _submit(job_id: str, tenant: str, **params: Any) -> ev.SubmitJob:
    return ev.SubmitJob(
        job_id=job_id,
        tenant_id=tenant,
        prompt="a heron at dawn",
        params=ev.RequestedParams(model="tiny-mochi", width=64, height=48, num_frames=7, **params),
    )


def _job_event(job_id: str, url: str) -> ev.JobEvent:
    status = job_status(job_id=job_id, tenant_id="t-poison", state=ev.JobState.SUCCEEDED, webhook_url=url)
    return ev.JobEvent(job_id=job_id, tenant_id="t-poison", type=ev.JobEventType.SUCCEEDED, status=status)


def _admitted(job_id: str, pool_id: str = POOL) -> ev.JobAdmitted:
    return ev.JobAdmitted(
        job_id=job_id,
        tenant_id="t-poison",
        pool_id=pool_id,
        prompt="a heron at dawn",
        params=render_params(num_frames=7, num_inference_steps=2),
        submitted_at=ev.utc_now(),
    )


def _dispatch(job_id: str, slot: int = WORKER_SLOT) -> ev.DispatchRender:
    return ev.DispatchRender(
        job_id=job_id,
        slot=slot,
        attempt=1,
        tenant_id="t-poison",
        prompt="a heron at dawn",
        params=render_params(num_frames=7, num_inference_steps=2),
        artifact_key=f"t-poison/{job_id}/1/video.mp4",
        lease_expires_at=ev.utc_now() + timedelta(minutes=10),
    )


def _job() -> str:
    return f"job-{uuid.uuid4().hex}"


def _admission_commands(_: Receiver, __: Any = None) -> Feed:
    tenant, job_id = f"t-{uuid.uuid4().hex[:8]}", _job()
    return Feed(
        COMMANDS,
        0,
        tenant,
        _submit(job_id, tenant),
        lambda e: isinstance(e, ev.JobAdmitted) and e.job_id == job_id,
        SCHEDULER_INBOX,
    )


def _notifier_events(receiver: Receiver, _: Any = None) -> Feed:
    job_id = _job()
    return Feed(JOB_EVENTS, 0, job_id, _job_event(job_id, f"{receiver.url}/{job_id}"), _hook(job_id), None)


def _notifier_pings(receiver: Receiver, _: Any = None) -> Feed:
    tag = uuid.uuid4().hex
    ping = ev.WebhookPingRequested(tenant_id="t-poison", endpoint_id=f"ep-{tag}", url=f"{receiver.url}/{tag}")
    return Feed(WEBHOOK_PINGS, 0, "t-poison", ping, _hook(tag), None)


def _notifier_retries(receiver: Receiver, _: Any = None) -> Feed:
    job_id = _job()
    event = _job_event(job_id, f"{receiver.url}/{job_id}")
    retry = ev.RetryWebhook(attempt=2, due_at=ev.utc_now(), job_event=event)
    return Feed(RETRY_TIER, 0, job_id, retry, _hook(job_id), None)


def _scheduler_inbox(_: Receiver, __: Any = None) -> Feed:
    job_id = _job()
    return Feed(
        SCHEDULER_INBOX,
        0,
        POOL,
        _admitted(job_id),
        lambda s: isinstance(s, ev.JobStatus) and s.job_id == job_id,
        JOB_STATUS,
    )


def _worker_dispatch(_: Receiver, __: Any = None) -> Feed:
    job_id = _job()
    return Feed(
        RENDER_DISPATCH,
        WORKER_SLOT,
        WORKER_POOL,
        _dispatch(job_id),
        lambda e: isinstance(e, ev.RenderFailed | ev.RenderStarted) and e.job_id == job_id,
        SCHEDULER_INBOX,
    )


@dataclass
class IngestStage:
    api: RunningApi

    def check_running(self) -> None:
        return None  # in this process: a stopped view fails the probe (the job never shows)


@pytest.fixture(scope="module")
async def ingest(stack: Endpoints, topics: None) -> AsyncIterator[IngestStage]:
    async with api_with_roles(stack, {"reader": INGEST_TENANT}) as api:
        yield IngestStage(api)


def _ingest_status(_: Receiver, stage: IngestStage | None = None) -> Feed:
    job_id = _job()
    client = stage.api.client("reader") if stage is not None else None

    async def shown() -> bool:
        assert client is not None
        return (await client.get(f"/v1/jobs/{job_id}")).status_code == 200

    snapshot = job_status(job_id=job_id, tenant_id=INGEST_TENANT, version=1)
    return Feed(JOB_STATUS, 0, job_id, snapshot, lambda _: True, None, probe=shown)


def _hook(tag: str) -> Callable[[Any], bool]:
    return lambda hook: f"/{tag}" in hook.path


CASES = {
    "admission/commands": Case(
        "admission",
        _admission_commands,
        lambda f: replace(f.valid, job_id="", event_id=ev.new_id()),  # a command about no job at all
    ),
    "notifier/jobs.events": Case(
        "notifier",
        _notifier_events,
        # an event whose snapshot is another job's: whose webhook would it be?
        lambda f: replace(f.valid, event_id=ev.new_id(), status=replace(f.valid.status, job_id=_job())),
    ),
    "notifier/webhooks.pings": Case(
        "notifier",
        _notifier_pings,
        lambda f: replace(f.valid, event_id=ev.new_id(), url="not a url"),
    ),
    "notifier/retry-tier": Case(
        "notifier",
        _notifier_retries,
        lambda f: replace(f.valid, event_id=ev.new_id(), job_event=None),  # a retry of nothing
    ),
    "scheduler/inbox": Case(
        "scheduler",
        _scheduler_inbox,
        lambda f: replace(f.valid, job_id=_job(), event_id=ev.new_id(), pool_id="no-such-pool"),
    ),
    "ingest/jobs.status": Case(
        "ingest",
        _ingest_status,
        # a snapshot under another job's key: compaction would keep it in place of that job's own
        lambda f: replace(f.valid, job_id=_job()),
    ),
    "worker/render.dispatch": Case(
        "worker",
        _worker_dispatch,
        lambda f: replace(f.valid, job_id=_job(), event_id=ev.new_id(), slot=WORKER_SLOT + 1),
    ),
}
KINDS = ("random-bytes", "unknown-schema-id", "broken-invariant")


def _params(*stages: str) -> list[Any]:
    params = []
    for name, case in CASES.items():
        if case.stage not in stages:
            continue
        params += [pytest.param(name, kind, id=f"{name}-{kind}") for kind in KINDS]
    return params


@pytest.mark.parametrize(("name", "kind"), _params("admission", "notifier", "scheduler"))
async def test_poison_is_dead_lettered_and_the_stage_moves_on(
    name: str,
    kind: str,
    request: pytest.FixtureRequest,
    stack: Endpoints,
    serde: AvroSerde,
    producer: AIOKafkaProducer,
    receiver: Receiver,
) -> None:
    stage = request.getfixturevalue(CASES[name].stage)  # a subprocess, started once per module
    await _poison_then_valid(CASES[name], kind, stage, stack, serde, producer, receiver)


BAD_TARGETS = {  # the URL form rules of an HTTP submission (reelstream.webhooks.targets), production's policy
    "http": ("http://example.com/hook", "must be an absolute https URL"),
    "too-long": ("https://example.com/" + "a" * 2100, "must be at most 2048 characters"),
    "credentials": ("https://user:pw-9f3@example.com/hook", "must not carry credentials"),
    "metadata-address": ("https://169.254.169.254/latest", "special-purpose address"),
}


@pytest.mark.parametrize(("url", "reason"), BAD_TARGETS.values(), ids=BAD_TARGETS.keys())
async def test_a_kafka_produced_job_whose_webhook_url_breaks_the_rules_is_dead_lettered_with_the_reason(
    url: str,
    reason: str,
    admission: AdmissionProcess,
    stack: Endpoints,
    serde: AvroSerde,
    producer: AIOKafkaProducer,
    receiver: Receiver,
) -> None:
    """Admission runs production's policy here (https only, public addresses): a SubmitJob that skipped
    ingest is parked with the rule it broke, the URL itself left out of the reason, and the next one of
    its partition is still admitted."""
    case = Case("admission", _admission_commands, lambda f: replace(f.valid, job_id=_job(), webhook_url=url))
    letter = await _poison_then_valid(case, "broken-invariant", admission, stack, serde, producer, receiver)
    assert letter.error_code == "invalid_record"
    assert "webhook_url" in letter.error_message
    assert reason in letter.error_message
    assert url not in letter.error_message


@pytest.mark.parametrize(("name", "kind"), _params("ingest"))
async def test_poison_is_dead_lettered_and_ingest_views_move_on(
    name: str,
    kind: str,
    ingest: IngestStage,
    stack: Endpoints,
    serde: AvroSerde,
    producer: AIOKafkaProducer,
    receiver: Receiver,
) -> None:
    await _poison_then_valid(CASES[name], kind, ingest, stack, serde, producer, receiver)


@pytest.mark.parametrize(("name", "kind"), _params("worker"))
async def test_poison_is_dead_lettered_and_the_worker_moves_on(
    name: str,
    kind: str,
    worker: WorkerTask,
    stack: Endpoints,
    serde: AvroSerde,
    producer: AIOKafkaProducer,
    receiver: Receiver,
) -> None:
    await _poison_then_valid(CASES[name], kind, worker, stack, serde, producer, receiver)


async def _poison_then_valid(
    case: Case,
    kind: str,
    stage: Any,
    stack: Endpoints,
    serde: AvroSerde,
    producer: AIOKafkaProducer,
    receiver: Receiver,
) -> ev.DeadLetter:
    feed = case.feed(receiver, stage)
    if kind == "random-bytes":
        poison = random_bytes()
    elif kind == "unknown-schema-id":
        poison = unknown_schema_id()
    else:
        poison = serde.serialize(feed.topic, case.invariant(feed))
    headers = [("trace", uuid.uuid4().hex.encode()), ("origin", b"test-poison")]
    publisher = Publisher(sender_of(producer), serde)

    async with (
        tail(stack, serde, DEAD_LETTERS[case.stage]) as letters,
        _output(stack, serde, feed, receiver) as processed,
    ):
        meta = await producer.send_and_wait(
            feed.topic.name, poison, key=feed.key.encode(), partition=feed.partition, headers=headers
        )
        await publisher.publish(feed.topic, feed.key, feed.valid, partition=feed.partition)
        await processed(stage)  # the stage moved on past the poison
        # it parks a record before it takes the next one of that partition: the letter is out by now
        letter: ev.DeadLetter = await letters.first(
            lambda d: d.source_topic == feed.topic.name and d.value == poison, stage, within=LETTER_S
        )

    assert letter.stage == case.stage
    assert (letter.partition, letter.offset) == (meta.partition, meta.offset)
    assert letter.key == feed.key.encode()
    assert letter.value == poison
    assert letter.headers == dict(headers)
    assert letter.error_code
    assert letter.error_message
    if kind != "broken-invariant":
        assert letter.error_code in {"serialization", "unknown_schema"}, letter
    return letter


@contextlib.asynccontextmanager
async def _output(
    stack: Endpoints, serde: AvroSerde, feed: Feed, receiver: Receiver
) -> AsyncIterator[Callable[[Any], Awaitable[Any]]]:
    """A wait for the proof that the stage processed `feed.valid` (opened before anything is produced)."""
    probe = feed.probe
    if probe is not None:
        yield lambda stage: _probed(probe, stage)
        return
    if feed.output is None:
        yield lambda stage: delivered(receiver, stage, feed.processed)
        return
    async with tail(stack, serde, feed.output) as out:
        yield lambda stage: out.first(feed.processed, stage)


async def _probed(probe: Callable[[], Awaitable[bool]], stage: Any) -> None:
    deadline = time.monotonic() + DEADLINE_S
    while not await probe():
        stage.check_running()
        if time.monotonic() > deadline:
            pytest.fail(f"the valid record was not processed within {DEADLINE_S:g}s")
        await asyncio.sleep(0.05)  # polling the API, with a deadline
