"""The notifier as it runs in production: `python -m streams.notifier` on the real broker and registry,
posting to a real HTTP receiver on loopback and recording each delivery on reelstream.webhooks.deliveries.

The broker is shared with other test runs: every id is unique, topics are never assumed empty, and webhooks
that do not verify with this run's secret (another notifier replaying the topic) are ignored.
"""

from __future__ import annotations

import asyncio
import json
import socket
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from reelstream.endpoints import Endpoints
from reelstream.kafka.clients import Publisher, sender_of
from reelstream.settings import NotifierSettings, PipelineSettings
from reelstream.webhooks.messages import WebhookVerificationError, generate_secret, verify
from schemas.events import DeliveryOutcome, JobEvent, JobEventType, JobState, WebhookDelivery
from schemas.serde import AvroSerde
from schemas.topics import JOB_EVENTS, WEBHOOK_DELIVERIES
from streams.webhook_http import deliver, new_http_client
from tests.integration.notifier_process import NotifierProcess, running_notifier
from tests.samples import job_status
from tests.webhook_receiver import Delivery, Receiver, delivered, webhook_receiver

TENANT = f"tenant-notified-{uuid.uuid4().hex[:8]}"  # this module's notifier holds its secret
DEADLINE_S = 60.0


@pytest.fixture(scope="module")
def notifier(
    stack: Endpoints, topics: None, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[NotifierProcess]:
    with running_notifier(stack, tmp_path_factory.mktemp("notifier"), "test", tenants=[TENANT]) as handle:
        yield handle


@pytest.fixture
def publisher(producer: AIOKafkaProducer, serde: AvroSerde) -> Publisher:
    return Publisher(sender_of(producer), serde)


def _event(job_id: str, webhook_url: str, event_type: JobEventType, state: JobState) -> JobEvent:
    status = job_status(
        job_id=job_id,
        tenant_id=TENANT,
        state=state,
        webhook_url=webhook_url,
        prompt=f"a red fox in snow {uuid.uuid4().hex}",
    )
    return JobEvent(job_id=job_id, tenant_id=status.tenant_id, type=event_type, status=status)


def _verifies(secret: str, hook: Delivery) -> bool:
    try:
        verify(secret, hook.headers, hook.body, now=int(time.time()))
    except WebhookVerificationError:
        return False
    return True


async def _received(receiver: Receiver, notifier: NotifierProcess, job_id: str) -> Delivery:
    """The first webhook for `job_id` signed with this run's secret (polled against a deadline)."""

    def ours(hook: Delivery) -> bool:
        return f"/{job_id}?" in hook.path and _verifies(notifier.secret, hook)

    return await delivered(receiver, notifier, ours, DEADLINE_S)


async def _log_with(notifier: NotifierProcess, text: str) -> str:
    deadline = time.monotonic() + DEADLINE_S
    while time.monotonic() < deadline:
        log = notifier.log()
        if text in log:
            return log
        await asyncio.sleep(0.05)  # polling the process's log file for a line, with a deadline
    pytest.fail(f"{text!r} never appeared in the notifier's log:\n{notifier.log()[-4000:]}")


@dataclass
class DeliveryReader:
    consumer: AIOKafkaConsumer
    serde: AvroSerde

    async def wait_for(
        self, notifier: NotifierProcess, match: Callable[[WebhookDelivery], bool]
    ) -> WebhookDelivery:
        deadline = time.monotonic() + DEADLINE_S
        while time.monotonic() < deadline:
            notifier.check_running()
            batches = await self.consumer.getmany(timeout_ms=500)
            for records in batches.values():
                for record in records:
                    delivery = await self.serde.deserialize(WEBHOOK_DELIVERIES, record.value)
                    if match(delivery):
                        return delivery
        pytest.fail(f"no matching delivery record within {DEADLINE_S:g}s:\n{notifier.log()[-4000:]}")


@asynccontextmanager
async def deliveries_from_now(stack: Endpoints, serde: AvroSerde) -> AsyncIterator[DeliveryReader]:
    """Reads reelstream.webhooks.deliveries from the end offsets taken on entry."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=stack.kafka_bootstrap, **stack.kafka_security.aiokafka(), enable_auto_commit=False
    )
    await consumer.start()
    try:
        partitions = [
            TopicPartition(WEBHOOK_DELIVERIES.name, p) for p in range(WEBHOOK_DELIVERIES.partitions)
        ]
        consumer.assign(partitions)
        for tp, offset in (await consumer.end_offsets(partitions)).items():
            consumer.seek(tp, offset)
        yield DeliveryReader(consumer, serde)
    finally:
        await consumer.stop()


async def test_a_succeeded_job_gets_a_signed_webhook_and_a_delivered_record(
    notifier: NotifierProcess, receiver: Receiver, publisher: Publisher, stack: Endpoints, serde: AvroSerde
) -> None:
    job_id = f"job-{uuid.uuid4().hex}"
    token = uuid.uuid4().hex
    event = _event(
        job_id, f"{receiver.url}/{job_id}?token={token}", JobEventType.SUCCEEDED, JobState.SUCCEEDED
    )
    async with deliveries_from_now(stack, serde) as deliveries:
        await publisher.publish(JOB_EVENTS, job_id, event)
        hook = await _received(receiver, notifier, job_id)
        print(f"notifier start to first delivery: {time.monotonic() - notifier.started:.1f}s")
        record = await deliveries.wait_for(notifier, lambda d: d.webhook_event_id == event.event_id)

    assert hook.headers["webhook-id"] == event.event_id
    assert hook.headers["content-type"] == "application/json"
    payload = json.loads(hook.body)
    assert payload["type"] == "job.succeeded"
    assert payload["data"]["id"] == job_id
    assert payload["data"]["status"] == "succeeded"
    assert token.encode() not in hook.body

    assert record.job_id == job_id
    assert record.tenant_id == event.tenant_id
    assert record.outcome is DeliveryOutcome.DELIVERED
    assert record.status_code is not None
    assert 200 <= record.status_code < 300
    assert record.target_host == ""  # the host is kept in clear nowhere
    assert record.attempt == 1
    assert record.error is None
    assert record.duration_ms > 0

    # other notifiers on the broker (an e2e pipeline of the same session) record deliveries too, so the
    # record above may not be this process's: wait for this process's own log line, against a deadline
    log = await _log_with(notifier, f"job_id={job_id}")
    for private in (token, notifier.secret, event.status.prompt):
        assert private not in log


async def test_a_receiver_answering_500_yields_a_failed_record(
    notifier: NotifierProcess, publisher: Publisher, stack: Endpoints, serde: AvroSerde
) -> None:
    job_id = f"job-{uuid.uuid4().hex}"
    with webhook_receiver() as failing:
        failing.status = 500
        event = _event(job_id, f"{failing.url}/{job_id}?token=t", JobEventType.FAILED, JobState.FAILED)
        async with deliveries_from_now(stack, serde) as deliveries:
            await publisher.publish(JOB_EVENTS, job_id, event)
            hook = await _received(failing, notifier, job_id)
            record = await deliveries.wait_for(notifier, lambda d: d.webhook_event_id == event.event_id)

    assert json.loads(hook.body)["type"] == "job.failed"
    assert record.outcome is DeliveryOutcome.FAILED
    assert record.status_code == 500
    assert record.target_host == ""  # the host is kept in clear nowhere
    assert f"job_id={job_id}" in notifier.log()


async def test_progress_sends_nothing_and_an_undecodable_record_is_dead_lettered(
    notifier: NotifierProcess, receiver: Receiver, publisher: Publisher, producer: AIOKafkaProducer
) -> None:
    """Everything on one partition, so the later job's webhook proves the earlier records were processed."""
    quiet_job, later_job = f"job-{uuid.uuid4().hex}", f"job-{uuid.uuid4().hex}"
    progress = _event(quiet_job, f"{receiver.url}/{quiet_job}?t=1", JobEventType.PROGRESS, JobState.RUNNING)
    meta = await publisher.publish(JOB_EVENTS, quiet_job, progress)
    garbage = await producer.send_and_wait(
        JOB_EVENTS.name, b"\x00\x00\x00\x00\x01not avro", key=quiet_job.encode(), partition=meta.partition
    )
    later = _event(later_job, f"{receiver.url}/{later_job}?t=2", JobEventType.CANCELED, JobState.CANCELED)
    await publisher.publish(JOB_EVENTS, later_job, later, partition=meta.partition)

    await _received(receiver, notifier, later_job)

    assert not [hook for hook in receiver.deliveries if f"/{quiet_job}?" in hook.path]
    log = notifier.log()
    assert "record dead-lettered: serialization" in log
    assert f"partition={meta.partition} offset={garbage.offset}" in log


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


@pytest.mark.parametrize(
    ("target", "error_type"),
    [
        ("http://127.0.0.1:{closed_port}/hooks", "ConnectError"),
        ("ftp://127.0.0.1/hooks", "UnsupportedProtocol"),
        ("http://127.0.0.1:notaport/hooks", "InvalidURL"),
    ],
    ids=["refused", "bad-scheme", "bad-port"],
)
async def test_deliver_records_an_unreachable_target_without_the_url(
    stack: Endpoints, target: str, error_type: str
) -> None:
    settings = NotifierSettings(
        pipeline=PipelineSettings(endpoints=stack),
        key_dir="/nonexistent",  # not read: the test signs with a secret of its own
        webhook_allow_networks="127.0.0.0/8",
    )
    token = uuid.uuid4().hex
    url = target.format(closed_port=_closed_port()) + f"?token={token}"
    event = _event(f"job-{uuid.uuid4().hex}", url, JobEventType.EXPIRED, JobState.EXPIRED)
    async with new_http_client(settings) as client:
        record = await deliver(client, generate_secret(), event, int(time.time()))

    assert record.outcome is DeliveryOutcome.FAILED
    assert record.status_code is None
    assert record.error is not None
    assert record.error.startswith(error_type)
    assert token not in record.error
    assert record.target_host == ""  # the host is kept in clear nowhere
    assert record.webhook_event_id == event.event_id
