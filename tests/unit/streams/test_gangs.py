"""Gangs (streams/gang.py): one job's attempt on several slots at once, reserved in one step from slots idle
now, and ended for all its members by any member's failure, silence or lease expiry."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from typing import Any

from schemas import events as ev
from streams.fair_queue import SchedulerPolicy
from streams.gang import power_of_two_at_most
from streams.scheduling import Output, SchedulerState, SendToSlot, apply
from tests.samples import T0, artifact
from tests.unit.streams.test_scheduling import admitted, dispatches, heartbeat, statuses

GANGS = SchedulerPolicy(gang_max_slots=4, max_slot_share=0.5)


def run(
    events: list[ev.InboxEvent], state: SchedulerState | None = None, policy: SchedulerPolicy = GANGS
) -> tuple[SchedulerState, list[Output]]:
    state = state or SchedulerState("default")
    outputs: list[Output] = []
    for event in events:
        state, out = apply(state, event, policy)
        outputs += out
    return state, outputs


def cancels(outputs: list[Output]) -> list[ev.CancelRender]:
    return [
        o.command for o in outputs if isinstance(o, SendToSlot) and isinstance(o.command, ev.CancelRender)
    ]


def slots(n: int) -> list[ev.InboxEvent]:
    return [heartbeat(s) for s in range(n)]


def held(state: SchedulerState) -> dict[int, str | None]:
    return {s.slot: s.job_id for s in state.slots.values()}


def failed(job: str, slot: int, attempt: int = 1, retriable: bool = True, at: float = 0) -> ev.RenderFailed:
    error = ev.ErrorInfo("gang_member_lost", "a member left", retriable)
    return ev.RenderFailed(
        job_id=job, slot=slot, attempt=attempt, error=error, occurred_at=T0 + timedelta(seconds=at)
    )


def report(kind: type[Any], job: str, slot: int, attempt: int = 1, **kw: Any) -> Any:
    return kind(job_id=job, slot=slot, attempt=attempt, occurred_at=T0, **kw)


def test_gang_sizes_are_the_largest_power_of_two_that_fits() -> None:
    assert [power_of_two_at_most(n) for n in range(1, 10)] == [1, 2, 2, 4, 4, 4, 4, 8, 8]


def test_a_lone_job_takes_every_spare_idle_slot_as_one_gang_led_by_the_first() -> None:
    state, out = run([*slots(4), admitted("a")])
    gang = dispatches(out)
    assert [(d.slot, d.gang_rank, d.gang_size, d.gang_leader_slot) for d in gang] == [
        (0, 0, 4, 0),
        (1, 1, 4, 0),
        (2, 2, 4, 0),
        (3, 3, 4, 0),
    ]
    assert {d.attempt for d in gang} == {1}
    assert len({d.lease_expires_at for d in gang}) == 1
    assert statuses(out, "a")[-1].slot == 0  # the leader is the job's slot
    assert held(state) == {0: "a", 1: "a", 2: "a", 3: "a"}


def test_each_waiting_job_keeps_an_idle_slot_only_the_spare_ones_widen_a_gang() -> None:
    _, out = run([admitted("a"), admitted("b"), admitted("c"), *slots(4)])
    sizes = {d.job_id: d.gang_size for d in dispatches(out) if d.gang_rank == 0}
    assert sizes == {"a": 1, "b": 1, "c": 1}  # the slots came one by one, each wanted by a waiting job
    _, out = run([*slots(4), admitted("a"), admitted("b"), admitted("c")])
    sizes = {d.job_id: d.gang_size for d in dispatches(out) if d.gang_rank == 0}
    assert sizes == {"a": 4}  # alone when it came: it takes the pool; b and c wait for it
    _, out = _freed_together([admitted("a"), admitted("b")])
    assert sorted((d.job_id, d.gang_size) for d in dispatches(out) if d.gang_rank == 0) == [
        ("a", 2),
        ("b", 2),
    ]


def _freed_together(queued: list[ev.InboxEvent]) -> tuple[SchedulerState, list[Output]]:
    """`queued` admitted while job x held the pool's four slots as one gang, then x succeeded: the four
    slots are idle at once with those jobs waiting."""
    state, _ = run([*slots(4), admitted("x", tenant="x")])
    assert held(state) == {0: "x", 1: "x", 2: "x", 3: "x"}
    state, _ = run(queued, state)
    done = report(ev.RenderSucceeded, "x", 0, artifact=artifact(), render_seconds=1.0)
    return run([done], state)


def test_gangs_off_with_one_slot_at_most() -> None:
    _, out = run([admitted("a"), *slots(4)], policy=SchedulerPolicy(gang_max_slots=1))
    assert [(d.slot, d.gang_size, d.gang_leader_slot) for d in dispatches(out)] == [(0, 1, None)]


def test_a_low_latency_job_takes_its_gang_while_others_wait_but_only_its_tenants_share() -> None:
    fast = admitted("f", tenant="fast", max_gang_slots=4)
    waiting = [admitted("b1", tenant="b"), admitted("b2", tenant="b")]
    _, out = _freed_together([fast, *waiting])  # share 0.5 of 4 slots: 2 for "fast" while b waits
    assert sorted((d.job_id, d.slot, d.gang_size) for d in dispatches(out)) == [
        ("b1", 2, 1),
        ("b2", 3, 1),
        ("f", 0, 2),
        ("f", 1, 2),
    ]
    _, out = _freed_together([admitted("f", tenant="fast", max_gang_slots=2), admitted("g")])
    assert sorted((d.job_id, d.gang_size) for d in dispatches(out) if d.gang_rank == 0) == [
        ("f", 2),
        ("g", 2),
    ]


def test_a_member_that_fails_ends_the_attempt_for_the_whole_gang_which_is_retried_fresh() -> None:
    state, _ = run([*slots(2), admitted("a")])
    assert held(state) == {0: "a", 1: "a"}
    state, out = run([failed("a", slot=1)], state)
    assert held(state) == {0: None, 1: None}
    assert [(c.slot, c.attempt) for c in cancels(out)] == [(0, 1)]  # the leader is told to stop
    assert statuses(out, "a")[-1].state == ev.JobState.QUEUED
    # the leader's own report of the ended attempt is fenced off
    state, out = run([failed("a", slot=0)], state)
    assert out == []
    state, out = run(
        [
            *[_beat(s, 10) for s in range(2)],
            ev.SchedulerTick(pool_id="default", occurred_at=T0 + timedelta(seconds=10)),
        ],
        state,
    )
    assert {(d.slot, d.attempt, d.gang_size) for d in dispatches(out)} == {(0, 2, 2), (1, 2, 2)}


def _beat(slot: int, at: float, job: str | None = None, attempt: int | None = None) -> ev.WorkerHeartbeat:
    return ev.WorkerHeartbeat(
        worker_id=f"w{slot}",
        pool_id="default",
        slot=slot,
        state=ev.WorkerState.BUSY if job else ev.WorkerState.IDLE,
        renderer="tiny-mochi",
        job_id=job,
        attempt=attempt,
        occurred_at=T0 + timedelta(seconds=at),
    )


def test_a_silent_member_loses_its_lease_and_the_whole_gang_is_freed() -> None:
    state, _ = run([*slots(2), admitted("a")])
    # the leader keeps beating; member 1 went silent (SIGKILLed)
    state, out = run([_beat(0, 20, "a", 1), _beat(0, 40, "a", 1)], state)
    tick = ev.SchedulerTick(pool_id="default", occurred_at=T0 + timedelta(seconds=41))
    state, out = run([tick], state)
    assert 1 not in state.slots  # forgotten until its worker beats again
    assert [(c.slot, c.attempt) for c in cancels(out)] == [(0, 1)]  # the leader stops attempt 1
    assert [s.state for s in statuses(out, "a")] == [ev.JobState.QUEUED, ev.JobState.DISPATCHED]
    (retry,) = dispatches(out)  # the one live slot takes attempt 2 alone, at once
    assert (retry.slot, retry.attempt, retry.gang_size) == (0, 2, 1)
    assert (state.slots[0].job_id, state.slots[0].attempt) == ("a", 2)


def test_only_the_leader_reports_progress_and_success() -> None:
    state, _ = run([*slots(2), admitted("a")])
    state, out = run(
        [
            report(ev.RenderStarted, "a", 1, worker_id="w1"),
            report(ev.RenderSucceeded, "a", 1, artifact=artifact(), render_seconds=1.0),
        ],
        state,
    )
    assert statuses(out, "a") == []
    assert held(state) == {0: "a", 1: "a"}
    state, out = run([report(ev.RenderSucceeded, "a", 0, artifact=artifact(), render_seconds=1.0)], state)
    assert [s.state for s in statuses(out, "a")] == [ev.JobState.SUCCEEDED]
    assert held(state) == {0: None, 1: None}
    assert cancels(out) == []


def test_a_cancel_reaches_every_member() -> None:
    state, _ = run([*slots(4), admitted("a")])
    cancel = ev.CancelRequested(job_id="a", tenant_id="t1", pool_id="default", occurred_at=T0)
    _, out = run([cancel], state)
    assert sorted(c.slot for c in cancels(out)) == [0, 1, 2, 3]


def test_a_gang_counts_once_against_the_running_cap_and_per_slot_against_the_share() -> None:
    capped = [admitted(f"c{i}", tenant="c", running_cap=1) for i in range(2)]
    _state, out = run([*slots(4), *capped])
    leaders = [d for d in dispatches(out) if d.gang_rank == 0]
    assert [(d.job_id, d.gang_size) for d in leaders] == [("c0", 4)]  # c1 cannot run beside it anyway


def test_a_gang_never_exceeds_what_its_model_can_split() -> None:
    """tiny-mochi's 2 heads split over 2 slots at most (ModelSpec.max_gang_slots): a pool of 4 idle slots
    gives its lone job a gang of 2, not 4, and a model the policy does not name renders on one slot."""
    policy = SchedulerPolicy(gang_max_slots=8, model_gang_slots={"tiny-mochi": 2})
    _, out = run([*slots(4), admitted("a")], policy=policy)
    assert [d.gang_size for d in dispatches(out)] == [2, 2]
    _, out = run([*slots(4), admitted("b")], policy=replace(policy, model_gang_slots={}))
    assert [(d.slot, d.gang_size) for d in dispatches(out)] == [(0, 1)]


def test_the_live_policy_takes_each_registered_models_ceiling() -> None:
    from reelstream.models import BUILTIN_MODELS
    from reelstream.settings import SchedulerSettings
    from streams.scheduler import policy_from

    env = {
        "REELSTREAM_S3_ACCESS_KEY": "ak",
        "REELSTREAM_S3_SECRET_KEY": "sk",
        "REELSTREAM_GANG_MAX_SLOTS": "8",
    }
    policy = policy_from(SchedulerSettings.from_env(env))
    assert BUILTIN_MODELS["mochi-1"].max_gang_slots == 8
    assert policy.gang_slots_for("mochi-1") == 8
    assert policy.gang_slots_for("tiny-mochi") == 2
    assert policy.gang_slots_for("unknown") == 1
