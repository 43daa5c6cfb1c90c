"""The status view on a scratch copy of the status topic: replay, catch-up, skipping, tombstones, waiters;
and a view restarted over its local store: it reads only what its checkpoint had not."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
from aiokafka import AIOKafkaProducer

from ingest.status_view import StatusView
from reelstream.endpoints import Endpoints
from reelstream.local_store import LocalStore, Namespace
from schemas.events import JobState, JobStatus, new_id
from schemas.serde import AvroSerde
from schemas.topics import JOB_STATUS, Topic
from tests.integration.ingest.support import raw_producer_of, scratch_copy, snapshot

DEADLINE = 20.0
ViewFactory = Callable[..., StatusView]


@pytest.fixture
async def scratch_topic(stack: Endpoints, topics: None) -> AsyncIterator[Topic[JobStatus]]:
    """A fresh compacted topic with the status contract, deleted afterwards."""
    async with scratch_copy(stack, JOB_STATUS, "status") as topic:
        yield topic


@pytest.fixture
async def raw_producer(stack: Endpoints) -> AsyncIterator[AIOKafkaProducer]:
    async with raw_producer_of(stack) as producer:
        yield producer


@pytest.fixture
async def view_factory(stack: Endpoints, serde: AvroSerde) -> AsyncIterator[ViewFactory]:
    """Views each over a fresh local store (`state`: over that one instead, as a restarted replica)."""
    views: list[StatusView] = []
    stores: list[LocalStore] = []

    def make(topic: Topic[JobStatus], state: Namespace | None = None, **kw: Any) -> StatusView:
        if state is None:
            stores.append(store := LocalStore(None, cache_bytes=8 * 2**20).open())
            state = store.namespace(b"status")
        view = StatusView(
            stack.kafka_bootstrap, serde, state, topic=topic, security=stack.kafka_security, **kw
        )
        views.append(view)
        return view

    yield make
    for view in views:
        await view.stop()
    for store in stores:
        store.close()


async def test_the_view_replays_history_keeps_the_newest_and_skips_what_it_cannot_decode(
    scratch_topic: Topic[JobStatus],
    raw_producer: AIOKafkaProducer,
    serde: AvroSerde,
    view_factory: ViewFactory,
    caplog: pytest.LogCaptureFixture,
) -> None:
    tenant, first, second, gone = "t-view", new_id(), new_id(), new_id()

    async def put(partition: int, key: str, value: bytes | None) -> None:
        await raw_producer.send_and_wait(scratch_topic.name, value, key=key.encode(), partition=partition)

    def encoded(status: JobStatus) -> bytes:
        return serde.serialize(JOB_STATUS, status)  # the same contract, so the same bytes

    await put(0, first, encoded(snapshot(first, tenant, JobState.QUEUED, 1, prompt="secret prompt")))
    await put(0, first, encoded(snapshot(first, tenant, JobState.RUNNING, 3, progress=0.5)))
    await put(0, first, b"not avro at all: secret payload")
    await put(0, first, encoded(snapshot(first, tenant, JobState.RUNNING, 2, progress=0.2)))  # stale
    await put(1, second, b"\x00\x7f\xff\xff\xf0" + b"\x00" * 8)  # names a schema id nobody registered
    await put(1, second, encoded(snapshot(second, tenant, JobState.QUEUED, 1)))
    await put(2, gone, encoded(snapshot(gone, tenant, JobState.FAILED, 4)))
    await put(2, gone, None)  # tombstone

    view = view_factory(scratch_topic)
    with caplog.at_level(logging.INFO, logger="ingest.status_view"):
        await view.start()
        assert not view.caught_up  # nothing consumed yet: positions are still at the beginning
        async with asyncio.timeout(DEADLINE):
            await view.wait_caught_up()

    shown = view.get(first)
    assert shown is not None
    assert (shown.state, shown.version, shown.progress) == (JobState.RUNNING, 3, 0.5)
    assert view.get(second) is not None
    assert view.get(gone) is None
    assert [j.job_id for j in view.page(tenant, 10, None)[0]] == sorted([first, second])  # same created_at

    skipped = [r for r in caplog.records if "undecodable" in r.getMessage()]
    assert sorted((r.partition, r.offset) for r in skipped) == [(0, 2), (1, 0)]  # type: ignore[attr-defined]
    assert all(r.topic == scratch_topic.name for r in skipped)  # type: ignore[attr-defined]
    assert "secret" not in caplog.text


async def test_an_empty_topic_is_caught_up_at_once_and_waiters_see_new_snapshots(
    scratch_topic: Topic[JobStatus],
    raw_producer: AIOKafkaProducer,
    serde: AvroSerde,
    view_factory: ViewFactory,
) -> None:
    view = view_factory(scratch_topic)
    await view.start()
    assert view.caught_up
    assert view.running
    job = new_id()
    with view.subscribe(job) as updates:
        for version in (1, 2):
            status = snapshot(job, "t-wait", JobState.QUEUED, version)
            await raw_producer.send_and_wait(
                scratch_topic.name, serde.serialize(JOB_STATUS, status), key=job.encode()
            )
        async with asyncio.timeout(DEADLINE):
            received = [await updates.get(), await updates.get()]
    assert [s.status.version for s in received] == [1, 2]


async def test_a_view_restarted_over_its_store_reads_only_the_records_after_its_checkpoint(
    scratch_topic: Topic[JobStatus],
    raw_producer: AIOKafkaProducer,
    serde: AvroSerde,
    view_factory: ViewFactory,
    tmp_path: Path,
) -> None:
    tenant = "t-restart"
    jobs = [new_id() for _ in range(6)]

    async def put(*statuses: JobStatus, gone: str | None = None) -> None:
        for status in statuses:
            raw = serde.serialize(JOB_STATUS, status)
            await raw_producer.send_and_wait(scratch_topic.name, raw, key=status.job_id.encode())
        if gone is not None:
            await raw_producer.send_and_wait(scratch_topic.name, None, key=gone.encode())

    await put(*(snapshot(job, tenant, JobState.QUEUED, 1) for job in jobs[:4]))
    await put(snapshot(jobs[0], tenant, JobState.RUNNING, 2))
    store = LocalStore(str(tmp_path / "state")).open()
    try:
        first = view_factory(scratch_topic, store.namespace(b"status"))
        await first.start()
        async with asyncio.timeout(DEADLINE):
            await first.wait_caught_up()
        assert first.records_read == 5
        await first.stop()
        # while it is down: an update, two new jobs, a tombstone
        await put(
            snapshot(jobs[1], tenant, JobState.RUNNING, 2),
            *(snapshot(j, tenant, JobState.QUEUED, 1) for j in jobs[4:]),
            gone=jobs[2],
        )
        second = view_factory(scratch_topic, store.namespace(b"status"))
        await second.start()
        async with asyncio.timeout(DEADLINE):
            await second.wait_caught_up()
        assert second.records_read == 4  # the new records only, not the 5 before them
        listed = [j.job_id for j in second.page(tenant, 10, None)[0]]
        assert listed == sorted(set(jobs) - {jobs[2]})
        states = {job: (s.state, s.version) for job in listed if (s := second.get(job)) is not None}
        assert states[jobs[0]] == (JobState.RUNNING, 2)  # kept from before the restart
        assert states[jobs[1]] == (JobState.RUNNING, 2)  # updated while it was down
        assert second.get(jobs[2]) is None
        await second.stop()
        # a checkpoint too old to trust (a tombstone may have been compacted away): replayed from scratch
        stale = view_factory(scratch_topic, store.namespace(b"status"), max_age=1e-6)
        await stale.start()
        async with asyncio.timeout(DEADLINE):
            await stale.wait_caught_up()
        assert stale.records_read == 9
        assert [j.job_id for j in stale.page(tenant, 10, None)[0]] == listed
        await stale.stop()
    finally:
        store.close()


async def test_a_checkpoint_past_the_topics_end_is_discarded_and_the_topic_replayed(
    scratch_topic: Topic[JobStatus],
    raw_producer: AIOKafkaProducer,
    serde: AvroSerde,
    view_factory: ViewFactory,
) -> None:
    """The store outlived its topic (a recreated cluster): nothing of it is shown, the topic is replayed."""
    store = LocalStore(None).open()
    try:
        state = store.namespace(b"status")
        old = snapshot(new_id(), "t-old", JobState.QUEUED, 1)
        state.batch().commit({0: 1000}, at_micros=time.time_ns() // 1000)
        kept = view_factory(scratch_topic, state)
        kept.apply(old, raw=serde.serialize(JOB_STATUS, old), local=True)  # written at once
        job = snapshot(new_id(), "t-new", JobState.QUEUED, 1)
        await raw_producer.send_and_wait(
            scratch_topic.name, serde.serialize(JOB_STATUS, job), key=job.job_id.encode(), partition=0
        )
        view = view_factory(scratch_topic, state)
        await view.start()
        async with asyncio.timeout(DEADLINE):
            await view.wait_caught_up()
        assert view.records_read == 1
        assert view.get(old.job_id) is None
        assert view.get(job.job_id) is not None
        await view.stop()
    finally:
        store.close()
