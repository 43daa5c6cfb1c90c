"""The pool snapshot built from the scheduler's state, and when one is published (streams.pool_snapshot)."""

from __future__ import annotations

from datetime import timedelta

from schemas import events as ev
from streams.fair_queue import SchedulerPolicy
from streams.pool_snapshot import SnapshotThrottle, build_snapshot
from streams.scheduling import SchedulerState, apply
from tests.samples import T0, artifact
from tests.unit.streams.test_scheduling import admitted, heartbeat, run


def _busy_pool() -> SchedulerState:
    """Slot 3 renders t1's job a; t1's b and t2's c and d wait (slot 5 not seen yet)."""
    state, _ = run([admitted("a"), admitted("b"), admitted("c", "t2"), admitted("d", "t2"), heartbeat(3)])
    return state


def test_a_busy_slot_names_its_job_tenant_model_and_since_and_the_queue_is_counted_per_tenant() -> None:
    snapshot = build_snapshot(_busy_pool(), T0)
    (slot,) = snapshot.slots
    assert (slot.slot, slot.worker_id) == (3, "w3")
    assert slot.job == ev.PoolSlotJob(job_id="a", tenant_id="t1", model="tiny-mochi", attempt=1, since=T0)
    assert snapshot.queues == (ev.TenantQueue("t1", 1), ev.TenantQueue("t2", 2))
    assert (snapshot.pool_id, snapshot.occurred_at) == ("default", T0)


def test_a_gangs_job_shows_on_each_of_its_slots_naming_them_all_the_leader_first() -> None:
    policy = SchedulerPolicy(gang_max_slots=2)
    state = SchedulerState("default")
    for event in (heartbeat(1), heartbeat(2), admitted("a")):
        state, _ = apply(state, event, policy)
    snapshot = build_snapshot(state, T0)
    assert [
        (s.slot, s.job.job_id if s.job else None, s.job.gang if s.job else None) for s in snapshot.slots
    ] == [
        (1, "a", [1, 2]),
        (2, "a", [1, 2]),
    ]


def test_a_slot_whose_job_ended_is_idle_and_slots_come_in_index_order() -> None:
    state, _ = run([admitted("a"), heartbeat(3), heartbeat(1)])
    done = ev.RenderSucceeded(
        job_id="a", slot=3, attempt=1, artifact=artifact(), render_seconds=1.0, occurred_at=T0
    )
    state, _ = run([done], state)
    snapshot = build_snapshot(state, T0)
    assert [(s.slot, s.job) for s in snapshot.slots] == [(1, None), (3, None)]
    assert snapshot.queues == ()


def test_the_snapshot_never_carries_a_prompt() -> None:
    state, _ = run(
        [admitted("a", prompt="a secret prompt"), admitted("b", prompt="a secret prompt"), heartbeat(0)]
    )
    assert "secret" not in repr(build_snapshot(state, T0))


def test_the_first_snapshot_goes_out_at_once_then_only_changes_and_no_sooner_than_the_interval() -> None:
    throttle = SnapshotThrottle(timedelta(seconds=2))
    state = _busy_pool()
    first = throttle.due(state, T0)
    assert first is not None
    throttle.published(first, T0)
    assert throttle.due(state, T0 + timedelta(seconds=5)) is None  # unchanged
    changed, _ = run([admitted("e", "t3")], state)
    assert throttle.due(changed, T0 + timedelta(seconds=1)) is None  # too soon
    later = throttle.due(changed, T0 + timedelta(seconds=2))  # the change is offered again, and goes out
    assert later is not None
    assert ev.TenantQueue("t3", 1) in later.queues


def test_a_heartbeat_alone_is_no_change_and_an_unpublished_snapshot_is_offered_again() -> None:
    throttle = SnapshotThrottle(timedelta(0))
    state = _busy_pool()
    assert throttle.due(state, T0) is not None  # not marked published: a failed write is offered again
    first = throttle.due(state, T0)
    assert first is not None
    throttle.published(first, T0)
    beat = ev.WorkerHeartbeat(
        worker_id="w3",
        pool_id="default",
        slot=3,
        state=ev.WorkerState.BUSY,
        renderer="tiny-mochi",
        job_id="a",
        attempt=1,
        occurred_at=T0 + timedelta(seconds=3),
    )
    beaten, _ = run([beat], state)
    assert throttle.due(beaten, T0 + timedelta(seconds=3)) is None
    throttle.forget()  # a rebalance: published afresh
    assert throttle.due(beaten, T0 + timedelta(seconds=3)) is not None
