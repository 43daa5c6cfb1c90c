"""The pool scheduler's state machine: FIFO, one job per slot, fencing, cancellation, replayable state."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from schemas import events as ev
from streams.scheduling import (
    DEFAULT_POLICY,
    InboxEvent,
    Output,
    Publish,
    SchedulerState,
    SendToSlot,
    apply,
    as_of,
    dump_state,
    load_state,
)
from tests.samples import T0, artifact, render_params


def admitted(job_id: str, tenant: str = "t1", model: str = "tiny-mochi", **kw: Any) -> ev.JobAdmitted:
    fields: dict[str, Any] = dict(
        job_id=job_id,
        tenant_id=tenant,
        pool_id="default",
        prompt="p",
        params=render_params(model=model),
        submitted_at=T0,
        occurred_at=T0,
    )
    return ev.JobAdmitted(**{**fields, **kw})


def heartbeat(slot: int, renderer: str = "tiny-mochi") -> ev.WorkerHeartbeat:
    return ev.WorkerHeartbeat(
        worker_id=f"w{slot}",
        pool_id="default",
        slot=slot,
        state=ev.WorkerState.IDLE,
        renderer=renderer,
        occurred_at=T0,
    )


def tick(seconds: float = 0) -> ev.SchedulerTick:
    return ev.SchedulerTick(pool_id="default", occurred_at=T0 + timedelta(seconds=seconds))


def run(events: list[InboxEvent], state: SchedulerState | None = None) -> tuple[SchedulerState, list[Output]]:
    state = state or SchedulerState("default")
    outputs: list[Output] = []
    for event in events:
        state, out = apply(state, event)
        outputs += out
    return state, outputs


def dispatches(outputs: list[Output]) -> list[ev.DispatchRender]:
    return [
        o.command for o in outputs if isinstance(o, SendToSlot) and isinstance(o.command, ev.DispatchRender)
    ]


def statuses(outputs: list[Output], job_id: str) -> list[ev.JobStatus]:
    return [o.status for o in outputs if isinstance(o, Publish) and o.status.job_id == job_id]


def test_jobs_queue_until_a_slot_appears_then_dispatch_in_order() -> None:
    state, out = run([admitted("a"), admitted("b"), tick()])
    assert dispatches(out) == []
    assert [s.queue_position for s in statuses(out, "b")] == [None, 1]  # queued at once, placed on the tick
    state, out = run([heartbeat(3)], state)
    (first,) = dispatches(out)
    assert (first.job_id, first.slot, first.attempt) == ("a", 3, 1)
    assert first.artifact_key == "t1/a/1/video.mp4"
    assert statuses(out, "b") == []  # not moved up until the next tick
    state, out = run([tick()], state)
    assert statuses(out, "b")[-1].queue_position == 0  # b moved up


def test_a_slot_only_gets_jobs_for_the_model_its_renderer_serves() -> None:
    _, out = run([admitted("big", model="mochi-1"), admitted("small"), heartbeat(0, renderer="tiny-mochi")])
    assert [d.job_id for d in dispatches(out)] == ["small"]


def _finish(job: str, slot: int, attempt: int = 1) -> ev.RenderSucceeded:
    return ev.RenderSucceeded(
        job_id=job,
        slot=slot,
        attempt=attempt,
        artifact=artifact(),
        render_seconds=1.0,
        occurred_at=T0 + timedelta(seconds=5),
    )


def test_success_frees_the_slot_for_the_next_job_and_versions_increase() -> None:
    state, out = run(
        [
            admitted("a"),
            admitted("b"),
            heartbeat(0),
            ev.RenderStarted(job_id="a", slot=0, attempt=1, worker_id="w0", occurred_at=T0),
            _finish("a", 0),
        ]
    )
    a = statuses(out, "a")
    assert [s.state for s in a] == ["queued", "dispatched", "running", "succeeded"]
    assert [s.version for s in a] == sorted({s.version for s in a})
    assert a[-1].artifact == artifact()
    assert [d.job_id for d in dispatches(out)] == ["a", "b"]
    assert "a" not in state.jobs


def test_events_of_a_stale_attempt_or_another_slot_are_ignored() -> None:
    state, _ = run([admitted("a"), heartbeat(0)])
    _, out = run([_finish("a", 0, attempt=2), _finish("a", 5, attempt=1)], state)
    assert out == []


def test_cancel_of_a_queued_job_is_immediate_and_of_a_running_one_goes_to_its_slot() -> None:
    state, _ = run([admitted("a"), admitted("b"), heartbeat(0)])
    state, out = run(
        [ev.CancelRequested(job_id="b", tenant_id="t1", pool_id="default", occurred_at=T0)], state
    )
    assert statuses(out, "b")[-1].state == "canceled"
    _, out = run([ev.CancelRequested(job_id="a", tenant_id="t1", pool_id="default", occurred_at=T0)], state)
    (cancel,) = [o.command for o in out if isinstance(o, SendToSlot)]
    assert cancel == ev.CancelRender(job_id="a", slot=0, attempt=1, event_id=cancel.event_id, occurred_at=T0)


def test_another_tenant_cannot_cancel_a_job() -> None:
    state, _ = run([admitted("a", tenant="t1")])
    _, out = run([ev.CancelRequested(job_id="a", tenant_id="t2", pool_id="default", occurred_at=T0)], state)
    assert out == []


def test_a_render_failed_with_code_canceled_ends_the_job_canceled() -> None:
    error = ev.ErrorInfo("canceled", "canceled at step 2", False)
    _, out = run(
        [
            admitted("a"),
            heartbeat(0),
            ev.RenderFailed(job_id="a", slot=0, attempt=1, error=error, occurred_at=T0),
        ]
    )
    assert statuses(out, "a")[-1].state == "canceled"


def test_duplicate_admissions_are_dropped() -> None:
    state, _ = run([admitted("a"), heartbeat(0), _finish("a", 0)])
    _, out = run([admitted("a")], state)
    assert out == []


event_strategy = st.one_of(
    st.builds(admitted, st.sampled_from("abcdefgh")),
    st.builds(heartbeat, st.integers(0, 3)),
    st.builds(_finish, st.sampled_from("abcdefgh"), st.integers(0, 3), st.integers(1, 2)),
    st.builds(
        lambda j: ev.CancelRequested(job_id=j, tenant_id="t1", pool_id="default", occurred_at=T0),
        st.sampled_from("abcdefgh"),
    ),
)


@settings(max_examples=200)
@given(st.lists(event_strategy, max_size=40))
def test_no_slot_ever_holds_two_jobs_and_every_job_is_somewhere(events: list[InboxEvent]) -> None:
    state = SchedulerState("default")
    for event in events:
        state, _ = apply(state, event)
        held = [s.job_id for s in state.slots.values() if s.job_id is not None]
        assert len(held) == len(set(held))
        for job_id in state.jobs:
            assert (job_id in state.queue) != (job_id in held)
        assert load_state(dump_state(state)) == state


def _beat_at(slot: int, seconds: float, worker: str | None = None) -> ev.WorkerHeartbeat:
    beat = heartbeat(slot)
    return ev.WorkerHeartbeat(
        worker_id=worker or beat.worker_id,
        pool_id="default",
        slot=slot,
        state=ev.WorkerState.IDLE,
        renderer=beat.renderer,
        occurred_at=T0 + timedelta(seconds=seconds),
    )


def test_a_dispatch_the_slot_never_picked_up_is_requeued_and_fenced() -> None:
    state, _ = run([admitted("a"), heartbeat(0)])
    state, out = run([_beat_at(0, 5)], state)  # idle, but within the grace a dispatch needs to arrive
    assert out == []
    state, out = run([_beat_at(0, 30)], state)
    types = [o.event_type for o in out if isinstance(o, Publish)]
    assert types == [ev.JobEventType.REQUEUED, ev.JobEventType.DISPATCHED]
    (again,) = dispatches(out)
    assert again.attempt == 2
    _, out = run([_finish("a", 0, attempt=1)], state)
    assert out == []  # the lost attempt cannot complete the job


def test_a_new_worker_on_a_slot_releases_what_the_old_one_held() -> None:
    state, _ = run([admitted("a"), heartbeat(0)])
    _, out = run([_beat_at(0, 1, worker="w0-restarted")], state)
    (again,) = dispatches(out)
    assert (again.job_id, again.attempt) == ("a", 2)


def test_a_backlog_read_late_is_applied_as_of_when_it_is_read() -> None:
    """A scheduler back after a minute's outage reads the admission and the idle heartbeat written during
    it. The dispatch it makes gets a whole lease from now: the next tick keeps it, not requeues it."""
    now, allowance = T0 + timedelta(seconds=60), timedelta(seconds=2)
    fresh = tick(61)
    assert as_of(fresh, now, allowance) is fresh  # fresh events as they are
    state, out = run([as_of(e, now, allowance) for e in (admitted("a"), heartbeat(0))])
    (dispatch,) = dispatches(out)
    assert dispatch.lease_expires_at == now - allowance + DEFAULT_POLICY.lease
    state, out = run([tick(61)], state)
    assert [s.state for s in statuses(out, "a")] == []  # still dispatched, nothing requeued
    late = run([admitted("a"), heartbeat(0)])[0]  # the same records applied at their own time:
    requeued = statuses(run([tick(61)], late)[1], "a")  # its lease ran out long before the tick
    assert (requeued[0].state, requeued[0].attempt) == ("queued", 1)
