"""An attempt the worker stopped past its deadline (`render_timeout`) frees its slot, is retried once on
another live slot (the same one only when no other can run it), and the job fails if the retry times out."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from schemas import events as ev
from streams.scheduling import SchedulerState, apply
from tests.samples import T0
from tests.unit.streams.test_scheduling import admitted, dispatches, heartbeat, run, statuses, tick


def timed_out(job: str, slot: int, attempt: int) -> ev.RenderFailed:
    return ev.RenderFailed(
        job_id=job,
        slot=slot,
        attempt=attempt,
        error=ev.ErrorInfo(
            "render_timeout", "the render ran past its deadline of 60 s and was stopped", True
        ),
        occurred_at=T0 + timedelta(seconds=1),
    )


def after_backoff(state: SchedulerState) -> tuple[SchedulerState, list[ev.DispatchRender]]:
    """Ticks until the retry's backoff is over (heartbeats keep both slots alive)."""
    sent: list[ev.DispatchRender] = []
    for second in range(2, 20):
        for slot in state.slots:
            beat = replace(heartbeat(slot), occurred_at=T0 + timedelta(seconds=second))
            state, out = apply(state, beat)
            sent += dispatches(out)
        state, out = apply(state, tick(second))
        sent += dispatches(out)
        if sent:
            break
    return state, sent


def test_a_timed_out_render_is_retried_once_on_another_slot_then_fails() -> None:
    state, out = run([admitted("j"), heartbeat(0)])
    (first,) = dispatches(out)
    state, _ = run([heartbeat(1)], state)  # a second slot appears, idle
    state, out = apply(state, timed_out("j", first.slot, 1))
    assert state.slots[first.slot].job_id is None  # the slot is free at once
    assert statuses(out, "j")[-1].state == ev.JobState.QUEUED
    state, sent = after_backoff(state)
    (retry,) = sent
    assert (retry.attempt, retry.slot) == (2, 1)  # the other slot
    state, out = apply(state, timed_out("j", retry.slot, 2))
    final = statuses(out, "j")[-1]
    assert final.state == ev.JobState.FAILED
    assert final.error is not None
    assert final.error.code == "render_timeout"
    assert all(slot.job_id is None for slot in state.slots.values())


def test_with_one_slot_the_retry_runs_on_the_same_slot() -> None:
    state, out = run([admitted("j"), heartbeat(0)])
    (first,) = dispatches(out)
    state, _ = apply(state, timed_out("j", first.slot, 1))
    _, sent = after_backoff(state)
    (retry,) = sent
    assert (retry.attempt, retry.slot) == (2, first.slot)
