"""The scheduler as a plain service: inbox events in, records and table entries out (no Kafka, no Faust)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import timedelta

import pytest

from reelstream.errors import InvalidRecordError
from schemas import events as ev
from schemas.topics import JOB_STATUS, RENDER_DISPATCH
from streams.fair_queue import SchedulerPolicy
from streams.inbox_order import InboxOrder
from streams.pool_store import Write
from streams.scheduler_service import CATCH_UP_ALLOWANCE, SchedulerService
from tests.samples import T0
from tests.unit.streams.test_scheduling import admitted, heartbeat, tick

TRACE = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"


class DictTable:
    """The PoolTable port over a dict, the way the changelog-backed table stores entries."""

    def __init__(self) -> None:
        self.entries: dict[bytes, bytes] = {}

    def items(self) -> Iterable[tuple[bytes, bytes]]:
        return list(self.entries.items())

    def write(self, writes: Sequence[Write]) -> None:
        for key, value in writes:
            if value is None:
                self.entries.pop(key, None)
            else:
                self.entries[key] = value


def feed(service: SchedulerService, events: list[ev.InboxEvent], table: DictTable, first: int = 0) -> None:
    """Apply `events` at consecutive offsets, storing what each decided (as the writer would)."""
    for offset, event in enumerate(events, start=first):
        applied = service.decide("default", event, offset, event.occurred_at, None)
        table.write(applied.decided.writes)
        service.consumed("default", offset)


def test_an_admitted_job_on_an_idle_slot_is_dispatched_with_its_snapshot_and_trace() -> None:
    table = DictTable()
    service = SchedulerService(SchedulerPolicy(), table)
    feed(service, [heartbeat(0)], table)
    applied = service.decide("default", admitted("a"), 1, T0, TRACE)
    topics = [r.topic for r in applied.decided.first]
    assert RENDER_DISPATCH in topics
    assert JOB_STATUS in topics
    assert {r.trace for r in applied.decided.first} == {TRACE}
    assert applied.decided.writes  # the job's entry and the pool's index
    assert applied.state.slots[0].job_id == "a"


def test_records_are_ordered_against_the_offset_applied_last() -> None:
    table = DictTable()
    service = SchedulerService(SchedulerPolicy(), table)
    assert service.order("default", 7) == InboxOrder.NEXT  # nothing known yet: take what comes
    feed(service, [heartbeat(0), admitted("a")], table)
    assert service.order("default", 1) == InboxOrder.SEEN
    assert service.order("default", 2) == InboxOrder.NEXT
    assert service.order("default", 5) == InboxOrder.AHEAD


def test_a_forgotten_state_is_restored_from_the_table_as_it_was() -> None:
    table = DictTable()
    service = SchedulerService(SchedulerPolicy(), table)
    feed(service, [heartbeat(0), admitted("a"), admitted("b"), tick(1)], table)
    before = service.image("default")
    service.forget()
    after = service.image("default")
    assert after.offset == before.offset == 3
    assert after.state.queue == before.state.queue == ["b"]
    assert after.state.slots[0].job_id == "a"


def test_a_consumed_record_moves_the_offset_without_changing_the_state() -> None:
    table = DictTable()
    service = SchedulerService(SchedulerPolicy(), table)
    feed(service, [heartbeat(0)], table)
    state = service.image("default").state
    service.consumed("default", 4)  # e.g. parked as a dead letter
    assert service.image("default").offset == 4
    assert service.image("default").state is state


def test_an_event_read_long_after_it_happened_is_applied_as_of_now_less_the_allowance() -> None:
    service = SchedulerService(SchedulerPolicy(), DictTable())
    now = T0 + timedelta(minutes=10)
    applied = service.decide("default", admitted("a"), 0, now, None)
    [queued] = [r.value for r in applied.decided.first if r.topic == JOB_STATUS]
    assert isinstance(queued, ev.JobStatus)
    assert queued.updated_at == now - CATCH_UP_ALLOWANCE


def test_an_event_of_another_pool_is_an_invalid_record() -> None:
    service = SchedulerService(SchedulerPolicy(), DictTable())
    with pytest.raises(InvalidRecordError):
        service.decide("other", admitted("a"), 0, T0, None)
