"""Durable webhook retries on the real stack: `python -m streams.notifier` processes with a scaled-down
schedule, a real HTTP receiver on loopback that answers as each test scripts it, and the real broker.

Every notifier of a test session reads reelstream.jobs.events, each signing with its own secret: a receiver
scripts its answers only for requests signed with the secret of the notifier under test (others get 204,
so they never disable an endpoint), and counts only those.
"""

from __future__ import annotations

import asyncio
import itertools
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any, Generic, TypeVar

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from reelstream.dlq import replay_stage
from reelstream.endpoints import Endpoints
from reelstream.kafka.admin import ensure_topics
from reelstream.kafka.clients import Publisher, sender_of
from reelstream.webhooks.messages import WebhookVerificationError, verify
from reelstream.webhooks.retries import endpoint_key
from schemas.events import (
    DeadLetter,
    DeliveryOutcome,
    JobEvent,
    JobEventType,
    JobState,
    utc_now,
)
from schemas.serde import AvroSerde
from schemas.topics import DEAD_LETTERS, JOB_EVENTS, WEBHOOK_DELIVERIES, Topic, retry_topic
from tests.integration.ingest.support import api_with_roles
from tests.integration.notifier_process import NotifierProcess, running_notifier
from tests.samples import job_status
from tests.webhook_receiver import Delivery, Receiver, delivered, webhook_receiver

TENANT = f"tenant-retries-{uuid.uuid4().hex[:8]}"  # this module's notifier holds its secret
T = TypeVar("T")
DEADLINE_S = 60.0
SCHEDULE = "0,0.5,1,1"  # four attempts: at once, then 0.5 s, 1 s, 1 s later (tiers retry.500ms, retry.1s)
FIRST_TIER = retry_topic(0.5)
MAX_AGE_S = 3600
TRACE_ID = "0af7651916cd43dd8448eb211c80319c"
Answer = tuple[int, dict[str, str]]


