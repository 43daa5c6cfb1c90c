"""The scheduler state over a pool table and a jobs table: a fresh reader finds what was saved, also after
a crash halfway through a save."""

from __future__ import annotations

import pytest
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


class Crash(Exception):
    pass


class DyingTables:
    """A pool table and a jobs table that stop taking writes (and deletes) after `budget` of them."""

    def __init__(self, budget: int) -> None:
        self.budget = budget
        self.pools, self.jobs = self.Table(self), self.Table(self)

    class Table(dict[bytes, bytes]):
        def __init__(self, owner: DyingTables) -> None:
            super().__init__()
            self.owner = owner

        def _spend(self) -> None:
            if self.owner.budget <= 0:
                raise Crash
            self.owner.budget -= 1

        def __setitem__(self, key: bytes, value: bytes) -> None:
            self._spend()
            super().__setitem__(key, value)

        def __delitem__(self, key: bytes) -> None:
            self._spend()
            super().__delitem__(key)


def job_ids(keys: object) -> set[str]:
    return {key.decode().split("/", 1)[1].split("@")[0] for key in keys}  # type: ignore[attr-defined]


def test_only_changed_jobs_are_rewritten_and_finished_ones_deleted() -> None:
    pools: dict[bytes, bytes] = {}
    jobs = CountingTable()
    store = PoolStore(pools, jobs)
    state = store.load("default")
    for offset, event in enumerate([admitted("a"), admitted("b"), admitted("c")]):
        state, _ = apply(state, event)
        store.save(state, revision=offset)
    assert set(jobs) == {b"default/a@0", b"default/b@1", b"default/c@2"}
    jobs.writes.clear()
    state, _ = apply(store.load("default"), admitted("d"))  # joins the end: nobody else moves
    store.save(state, revision=3)
    assert jobs.writes == [b"default/d@3"]
    state, _ = apply(store.load("default"), heartbeat(0))
    state, _ = apply(state, _finish("a", 0))
    store.save(state, revision=4)
    assert "a" not in job_ids(jobs)
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
    assert job_ids(jobs) == {"a", "b"}
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
        assert sorted(job_ids(jobs)) == sorted(state.jobs)  # one version of each job, nothing else


def test_the_revision_tells_two_equal_states_apart() -> None:
    pools: dict[bytes, bytes] = {}
    store = PoolStore(pools, {})
    store.save(SchedulerState("default"), revision=1)
    first = pools[b"default"]
    store.save(SchedulerState("default"), revision=2)
    assert pools[b"default"] != first


@settings(max_examples=60)
@given(st.lists(event_strategy, min_size=1, max_size=20), st.data())
def test_a_crash_anywhere_in_a_save_leaves_the_state_before_it(
    events: list[InboxEvent], data: st.DataObject
) -> None:
    tables = DyingTables(budget=10**9)
    store = PoolStore(tables.pools, tables.jobs)
    *before, last = events
    state = store.load("default")
    for offset, event in enumerate(before):
        state, _ = apply(state, event)
        store.save(state, revision=offset)
    after, _ = apply(state, last)
    tables.budget = data.draw(st.integers(min_value=0, max_value=len(after.jobs) + len(state.jobs) + 1))
    try:
        store.save(after, revision=len(before))
        crashed = False
    except Crash:
        crashed = True
    tables.budget = 10**9
    restarted = PoolStore(tables.pools, tables.jobs)  # a new process reads the tables
    recovered = restarted.load("default")
    if crashed and not restarted.applied("default", len(before)):
        assert recovered == state  # the event is redelivered and applied to exactly this
        recovered, _ = apply(recovered, last)
        restarted.save(recovered, revision=len(before))
    assert recovered == after
    assert sorted(job_ids(tables.jobs)) == sorted(after.jobs)


def test_an_event_already_in_the_stored_state_is_known_as_applied() -> None:
    pools: dict[bytes, bytes] = {}
    jobs: dict[bytes, bytes] = {}
    state, _ = apply(PoolStore(pools, jobs).load("default"), admitted("a"))
    PoolStore(pools, jobs).save(state, revision=5)
    fresh = PoolStore(pools, jobs)
    fresh.load("default")
    assert fresh.applied("default", 5)
    assert not fresh.applied("default", 6)


def test_a_missing_job_version_is_a_named_error_not_a_lost_job() -> None:
    from streams.pool_store import PoolStateCorrupt

    pools: dict[bytes, bytes] = {}
    jobs: dict[bytes, bytes] = {}
    store = PoolStore(pools, jobs)
    state, _ = apply(store.load("default"), admitted("a"))
    store.save(state, revision=0)
    jobs.clear()
    with pytest.raises(PoolStateCorrupt, match="job a version 0"):
        PoolStore(pools, jobs).load("default")
