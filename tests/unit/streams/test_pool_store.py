"""The scheduler state over a pool table and a jobs table: a fresh reader finds what was saved."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from streams.pool_store import PoolStore
from streams.scheduling import InboxEvent, SchedulerState, apply, dump_state
from tests.unit.streams.test_scheduling import _finish, admitted, event_strategy, heartbeat


class CountingTable(dict[bytes, bytes]):
    def __init__(self) -> None:
        super().__init__()
        self.writes: list[bytes] = []

    def __setitem__(self, key: bytes, value: bytes) -> None:
        self.writes.append(key)
        super().__setitem__(key, value)


def test_only_changed_jobs_are_rewritten_and_finished_ones_deleted() -> None:
    pools: dict[bytes, bytes] = {}
    jobs = CountingTable()
    store = PoolStore(pools, jobs)
    state = store.load("default")
    for offset, event in enumerate([admitted("a"), admitted("b"), admitted("c")]):
        state, _ = apply(state, event)
        store.save(state, revision=offset)
    assert set(jobs) == {b"default/a", b"default/b", b"default/c"}
    jobs.writes.clear()
    state, _ = apply(store.load("default"), admitted("d"))  # joins the end: nobody else moves
    store.save(state, revision=3)
    assert jobs.writes == [b"default/d"]
    state, _ = apply(store.load("default"), heartbeat(0))
    state, _ = apply(state, _finish("a", 0))
    store.save(state, revision=4)
    assert b"default/a" not in jobs
    assert PoolStore(pools, jobs).load("default") == state


def test_a_pool_record_written_elsewhere_is_read_back_from_the_tables() -> None:
    pools: dict[bytes, bytes] = {}
    jobs: dict[bytes, bytes] = {}
    mine, theirs = PoolStore(pools, jobs), PoolStore(pools, jobs)
    state, _ = apply(mine.load("default"), admitted("a"))
    mine.save(state, revision=0)
    other, _ = apply(theirs.load("default"), admitted("b"))  # another instance after a rebalance
    theirs.save(other, revision=1)
    assert mine.load("default") == other


def test_a_state_in_the_single_record_format_is_read_and_moved_to_the_jobs_table() -> None:
    state, _ = apply(SchedulerState("default"), admitted("a"))
    pools, jobs = {b"default": dump_state(state)}, {}
    store = PoolStore(pools, jobs)
    assert store.load("default") == state
    later, _ = apply(state, admitted("b"))
    store.save(later, revision=7)
    assert set(jobs) == {b"default/a", b"default/b"}
    assert PoolStore(pools, jobs).load("default") == later


@settings(max_examples=100)
@given(st.lists(event_strategy, max_size=30))
def test_whatever_happens_a_fresh_reader_sees_the_saved_state(events: list[InboxEvent]) -> None:
    pools: dict[bytes, bytes] = {}
    jobs: dict[bytes, bytes] = {}
    store = PoolStore(pools, jobs)
    for offset, event in enumerate(events):
        state, _ = apply(store.load("default"), event)
        store.save(state, revision=offset)
        assert PoolStore(pools, jobs).load("default") == state
        assert all(key.decode().split("/", 1)[1] in state.jobs for key in jobs)


def test_the_revision_tells_two_equal_states_apart() -> None:
    pools: dict[bytes, bytes] = {}
    store = PoolStore(pools, {})
    store.save(SchedulerState("default"), revision=1)
    first = pools[b"default"]
    store.save(SchedulerState("default"), revision=2)
    assert pools[b"default"] != first
