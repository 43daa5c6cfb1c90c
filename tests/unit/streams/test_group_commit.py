"""The scheduler's group commit: what events decided is written in batches, in order, snapshots and dispatches
before events and events before the table; a refused batch is written again whole; a rebalance drops what
is not written. The broker here is a list of queued records whose acks the test resolves (the real broker
is in the scheduler's integration and fault tests)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from aiokafka.errors import KafkaTimeoutError

from reelstream.kafka.clients import Publisher
from schemas import events as ev
from schemas.errors import SerializationError
from schemas.serde import AvroSerde
from schemas.topics import COMMANDS, JOB_EVENTS, JOB_STATUS, RENDER_DISPATCH
from streams.group_commit import Decided, GroupCommit, WriterCrashed, decided
from streams.pool_store import Write
from streams.scheduling import Publish, SendToSlot
from tests.kafka_clients import MemoryRegistry
from tests.samples import job_status, render_params

DEADLINE = 5.0


@dataclass
class Broker:
    """Records queued by the publisher, each with the ack the test resolves."""

    queued: list[tuple[str, bytes | None, asyncio.Future[Any]]] = field(default_factory=list)

    async def enqueue(
        self, topic: str, key: bytes, value: bytes | None, partition: int | None, headers: Any
    ) -> asyncio.Future[Any]:
        ack: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self.queued.append((topic, value, ack))
        return ack

    def topics(self) -> list[str]:
        return [topic.split(".")[-1] for topic, _, _ in self.queued]

    def values(self, topic: str) -> list[bytes | None]:
        return [value for name, value, _ in self.queued if name == topic]

    def ack_all(self, error: Exception | None = None) -> None:
        for _, _, ack in self.queued:
            if not ack.done():
                ack.set_exception(error) if error else ack.set_result(None)


async def until(predicate: Any) -> None:
    """Turns of the loop until `predicate` holds (the writer is a task on this loop), within a deadline."""
    async with asyncio.timeout(DEADLINE):
        while not predicate():  # noqa: ASYNC110 - a condition on the code under test, not an event of ours
            await asyncio.sleep(0)


@pytest.fixture
async def broker() -> Broker:
    return Broker()


@pytest.fixture
async def publisher(broker: Broker) -> Publisher:
    serde = AvroSerde(MemoryRegistry())
    await serde.register(JOB_STATUS, JOB_EVENTS, RENDER_DISPATCH)

    async def send_and_wait(*args: Any) -> Any:
        raise AssertionError("the group commit queues records; it never waits for one at a time")

    return Publisher(send_and_wait, serde, enqueue_with=broker.enqueue)


def changed(job_id: str, version: int, table: str) -> Decided:
    """An event that moved `job_id` to `version` (one snapshot + one event) and wrote `table`."""
    status = job_status(job_id=job_id, version=version, state=ev.JobState.QUEUED)
    return decided([Publish(status, ev.JobEventType.QUEUED)], [None], [(table.encode(), b"state")])


def dispatched(job_id: str) -> Decided:
    status = job_status(job_id=job_id, version=2, state=ev.JobState.DISPATCHED)
    command = ev.DispatchRender(
        job_id=job_id,
        slot=3,
        attempt=1,
        tenant_id="t1",
        prompt="p",
        params=render_params(),
        artifact_key=f"t1/{job_id}/1/video.mp4",
    )
    outputs = [Publish(status, ev.JobEventType.DISPATCHED), SendToSlot(command)]
    return decided(outputs, [None, None], [(b"index", b"after dispatch")])


def test_a_job_that_finished_is_announced_to_admission_after_its_event() -> None:
    states = (ev.JobState.QUEUED, ev.JobState.SUCCEEDED, ev.JobState.CANCELED, ev.JobState.FAILED)
    for state in states:
        status = job_status(job_id="j1", tenant_id="t7", version=3, state=state)
        out = decided([Publish(status, ev.JobEventType.QUEUED)], [None], [])
        assert [r.topic for r in out.then] == [JOB_EVENTS] + ([COMMANDS] if state.terminal else [])
        if state.terminal:
            [_, finished] = out.then
            assert finished.key == "t7"  # the tenant's partition of the commands topic: admission's shard
            assert finished.value == ev.JobFinished(
                "j1",
                "t7",
                state,
                model=status.params.model if status.params else None,
                started=False,  # no attempt ran (its state times hold no `running`)
                event_id=finished.value.event_id,
                occurred_at=status.updated_at,
            )


def test_a_finished_job_carries_the_estimators_verdict_and_the_renders_time() -> None:
    started = datetime(2026, 1, 1, tzinfo=UTC)
    times = {"running": started, "succeeded": started + timedelta(seconds=150)}
    status = job_status(
        job_id="j1", state=ev.JobState.SUCCEEDED, state_times=times, predicted_long=True, long_probability=0.8
    )
    [_, finished] = decided([Publish(status, ev.JobEventType.SUCCEEDED)], [None], []).then
    assert (finished.value.predicted_long, finished.value.render_seconds) == (True, 150.0)
    failed = replace(status, state=ev.JobState.FAILED, state_times={"running": started})
    [_, finished] = decided([Publish(failed, ev.JobEventType.FAILED)], [None], []).then
    assert finished.value.render_seconds is None  # only a successful render tells the truth
    unscored = replace(status, long_probability=None)
    [_, finished] = decided([Publish(unscored, ev.JobEventType.SUCCEEDED)], [None], []).then
    assert finished.value.predicted_long is None  # admitted before the estimator: no verdict to judge


class Committer(GroupCommit):
    """A group commit whose durable table entries the test collects as the agent would write them."""

    def __init__(self, publisher: Publisher, **kw: Any) -> None:
        async def get() -> Publisher:
            return publisher

        super().__init__(get, **kw)
        self.table: list[Write] = []

    def collect(self) -> list[Write]:
        self.table += self.durable()
        return self.table


async def test_snapshots_and_dispatches_are_acknowledged_before_events_and_events_before_the_table(
    broker: Broker, publisher: Publisher
) -> None:
    commit = Committer(publisher)
    await commit.hand(dispatched("a"))
    await until(lambda: len(broker.queued) == 2)
    assert broker.topics() == ["status", "dispatch"]  # no event before its snapshot is in
    broker.ack_all()
    await until(lambda: len(broker.queued) == 3)
    assert broker.topics()[-1] == "events"
    assert commit.collect() == []  # nor the state before its outputs are
    broker.ack_all()
    assert await commit.drained(DEADLINE)
    assert commit.collect() == [(b"index", b"after dispatch")]


async def test_events_decided_while_a_batch_is_in_flight_go_out_together_in_order(
    broker: Broker, publisher: Publisher
) -> None:
    commit = Committer(publisher)
    await commit.hand(changed("a", 1, "a1"))
    await until(lambda: len(broker.queued) == 1)
    for n in range(2, 5):  # decided while the first batch waits for the broker: no waiting here
        await commit.hand(changed("a", n, f"a{n}"))
    assert commit.pending == 3
    while not await commit.drained(0.01):
        broker.ack_all()
        await asyncio.sleep(0)
    assert commit.batches == 2
    assert len(broker.values(JOB_STATUS.name)) == 4
    assert [k for k, _ in commit.collect()] == [b"a1", b"a2", b"a3", b"a4"]


async def test_a_batch_the_broker_refuses_is_written_again_whole_with_the_same_event_ids(
    broker: Broker, publisher: Publisher
) -> None:
    commit = Committer(publisher, first_wait=0.01)
    await commit.hand(changed("a", 1, "a1"))
    await until(lambda: len(broker.queued) == 1)
    broker.ack_all()
    await until(lambda: len(broker.queued) == 2)
    broker.ack_all(KafkaTimeoutError())  # the event is refused: the whole batch again, after a backoff
    await until(lambda: len(broker.queued) == 3)
    assert commit.collect() == []
    broker.ack_all()
    await until(lambda: len(broker.queued) == 4)
    broker.ack_all()
    assert await commit.drained(DEADLINE)
    assert broker.topics() == ["status", "events", "status", "events"]
    first, again = broker.values(JOB_EVENTS.name)
    assert first == again  # the same event id: made once, when decided
    assert commit.collect() == [(b"a1", b"state")]  # once, after the batch got through


async def test_a_rebalance_drops_what_is_not_written_and_a_batch_in_flight_writes_no_table_entry(
    broker: Broker, publisher: Publisher
) -> None:
    commit = Committer(publisher)
    await commit.hand(changed("a", 0, "written, not in the table yet"))
    while not await commit.drained(0.01):
        broker.ack_all()
    await commit.hand(changed("a", 1, "in flight"))
    await until(lambda: len(broker.queued) == 3)
    await commit.hand(changed("b", 1, "pending"))
    commit.drop()
    assert commit.pending == 0
    broker.ack_all()
    await until(lambda: len(broker.queued) == 4)
    broker.ack_all()
    assert await commit.drained(DEADLINE)
    assert commit.collect() == []
    await commit.hand(changed("c", 1, "after"))  # the pool's next events are written as before
    while not await commit.drained(0.01):
        broker.ack_all()
    assert commit.collect() == [(b"after", b"state")]


async def test_handing_over_waits_while_most_pending_events_are_not_written(
    broker: Broker, publisher: Publisher
) -> None:
    commit = Committer(publisher, most_pending=2)
    await commit.hand(changed("a", 1, "a1"))
    await until(lambda: len(broker.queued) == 1)  # in flight: not pending any more
    await commit.hand(changed("b", 1, "b1"))
    await commit.hand(changed("c", 1, "c1"))
    blocked = asyncio.create_task(commit.hand(changed("d", 1, "d1")))
    for _ in range(10):  # turns of the loop: the task runs until it waits for room
        await asyncio.sleep(0)
    assert not blocked.done()
    assert commit.pending == 2
    broker.ack_all()
    await until(lambda: len(broker.queued) == 2)
    broker.ack_all()
    await asyncio.wait_for(blocked, DEADLINE)  # the writer took the pending batch: room again
    while not await commit.drained(0.01):
        broker.ack_all()
    assert [k for k, _ in commit.collect()] == [b"a1", b"b1", b"c1", b"d1"]


async def test_a_writer_that_crashes_is_reported_once_and_the_next_events_get_a_new_one(
    broker: Broker, publisher: Publisher
) -> None:
    """A bug in writing (here: a record the serde refuses) must not leave events piling up unwritten: the
    next hand-over raises WriterCrashed (the scheduler then restores the pool from its table) and the
    events after it are written by a fresh writer."""
    commit = Committer(publisher)
    bad = changed("a", 1, "never")
    unfit = replace(bad.first[0], topic=COMMANDS)  # a JobStatus is not a value of the commands topic
    await commit.hand(replace(bad, first=(unfit,)))
    await until(lambda: commit.pending == 0)  # taken: the writer crashed on it without a pause
    with pytest.raises(WriterCrashed) as crashed:
        await commit.hand(changed("b", 1, "dropped"))
    assert isinstance(crashed.value.__cause__, SerializationError)
    assert commit.pending == 0
    await commit.hand(changed("c", 1, "after"))
    while not await commit.drained(0.01):
        broker.ack_all()
    assert commit.collect() == [(b"after", b"state")]
