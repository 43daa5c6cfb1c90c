"""The slot share bound (REELSTREAM_TENANT_MAX_SLOT_SHARE, on by default): a tenant holds at most its share
of the pool's live slots while another tenant within its share waits; alone, a tenant uses every slot."""

from __future__ import annotations

from collections import Counter

from hypothesis import given, settings
from hypothesis import strategies as st

from schemas import events as ev
from streams.fair_queue import SchedulerPolicy
from streams.scheduling import DEFAULT_POLICY, InboxEvent, SchedulerState, apply
from tests.unit.streams.test_scheduling import _finish, admitted, dispatches, heartbeat, run


def test_the_bound_is_on_by_default_at_half_the_slots() -> None:
    assert DEFAULT_POLICY.max_slot_share == 0.5
    assert [DEFAULT_POLICY.slot_share_cap(n) for n in (1, 2, 3, 4, 8)] == [1, 1, 1, 2, 4]


def test_a_tenant_with_many_urgent_jobs_leaves_slots_to_another_that_waits() -> None:
    """Fair queuing alone would give every slot to the high-priority jobs of one tenant."""
    heavy = [admitted(f"h{i}", tenant="heavy", priority=ev.Priority.HIGH) for i in range(6)]
    _, out = run([*heavy, admitted("l1", tenant="light"), *(heartbeat(s) for s in range(4))])
    assert Counter(d.tenant_id for d in dispatches(out)) == {"heavy": 3, "light": 1}  # light had one job
    _, out = run(
        [*heavy, *(admitted(f"l{i}", tenant="light") for i in range(3))] + [heartbeat(s) for s in range(4)]
    )
    assert Counter(d.tenant_id for d in dispatches(out)) == {"heavy": 2, "light": 2}


def test_alone_a_tenant_fills_every_slot_and_the_next_free_one_goes_to_a_newcomer() -> None:
    state, out = run(
        [*(admitted(f"h{i}", tenant="heavy") for i in range(5)), *(heartbeat(s) for s in range(4))]
    )
    assert len(dispatches(out)) == 4
    state, out = run([admitted("l1", tenant="light")], state)
    assert dispatches(out) == []  # no preemption: the newcomer waits for a slot to free up
    held = next(slot for slot in state.slots.values() if slot.job_id == "h0")
    _, out = run([_finish("h0", held.slot)], state)
    assert [(d.job_id, d.slot) for d in dispatches(out)] == [("l1", held.slot)]


def _tenant_of(state: SchedulerState, job_id: str | None) -> str | None:
    job = state.jobs.get(job_id) if job_id is not None else None
    return job.admitted.tenant_id if job is not None else None


def _check_dispatches(before: SchedulerState, event: InboxEvent, policy: SchedulerPolicy) -> SchedulerState:
    """Apply `event`; each dispatch it makes, in order, takes a tenant beyond its share only when no tenant
    within its share has a job waiting."""
    held = Counter(t for s in before.slots.values() if (t := _tenant_of(before, s.job_id)) is not None)
    if isinstance(event, ev.RenderSucceeded):
        held[_tenant_of(before, event.job_id) or ""] -= 1
    waiting = {j.admitted.job_id: j.admitted.tenant_id for j in before.jobs.values() if j.queued is not None}
    if isinstance(event, ev.JobAdmitted):
        waiting[event.job_id] = event.tenant_id
    after, outputs = apply(before, event, policy)
    cap = policy.slot_share_cap(len(after.slots))  # every slot is live: the test's clock stays within leases
    assert cap is not None
    for dispatch in dispatches(outputs):
        waiting.pop(dispatch.job_id)
        held[dispatch.tenant_id] += 1
        if held[dispatch.tenant_id] > cap:
            starved = [t for t in waiting.values() if t != dispatch.tenant_id and held[t] < cap]
            assert not starved, (
                f"{dispatch.tenant_id} took slot {dispatch.slot} beyond {cap} while {starved} waited"
            )
    return after


@settings(max_examples=150, deadline=None)
@given(
    slots=st.integers(0, 3),
    share=st.sampled_from([0.2, 0.34, 0.5, 0.75]),
    weights=st.lists(st.sampled_from([0.5, 1.0, 4.0]), min_size=4, max_size=4),
    priorities=st.lists(st.sampled_from(list(ev.Priority)), min_size=40, max_size=40),
    steps=st.lists(st.integers(-2, 3), min_size=1, max_size=40),
)
def test_no_tenant_exceeds_its_share_while_another_tenants_job_waits(
    slots: int, share: float, weights: list[float], priorities: list[ev.Priority], steps: list[int]
) -> None:
    """Random arrivals of four tenants' jobs (0-3), of random priorities, with random fair-share weights,
    completions (-1) and new slots (-2) after `slots` first ones: neither weights nor priorities take a
    tenant beyond its share."""
    policy = SchedulerPolicy(weights={f"t{i}": w for i, w in enumerate(weights)}, max_slot_share=share)
    state = SchedulerState("default")
    for slot in range(slots):
        state, _ = apply(state, heartbeat(slot), policy)
    for n, step in enumerate(steps):
        if step >= 0:
            event: InboxEvent = admitted(f"j{n}", tenant=f"t{step}", priority=priorities[n])
        elif step == -2:
            event = heartbeat(len(state.slots))
        else:
            running = sorted((s for s in state.slots.values() if s.job_id is not None), key=lambda s: s.slot)
            if not running:
                continue
            event = _finish(str(running[0].job_id), running[0].slot, running[0].attempt or 1)
        state = _check_dispatches(state, event, policy)
    # work-conserving: a slot is idle only when nothing waits
    idle = sum(1 for s in state.slots.values() if s.job_id is None)
    assert idle == 0 or not any(j.queued for j in state.jobs.values())
