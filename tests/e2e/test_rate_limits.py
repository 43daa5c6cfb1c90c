"""Admission as deployed (the session pipeline's) enforcing per-tenant limits on the real broker.

The limits are the session's (tests/e2e/conftest.py TENANT_LIMITS): a test starting an admission of its own
would compete with the session's for the same commands.

A flooding tenant gets `rate_limited` rejections exactly where its token bucket runs dry (commands go straight
to the commands topic with chosen `occurred_at`, the clock admission charges by); a tenant under its queue cap
is refused past it; a calm tenant's jobs are all admitted meanwhile. A job that finishes frees its place in
its tenant's queue (the scheduler's JobFinished, back on the commands topic).
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition

from devstack.services import Pipeline
from reelstream.endpoints import Endpoints
from reelstream.kafka.clients import Publisher, new_producer, sender_of
from schemas.events import CancelJob, JobAdmitted, JobEvent, JobEventType, RequestedParams, SubmitJob
from schemas.serde import AvroSerde
from schemas.topics import COMMANDS, JOB_EVENTS, SCHEDULER_INBOX, Topic
from streams.rate_limit import Bucket, BucketLimits, take
from tests.e2e.conftest import CAPPED_TENANT, FLOOD_BURST, FLOOD_RATE, FLOOD_TENANT, ONE_AT_A_TIME_TENANT

DEADLINE_S = 120.0
RATE, BURST = FLOOD_RATE, FLOOD_BURST


async def _consumer_at_end(stack: Endpoints, topic: Topic[Any]) -> AIOKafkaConsumer:
    consumer = AIOKafkaConsumer(
        bootstrap_servers=stack.kafka_bootstrap,
        **stack.kafka_security.aiokafka(),
        group_id=None,
        enable_auto_commit=False,
    )
    await consumer.start()
    parts = [TopicPartition(topic.name, p) for p in range(topic.partitions)]
    consumer.assign(parts)
    await consumer.seek_to_end(*parts)
    for tp in parts:
        await consumer.position(tp)  # resolve now, before anything is produced
    return consumer


async def test_a_flooding_tenant_is_rate_limited_by_its_bucket_while_another_is_admitted(
    running_pipeline: Pipeline, stack: Endpoints, serde: AvroSerde
) -> None:
    run = uuid.uuid4().hex[:10]
    flood, capped, calm = FLOOD_TENANT, CAPPED_TENANT, "tenant-calm"
    events = await _consumer_at_end(stack, JOB_EVENTS)
    inbox = await _consumer_at_end(stack, SCHEDULER_INBOX)
    producer = new_producer(
        stack.kafka_bootstrap, client_id=f"test-rate-limits-{run}", security=stack.kafka_security
    )
    await producer.start()
    publisher = Publisher(sender_of(producer), serde)

    t0 = datetime.now(UTC).replace(microsecond=0)
    flood_times = [t0 + timedelta(seconds=0.5 * i) for i in range(12)]  # 2 a second against 0.5 a second
    sent: list[SubmitJob] = []
    for tenant, times in (
        (flood, flood_times),
        (capped, [t0] * 4),
        (calm, [t0 + timedelta(seconds=2 * i) for i in range(3)]),
    ):
        for at in times:
            command = SubmitJob(
                job_id=uuid.uuid4().hex,
                tenant_id=tenant,
                prompt="a red fox",
                params=RequestedParams(model="tiny-mochi"),
                occurred_at=at,
            )
            await publisher.publish(COMMANDS, tenant, command)
            sent.append(command)

    ours = {c.job_id: c for c in sent}
    outcomes: dict[str, str] = {}  # job id → "admitted" or the rejection's error code
    try:
        deadline = time.monotonic() + DEADLINE_S
        while len(outcomes) < len(ours) and time.monotonic() < deadline:
            async for value in _drain(events, inbox, serde):
                if value.job_id not in ours:
                    continue
                if isinstance(value, JobAdmitted):
                    outcomes[value.job_id] = "admitted"
                elif isinstance(value, JobEvent) and value.type == JobEventType.REJECTED:
                    assert value.status.error is not None
                    outcomes[value.job_id] = value.status.error.code
    finally:
        await producer.stop()
        await events.stop()
        await inbox.stop()
    assert len(outcomes) == len(ours), f"outcomes for {len(outcomes)} of {len(ours)} jobs"

    # the bucket maths, replayed: the same times through the same pure bucket
    limits, bucket, expected = BucketLimits(RATE, BURST), None, []
    for at in flood_times:
        now = at.timestamp()
        taken, bucket = take(bucket or Bucket.full(limits, now), limits, now)
        expected.append("admitted" if taken else "rate_limited")
    flood_jobs = [c for c in sent if c.tenant_id == flood]
    assert [outcomes[c.job_id] for c in flood_jobs] == expected
    elapsed = (flood_times[-1] - flood_times[0]).total_seconds()
    assert expected.count("admitted") <= RATE * elapsed + BURST
    assert "rate_limited" in expected

    capped_jobs = [outcomes[c.job_id] for c in sent if c.tenant_id == capped]
    assert capped_jobs == ["admitted", "admitted", "rate_limited", "rate_limited"]
    assert all(outcomes[c.job_id] == "admitted" for c in sent if c.tenant_id == calm)


async def test_a_finished_job_frees_its_place_in_the_tenants_queue(
    running_pipeline: Pipeline, stack: Endpoints, serde: AvroSerde
) -> None:
    """The tenant may have one job in the queue: a second is refused while the first is there, and a third
    is admitted once the first was canceled (any final state frees the place the same way)."""
    tenant = ONE_AT_A_TIME_TENANT
    events = await _consumer_at_end(stack, JOB_EVENTS)
    inbox = await _consumer_at_end(stack, SCHEDULER_INBOX)
    producer = new_producer(
        stack.kafka_bootstrap,
        client_id=f"test-queue-place-{uuid.uuid4().hex[:8]}",
        security=stack.kafka_security,
    )
    await producer.start()
    publisher = Publisher(sender_of(producer), serde)

    def submission() -> SubmitJob:
        return SubmitJob(
            job_id=uuid.uuid4().hex,
            tenant_id=tenant,
            prompt="a red fox",
            params=RequestedParams(model="tiny-mochi"),
        )

    first, second, third = submission(), submission(), submission()
    outcomes: dict[str, str] = {}  # job id → "admitted", the rejection's code, or the final event's type

    async def until(job_id: str, outcome: str) -> None:
        deadline = time.monotonic() + DEADLINE_S
        while outcomes.get(job_id) != outcome and time.monotonic() < deadline:
            async for value in _drain(events, inbox, serde):
                if isinstance(value, JobAdmitted):
                    outcomes[value.job_id] = "admitted"
                elif value.type == JobEventType.REJECTED:
                    assert value.status.error is not None
                    outcomes[value.job_id] = value.status.error.code
                elif value.status.state.terminal:
                    outcomes[value.job_id] = value.type.value
        assert outcomes.get(job_id) == outcome, f"{job_id}: {outcomes.get(job_id)}, not {outcome}"

    try:
        # both in the tenant's partition, in this order, before anything of the first can have finished
        sends = [
            await producer.send(COMMANDS.name, serde.serialize(COMMANDS, c), key=tenant.encode())
            for c in (first, second)
        ]
        await asyncio.gather(*sends)
        await until(first.job_id, "admitted")
        await until(second.job_id, "rate_limited")
        await publisher.publish(COMMANDS, tenant, CancelJob(first.job_id, tenant, "make room"))
        await until(first.job_id, "canceled")
        await publisher.publish(COMMANDS, tenant, third)
        await until(third.job_id, "admitted")
    finally:
        await producer.stop()
        await events.stop()
        await inbox.stop()


async def _drain(
    events: AIOKafkaConsumer, inbox: AIOKafkaConsumer, serde: AvroSerde
) -> AsyncIterator[JobEvent | JobAdmitted]:
    pairs: tuple[tuple[AIOKafkaConsumer, Topic[Any]], ...] = ((events, JOB_EVENTS), (inbox, SCHEDULER_INBOX))
    for consumer, topic in pairs:
        batches = await consumer.getmany(timeout_ms=500)
        for records in batches.values():
            for record in records:
                value = await serde.deserialize(topic, record.value)
                if isinstance(value, JobEvent | JobAdmitted):
                    yield value
    await asyncio.sleep(0)
