"""The pool's state as per-job table entries: restored exactly, written only where an event changed it, and
a crash between an event's writes restores the state before that event."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from schemas.events import InboxEvent, WorkerState
from streams.inbox_order import InboxOrder, inbox_order
from streams.pool_store import (
    PoolImage,
    Write,
    index_key,
    job_key,
    persist,
    restore,
)
from streams.scheduling import DEFAULT_POLICY, SchedulerState, apply, apply_noting_changes, dump_state
from tests.samples import T0
from tests.unit.streams.test_scheduling import admitted, event_strategy, heartbeat

Table = dict[bytes, bytes]
SECOND = timedelta(seconds=1)


def write(table: Table, writes: list[Write]) -> None:
    for key, value in writes:
        if value is None:
            table.pop(key, None)
        else:
            table[key] = value


def restored(table: Table) -> PoolImage:
    image, repairs = restore("default", table.items())
    write(table, repairs)
    return image


def assert_same(a: SchedulerState, b: SchedulerState) -> None:
    assert a == b
    assert list(a.jobs) == list(b.jobs)  # the order `apply` iterates them in
    assert a.finished == b.finished


@settings(max_examples=150)
@given(st.lists(event_strategy, max_size=40))
def test_a_restore_gives_back_the_state_after_every_event(events: list[InboxEvent]) -> None:
    table: Table = {}
    image = restored(table)
    for offset, event in enumerate(events):
        state, _, changed = apply_noting_changes(image.state, event)
        # the jobs `apply` says it changed are all there is to store: the same writes as comparing every job
        assert persist(image, state, offset, changed) == persist(image, state, offset)
        image, writes = persist(image, state, offset, changed)
        write(table, writes)
        back = restored(table)
        assert_same(back.state, state)
        if writes:  # the offset travels with the index; an event that writes nothing leaves it behind
            assert back.offset == offset


def test_the_inbox_position_decides_what_is_applied() -> None:
    assert inbox_order(None, 57) is InboxOrder.NEXT  # nothing known yet: whatever comes first
    assert inbox_order(-1, 0) is InboxOrder.NEXT  # the log's first record
    assert inbox_order(-1, 3) is InboxOrder.AHEAD
    assert inbox_order(41, 42) is InboxOrder.NEXT
    assert inbox_order(41, 41) is InboxOrder.SEEN  # redelivered after a restart
    assert inbox_order(41, 7) is InboxOrder.SEEN
    assert inbox_order(41, 43) is InboxOrder.AHEAD  # 42 was never handed over


def test_a_record_consumed_without_writing_moves_the_offset_in_memory_only() -> None:
    table: Table = {}
    image, writes = persist(restored(table), apply(SchedulerState("default"), admitted("a"))[0], offset=5)
    write(table, writes)
    image = image.at(6)  # e.g. a dead letter
    assert (image.offset, restored(table).offset) == (6, 5)
    assert image.at(3).offset == 6  # never backwards
    image, writes = persist(image, apply(image.state, admitted("b"))[0], offset=7)
    write(table, writes)
    assert restored(table).offset == 7


@settings(max_examples=150)
@given(st.lists(event_strategy, min_size=1, max_size=30), st.data())
def test_a_crash_between_an_events_writes_restores_the_state_before_it(
    events: list[InboxEvent], data: st.DataObject
) -> None:
    table: Table = {}
    image = restored(table)
    *earlier, last = events
    for event in earlier:
        image, writes = persist(image, apply(image.state, event)[0])
        write(table, writes)
    before = image.state
    image, writes = persist(image, apply(before, last)[0])
    # the index (written last) never arrived; an event that changed nothing writes nothing
    write(table, writes[: data.draw(st.integers(0, max(0, len(writes) - 1)))])
    again = restored(table)
    assert_same(again.state, before)
    # the inbox redelivers the event (or not, when its offset was committed), then others: the table now
    # agrees with memory throughout
    redelivered = (last,) if data.draw(st.booleans()) else ()
    for event in (*redelivered, *earlier[-3:]):
        again, writes = persist(again, apply(again.state, event)[0])
        write(table, writes)
        assert_same(restored(table).state, again.state)


def test_an_event_at_a_thousand_queued_jobs_writes_only_what_it_touched() -> None:
    table: Table = {}
    image = restored(table)
    for i in range(1000):
        image, writes = persist(image, apply(image.state, admitted(f"job-{i}"))[0])
        write(table, writes)
    # a slot appears: one dispatch, and the refreshed head of the queue moves up one place
    image, writes = persist(image, apply(image.state, heartbeat(0))[0])
    keys = [key for key, _ in writes]
    assert keys[-1] == index_key("default")
    assert job_key("default", "job-0") in keys
    assert len(keys) <= DEFAULT_POLICY.refresh_limit + 2
    # the busy slot's next heartbeat renews a lease and changes no job: the index alone
    beat = replace(heartbeat(0), state=WorkerState.BUSY, job_id="job-0", attempt=1, occurred_at=T0 + SECOND)
    image, writes = persist(image, apply(image.state, beat)[0])
    assert [key for key, _ in writes] == [index_key("default")]
    assert len(writes[0][1] or b"") * 100 < len(dump_state(image.state))


def test_a_whole_state_value_is_upgraded_on_the_first_write() -> None:
    state = SchedulerState("default")
    for event in (admitted("a"), admitted("b"), heartbeat(0)):
        state, _ = apply(state, event)
    table: Table = {index_key("default"): dump_state(state)}
    image = restored(table)
    assert_same(image.state, state)
    state, _ = apply(image.state, admitted("c"))
    image, writes = persist(image, state)
    write(table, writes)
    assert {job_key("default", j) for j in "abc"} <= set(table)
    assert_same(restored(table).state, state)
