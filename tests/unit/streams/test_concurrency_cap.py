"""A tenant's running cap: over it its jobs wait queued with reason `throttled`, other tenants' jobs run."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from schemas import events as ev
from streams.scheduling import THROTTLED, InboxEvent, SendToSlot, apply
from tests.unit.streams.test_scheduling import _finish, admitted, dispatches, heartbeat, run, statuses


def test_over_its_cap_a_tenant_waits_throttled_while_another_takes_the_free_slot() -> None:
    state, out = run(
        [
            admitted("a1", tenant="capped", running_cap=1),
            admitted("a2", tenant="capped", running_cap=1),
            admitted("b1", tenant="free"),
            heartbeat(0),
            heartbeat(1),
        ]
    )
    assert sorted(d.job_id for d in dispatches(out)) == ["a1", "b1"]
    waiting = statuses(out, "a2")[-1]
    assert (waiting.state, waiting.reason) == (ev.JobState.QUEUED, THROTTLED)
    assert not any(s.reason for s in statuses(out, "b1"))

    slot_of_a1 = next(d.slot for d in dispatches(out) if d.job_id == "a1")
    state, out = run([_finish("a1", slot_of_a1)], state)
    (next_job,) = dispatches(out)
    assert (next_job.job_id, next_job.slot) == ("a2", slot_of_a1)
    assert statuses(out, "a2")[-1].state == ev.JobState.DISPATCHED
    assert statuses(out, "a2")[-1].reason is None


def test_without_a_cap_a_tenant_fills_every_slot() -> None:
    _, out = run([admitted("a1"), admitted("a2"), heartbeat(0), heartbeat(1)])
    assert sorted(d.job_id for d in dispatches(out)) == ["a1", "a2"]
    assert not any(s.reason for s in statuses(out, "a2"))


def test_a_job_turns_throttled_once_and_stays_so_without_new_snapshots() -> None:
    state, out = run(
        [admitted("a1", tenant="c", running_cap=1), admitted("a2", tenant="c", running_cap=1), heartbeat(0)]
    )
    reasons = [s.reason for s in statuses(out, "a2")]
    assert reasons[-1] == THROTTLED
    assert [b for a, b in zip([None, *reasons], reasons, strict=False) if a != b] == [THROTTLED]
    _, out = run([heartbeat(0)], state)  # nothing changed: no new snapshot of a2
    assert statuses(out, "a2") == []


@settings(max_examples=60, deadline=None)
@given(
    caps=st.lists(st.sampled_from([None, 1, 2]), min_size=1, max_size=3),
    jobs=st.lists(st.integers(0, 2), min_size=1, max_size=10),
    slots=st.integers(1, 4),
)
def test_no_tenant_ever_holds_more_slots_than_its_cap(
    caps: list[int | None], jobs: list[int], slots: int
) -> None:
    events: list[InboxEvent] = [
        admitted(f"j{i}", tenant=f"t{t % len(caps)}", running_cap=caps[t % len(caps)])
        for i, t in enumerate(jobs)
    ]
    events += [heartbeat(s) for s in range(slots)]
    state, outputs = run(events)
    for _ in range(len(jobs)):  # finish whatever runs, one event at a time, and check after each
        held: dict[str, int] = {}
        for slot in state.slots.values():
            if slot.job_id in state.jobs:
                job = state.jobs[slot.job_id].admitted
                held[job.tenant_id] = held.get(job.tenant_id, 0) + 1
                assert job.running_cap is None or held[job.tenant_id] <= job.running_cap
        running = [s for s in state.slots.values() if s.job_id is not None]
        if not running:
            break
        state, out = apply(state, _finish(str(running[0].job_id), running[0].slot, running[0].attempt or 1))
        outputs += out
    sent = [o for o in outputs if isinstance(o, SendToSlot)]
    assert len({(o.command.job_id, o.command.attempt) for o in sent}) == len(sent)