@pytest.fixture(scope="module")
def notifier(
    stack: Endpoints, topics: None, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[NotifierProcess]:
    env = {
        "REELSTREAM_WEBHOOK_RETRY_SCHEDULE": SCHEDULE,
        "REELSTREAM_WEBHOOK_MAX_AGE_SECONDS": str(MAX_AGE_S),
    }
    with running_notifier(
        stack, tmp_path_factory.mktemp("retries"), "retries", env=env, tenants=[TENANT]
    ) as handle:
        yield handle


@pytest.fixture
def publisher(producer: AIOKafkaProducer, serde: AvroSerde) -> Publisher:
    return Publisher(sender_of(producer), serde)


def _verifies(secret: str, hook: Delivery) -> bool:
    try:
        verify(secret, hook.headers, hook.body, now=int(time.time()))
    except WebhookVerificationError:
        return False
    return True


@contextmanager
def scripted_receiver(secret: str, answers: Callable[[int], Answer]) -> Iterator[Receiver]:
    """A receiver answering the n-th request signed with `secret` (1-based) with `answers(n)`."""
    with webhook_receiver() as receiver:
        ours = 0

        def respond(hook: Delivery) -> Answer:
            nonlocal ours
            if not _verifies(secret, hook):
                return 204, {}
            ours += 1
            return answers(ours)

        receiver.respond = respond
        yield receiver


def _ours(notifier: NotifierProcess, job_id: str) -> Callable[[Delivery], bool]:
    return lambda hook: f"/{job_id}" in hook.path and _verifies(notifier.secret, hook)


async def _wait_hooks(
    receiver: Receiver, notifier: NotifierProcess, job_id: str, count: int
) -> list[Delivery]:
    """The first `count` requests for `job_id` signed by `notifier` (a deadline, the process watched)."""
    deadline = time.monotonic() + DEADLINE_S
    while time.monotonic() < deadline:
        notifier.check_running()
        try:
            return await asyncio.to_thread(receiver.wait_count, _ours(notifier, job_id), count, 1.0)
        except TimeoutError:
            continue
    pytest.fail(f"fewer than {count} webhooks for {job_id} in {DEADLINE_S:g}s:\n{notifier.log()[-4000:]}")


def _event(job_id: str, url: str, occurred_at: Any = None) -> JobEvent:
    status = job_status(
        job_id=job_id, tenant_id=TENANT, state=JobState.SUCCEEDED, webhook_url=url, prompt="p"
    )
    extra = {"occurred_at": occurred_at} if occurred_at is not None else {}
    return JobEvent(
        job_id=job_id, tenant_id=status.tenant_id, type=JobEventType.SUCCEEDED, status=status, **extra
    )


@dataclass
class TopicReader(Generic[T]):
    """Reads one topic from the end offsets taken on entry, decoding with the registry serde."""

    consumer: AIOKafkaConsumer
    serde: AvroSerde
    topic: Topic[T]

    async def wait_for(self, notifier: NotifierProcess, match: Callable[[T], bool]) -> tuple[T, int, int]:
        """The first matching value, with its partition and offset."""
        deadline = time.monotonic() + DEADLINE_S
        while time.monotonic() < deadline:
            notifier.check_running()
            for tp, records in (await self.consumer.getmany(timeout_ms=500)).items():
                for record in records:
                    value = await self.serde.deserialize(self.topic, record.value)
                    if match(value):
                        return value, tp.partition, record.offset
        pytest.fail(f"nothing matching on {self.topic.name} in {DEADLINE_S:g}s:\n{notifier.log()[-4000:]}")


@asynccontextmanager
async def reading(stack: Endpoints, serde: AvroSerde, topic: Topic[T]) -> AsyncIterator[TopicReader[T]]:
    consumer = AIOKafkaConsumer(
        bootstrap_servers=stack.kafka_bootstrap, **stack.kafka_security.aiokafka(), enable_auto_commit=False
    )
    await consumer.start()
    try:
        tps = [TopicPartition(topic.name, p) for p in range(topic.partitions)]
        consumer.assign(tps)
        for tp, offset in (await consumer.end_offsets(tps)).items():
            consumer.seek(tp, offset)
        yield TopicReader(consumer, serde, topic)
    finally:
        await consumer.stop()


async def _letter_for(serde: AvroSerde, letter: DeadLetter, event_id: str) -> bool:
    if letter.source_topic != FIRST_TIER.name or letter.value is None:
        return False
    request = await serde.deserialize(FIRST_TIER, letter.value)
    return request.job_event is not None and request.job_event.event_id == event_id


async def _dead_letter(
    reader: TopicReader[DeadLetter], notifier: NotifierProcess, event_id: str
) -> DeadLetter:
    deadline = time.monotonic() + DEADLINE_S
    while time.monotonic() < deadline:
        notifier.check_running()
        for records in (await reader.consumer.getmany(timeout_ms=500)).values():
            for record in records:
                letter = await reader.serde.deserialize(reader.topic, record.value)
                if await _letter_for(reader.serde, letter, event_id):
                    return letter
    pytest.fail(f"no dead letter for {event_id} in {DEADLINE_S:g}s:\n{notifier.log()[-4000:]}")


async def test_a_receiver_failing_twice_gets_the_third_attempt_with_the_same_id_and_trace(
    notifier: NotifierProcess, publisher: Publisher, stack: Endpoints, serde: AvroSerde
) -> None:
    job_id = f"job-{uuid.uuid4().hex}"
    traceparent = f"00-{TRACE_ID}-b7ad6b7169203331-01"
    with scripted_receiver(notifier.secret, lambda n: (500, {}) if n <= 2 else (204, {})) as receiver:
        event = _event(job_id, f"{receiver.url}/{job_id}?token=t")
        async with reading(stack, serde, WEBHOOK_DELIVERIES) as deliveries:
            await publisher.publish(
                JOB_EVENTS, job_id, event, headers=[("traceparent", traceparent.encode())]
            )
            hooks = await _wait_hooks(receiver, notifier, job_id, 3)
            record, _, _ = await deliveries.wait_for(
                notifier,
                lambda d: d.webhook_event_id == event.event_id and d.outcome is DeliveryOutcome.DELIVERED,
            )

    assert [h.status for h in hooks] == [500, 500, 204]
    assert {h.headers["webhook-id"] for h in hooks} == {event.event_id}
    assert [h.headers["traceparent"].split("-")[1] for h in hooks] == [TRACE_ID] * 3
    assert record.attempt == 3
    gaps = [b.received_at - a.received_at for a, b in itertools.pairwise(hooks)]
    print(f"attempt gaps (schedule 0.5 s, 1 s): {gaps[0]:.3f} s, {gaps[1]:.3f} s")
    assert gaps[0] >= 0.5
    assert gaps[1] >= 1.0


async def test_retry_after_is_honoured(notifier: NotifierProcess, publisher: Publisher) -> None:
    job_id = f"job-{uuid.uuid4().hex}"
    answers: Callable[[int], Answer] = lambda n: (503, {"retry-after": "3"}) if n == 1 else (204, {})  # noqa: E731
    with scripted_receiver(notifier.secret, answers) as receiver:
        await publisher.publish(JOB_EVENTS, job_id, _event(job_id, f"{receiver.url}/{job_id}"))
        first, second = await _wait_hooks(receiver, notifier, job_id, 2)

    assert (first.status, second.status) == (503, 204)
    # the schedule alone would retry after 0.5 s; the receiver asked for 3 s
    assert second.received_at - first.received_at >= 3.0
    print(f"Retry-After 3 s: second attempt {second.received_at - first.received_at:.3f} s after the first")


async def test_exhausted_deliveries_are_dead_lettered_and_replay_sends_them_again(
    notifier: NotifierProcess, publisher: Publisher, stack: Endpoints, serde: AvroSerde
) -> None:
    job_id = f"job-{uuid.uuid4().hex}"
    failing = True
    with scripted_receiver(notifier.secret, lambda n: (500, {}) if failing else (204, {})) as receiver:
        event = _event(job_id, f"{receiver.url}/{job_id}")
        async with reading(stack, serde, DEAD_LETTERS["notifier"]) as letters:
            await publisher.publish(JOB_EVENTS, job_id, event)
            letter = await _dead_letter(letters, notifier, event.event_id)
        hooks = receiver.matching(_ours(notifier, job_id))
        assert [h.status for h in hooks] == [500] * 4  # the four attempts of the schedule, then no more
        assert letter.error_code == "webhook_exhausted"
        assert "4 attempts" in letter.error_message

        failing = False
        parked = [p for p in await _list_notifier_letters(stack) if p.letter.event_id == letter.event_id]
        assert len(parked) == 1
        assert (
            await replay_stage(
                stack.kafka_bootstrap,
                stack.schema_registry_url,
                "notifier",
                {parked[0].offset},
                security=stack.kafka_security,
                registry_auth=stack.registry_auth,
            )
            == 1
        )
        hooks = await _wait_hooks(receiver, notifier, job_id, 5)

    assert hooks[-1].status == 204
    assert hooks[-1].headers["webhook-id"] == event.event_id


async def _list_notifier_letters(stack: Endpoints) -> list[Any]:
    from reelstream.dlq import list_stage

    return await list_stage(
        stack.kafka_bootstrap,
        stack.schema_registry_url,
        "notifier",
        1000,
        security=stack.kafka_security,
        registry_auth=stack.registry_auth,
    )


async def test_410_gone_disables_the_endpoint(
    notifier: NotifierProcess, publisher: Publisher, stack: Endpoints, serde: AvroSerde
) -> None:
    first_job, later_job = f"job-{uuid.uuid4().hex}", f"job-{uuid.uuid4().hex}"
    with scripted_receiver(notifier.secret, lambda n: (410, {})) as receiver:
        url = f"{receiver.url}/gone-{uuid.uuid4().hex}"
        first, later = _event(first_job, url), _event(later_job, url)
        async with reading(stack, serde, DEAD_LETTERS["notifier"]) as letters:
            await publisher.publish(JOB_EVENTS, first_job, first)
            gone = await _dead_letter(letters, notifier, first.event_id)
            await publisher.publish(JOB_EVENTS, later_job, later)
            disabled = await _dead_letter(letters, notifier, later.event_id)
        hooks = receiver.matching(lambda h: _verifies(notifier.secret, h))

    assert [(h.headers["webhook-id"], h.status) for h in hooks] == [(first.event_id, 410)]
    assert gone.error_code == disabled.error_code == "endpoint_gone"
    assert first.event_id in disabled.error_message  # names the delivery that was answered 410


async def test_an_admin_re_enables_a_gone_endpoint_and_deliveries_resume(
    notifier: NotifierProcess, publisher: Publisher, stack: Endpoints, serde: AvroSerde
) -> None:
    """410 disables the URL; `POST /v1/admin/webhooks/enable` (a real ingest API, admin key) writes the
    tombstone on reelstream.webhooks.endpoints, the notifier follows it, and the next event is delivered."""
    first_job, later_job = f"job-{uuid.uuid4().hex}", f"job-{uuid.uuid4().hex}"
    with scripted_receiver(notifier.secret, lambda n: (410, {}) if n == 1 else (200, {})) as receiver:
        url = f"{receiver.url}/gone-{uuid.uuid4().hex}"
        first, later = _event(first_job, url), _event(later_job, url)
        async with reading(stack, serde, DEAD_LETTERS["notifier"]) as letters:
            await publisher.publish(JOB_EVENTS, first_job, first)
            gone = await _dead_letter(letters, notifier, first.event_id)
        assert gone.error_code == "endpoint_gone"

        async with api_with_roles(stack, {"root": f"ops-{uuid.uuid4().hex[:8]}"}, admins=["root"]) as api:
            enabled = await api.client("root").post("/v1/admin/webhooks/enable", json={"url": url})
        assert enabled.status_code == 200, enabled.text
        digest = enabled.json()["endpoint_sha256"]
        assert digest == endpoint_key(url)
        await _logged(notifier, f"webhook endpoint {digest[:12]}… re-enabled")

        await publisher.publish(JOB_EVENTS, later_job, later)
        hook = await delivered(receiver, notifier, lambda h: h.headers.get("webhook-id") == later.event_id)
    assert hook.status == 200
    assert _verifies(notifier.secret, hook)


async def _logged(notifier: NotifierProcess, text: str) -> None:
    deadline = time.monotonic() + DEADLINE_S
    while text not in notifier.log():
        notifier.check_running()
        if time.monotonic() > deadline:
            pytest.fail(f"{text!r} not logged in {DEADLINE_S:g}s:\n{notifier.log()[-4000:]}")
        await asyncio.sleep(0.1)  # polling the log for the line, with a deadline


async def test_an_event_older_than_the_max_age_is_dead_lettered_unsent(
    notifier: NotifierProcess, publisher: Publisher, stack: Endpoints, serde: AvroSerde
) -> None:
    job_id = f"job-{uuid.uuid4().hex}"
    with scripted_receiver(notifier.secret, lambda n: (204, {})) as receiver:
        event = _event(
            job_id, f"{receiver.url}/{job_id}", occurred_at=utc_now() - timedelta(seconds=2 * MAX_AGE_S)
        )
        async with reading(stack, serde, DEAD_LETTERS["notifier"]) as letters:
            await publisher.publish(JOB_EVENTS, job_id, event)
            letter = await _dead_letter(letters, notifier, event.event_id)
        assert receiver.matching(_ours(notifier, job_id)) == []
    assert letter.error_code == "expired"


async def _committed(stack: Endpoints, group: str, tp: TopicPartition) -> int:
    consumer = AIOKafkaConsumer(
        bootstrap_servers=stack.kafka_bootstrap,
        **stack.kafka_security.aiokafka(),
        group_id=group,
        enable_auto_commit=False,
    )
    await consumer.start()
    try:
        return await consumer.committed(tp) or 0
    finally:
        await consumer.stop()


async def _wait_committed(
    stack: Endpoints, group: str, tp: TopicPartition, beyond: int, what: NotifierProcess
) -> None:
    deadline = time.monotonic() + DEADLINE_S
    while time.monotonic() < deadline:
        if await _committed(stack, group, tp) > beyond:
            return
        await asyncio.sleep(0.2)  # polling the group's committed offset, with a deadline
    pytest.fail(f"{group} never committed {tp} beyond {beyond}:\n{what.log()[-4000:]}")


async def test_a_retry_pending_when_the_notifier_is_killed_is_delivered_once_after_restart(
    notifier: NotifierProcess, publisher: Publisher, stack: Endpoints, serde: AvroSerde, tmp_path: Path
) -> None:
    """`notifier` (the module's) runs meanwhile too: its requests are answered 204 and not counted."""
    job_id = f"job-{uuid.uuid4().hex}"
    env = {"REELSTREAM_WEBHOOK_RETRY_SCHEDULE": "0,2,2"}
    answers: Callable[[int], Answer] = lambda n: (503, {"retry-after": "5"}) if n == 1 else (204, {})  # noqa: E731
    await ensure_topics(
        stack.kafka_bootstrap, [retry_topic(2)], security=stack.kafka_security
    )  # the notifier creates it too, maybe after we read
    with (
        running_notifier(stack, tmp_path, "killed", env=env, tenants=[TENANT]) as first,
        scripted_receiver(first.secret, answers) as receiver,
    ):
        event = _event(job_id, f"{receiver.url}/{job_id}")
        async with reading(stack, serde, retry_topic(2)) as tier:
            meta = await publisher.publish(JOB_EVENTS, job_id, event)
            pending, partition, offset = await tier.wait_for(
                first, lambda r: r.job_event is not None and r.job_event.event_id == event.event_id
            )
        # the first attempt's source offset is committed: a restart will not make it again
        events_tp = TopicPartition(JOB_EVENTS.name, meta.partition)
        await _wait_committed(stack, f"{first.app_prefix}-notifier", events_tp, meta.offset, first)
        first.kill()
        killed_at = time.time()
        assert pending.attempt == 2
        assert pending.due_at.timestamp() > time.time()  # killed before the retry was due

        with running_notifier(
            stack,
            tmp_path,
            "killed",
            secret=first.secret,
            app_prefix=first.app_prefix,
            env=env,
            key_dir=first.key_dir,
        ) as second:
            hooks = await _wait_hooks(receiver, second, job_id, 2)
            # the retry's offset is committed: nothing of it can come again
            tier_tp = TopicPartition(retry_topic(2).name, partition)
            await _wait_committed(stack, f"{first.app_prefix}-notifier-retries", tier_tp, offset, second)
            ours = receiver.matching(_ours(second, job_id))

    assert [h.status for h in hooks] == [503, 204]
    assert [h.status for h in ours] == [503, 204]  # exactly one success, one request per attempt
    assert {h.headers["webhook-id"] for h in ours} == {event.event_id}
    assert hooks[1].received_at - hooks[0].received_at >= 5.0
    print(
        f"SIGKILL to the retry's delivery by the restarted notifier: {hooks[1].received_at - killed_at:.1f} s"
    )
