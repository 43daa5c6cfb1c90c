"""Endpoint health shared between notifier replicas, on the real broker: the backoff one notifier process
learnt from a failing receiver (its Retry-After) is honoured by the next process, a restart with a fresh
memory, which defers the endpoint's next webhook without attempting it."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from aiokafka import AIOKafkaProducer

from reelstream.endpoints import Endpoints
from reelstream.kafka.clients import Publisher, sender_of
from schemas.events import JobEvent, JobEventType, JobState, RetryWebhook, WebhookEndpointHealth
from schemas.serde import AvroSerde
from schemas.topics import JOB_EVENTS, WEBHOOK_HEALTH, WEBHOOK_RETRIES
from tests.integration.notifier_process import running_notifier
from tests.kafka_tail import tail
from tests.samples import job_status
from tests.webhook_receiver import Delivery, Receiver

TENANT = f"tenant-health-{uuid.uuid4().hex[:8]}"
RETRY_AFTER_S = 600  # longer than the test: a replica that honours it cannot attempt again meanwhile


def _event(job_id: str, url: str) -> JobEvent:
    status = job_status(job_id=job_id, tenant_id=TENANT, state=JobState.SUCCEEDED, webhook_url=url)
    return JobEvent(job_id=job_id, tenant_id=TENANT, type=JobEventType.SUCCEEDED, status=status)


def _unavailable(hook: Delivery) -> tuple[int, dict[str, str]]:
    if f"/{TENANT}/" in hook.path:
        return 503, {"Retry-After": str(RETRY_AFTER_S)}
    return 204, {}


async def test_a_restarted_notifier_honours_the_backoff_its_predecessor_learnt(
    stack: Endpoints,
    serde: AvroSerde,
    producer: AIOKafkaProducer,
    receiver: Receiver,
    tmp_path: Path,
) -> None:
    receiver.respond = _unavailable
    publisher = Publisher(sender_of(producer), serde)
    first_job, second_job = f"job-{uuid.uuid4().hex}", f"job-{uuid.uuid4().hex}"
    async with tail(stack, serde, WEBHOOK_HEALTH, *WEBHOOK_RETRIES) as written:
        with running_notifier(stack, tmp_path, "test-health", tenants=[TENANT]) as first:
            started = time.time()
            await publisher.publish(
                JOB_EVENTS, first_job, _event(first_job, f"{receiver.url}/{TENANT}/{first_job}")
            )
            state: WebhookEndpointHealth = await written.first(
                lambda r: isinstance(r, WebhookEndpointHealth) and r.tenant_id == TENANT, first
            )
        assert state.failures == 1
        assert state.failing_since is not None
        assert state.backoff_until is not None
        assert state.backoff_until.timestamp() >= started + RETRY_AFTER_S - 1
        assert first_job not in state.endpoint  # the origin, never the path
        assert len(receiver.matching(lambda d: first_job in d.path)) == 1

        # the same consumer group, a new process: nothing of the first one's memory but the topic
        with running_notifier(
            stack,
            tmp_path,
            "test-health",
            app_prefix=first.app_prefix,
            secret=first.secret,
            key_dir=first.key_dir,
        ) as restarted:
            await publisher.publish(
                JOB_EVENTS, second_job, _event(second_job, f"{receiver.url}/{TENANT}/{second_job}")
            )
            queued: RetryWebhook = await written.first(
                lambda r: (
                    isinstance(r, RetryWebhook)
                    and r.job_event is not None
                    and r.job_event.job_id == second_job
                ),
                restarted,
            )
    # deferred as the first attempt, never made: an attempt would have been answered 503 and queued as the 2nd
    assert queued.attempt == 1
    assert receiver.matching(lambda d: second_job in d.path) == []
    assert queued.due_at is not None
    assert queued.due_at.timestamp() >= started + 60


@pytest.fixture(autouse=True)
def _receiver_answers_as_usual_afterwards(receiver: Receiver) -> Iterator[None]:
    yield
    receiver.respond = None
