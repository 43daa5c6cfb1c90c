"""The long-task path: a job predicted long whose attempt failed is retried once, on another slot, with its
render deadline stretched; failing again, it fails as `long_task_failed_twice` (the LongTaskFailedTwice
alert's count). A job not predicted long keeps the ordinary rules, and its dispatches the plain deadline."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

import pytest

from reelstream.long_task_metrics import LONG_TASK_FAILED_TWICE
from schemas import events as ev
from streams.scheduling import SchedulerState, apply
from tests.unit.streams.test_render_timeout import after_backoff, timed_out
from tests.unit.streams.test_scheduling import admitted, dispatches, heartbeat, run, statuses


def crashed(job: str, slot: int, attempt: int) -> ev.RenderFailed:
    out_of_memory = ev.ErrorInfo("render_error", "CUDA out of memory", True)
    return replace(timed_out(job, slot, attempt), error=out_of_memory)


def first_dispatch(job: ev.JobAdmitted) -> tuple[SchedulerState, ev.DispatchRender]:
    state, out = run([job, heartbeat(0)])
    (first,) = dispatches(out)
    state, _ = run([heartbeat(1)], state)  # a second slot appears, idle
    return state, first


@pytest.mark.parametrize("fail", [timed_out, crashed], ids=["timed out", "failed"])
def test_a_long_job_is_retried_once_elsewhere_with_a_longer_deadline_then_fails_twice(
    fail: Callable[[str, int, int], ev.RenderFailed],
) -> None:
    state, first = first_dispatch(admitted("j", predicted_long=True))
    assert first.deadline_multiple == 1.0
    state, out = apply(state, fail("j", first.slot, 1))
    assert statuses(out, "j")[-1].state == ev.JobState.QUEUED
    state, sent = after_backoff(state)
    (retry,) = sent
    assert (retry.attempt, retry.slot) == (2, 1)  # a fresh slot
    assert retry.deadline_multiple == 2.0  # the policy's default stretch
    state, out = apply(state, fail("j", retry.slot, 2))
    final = statuses(out, "j")[-1]
    assert final.state == ev.JobState.FAILED
    assert final.error is not None
    assert final.error.code == LONG_TASK_FAILED_TWICE
    assert final.error.message.startswith(fail("j", 0, 2).error.code)  # what went wrong, kept
    assert all(slot.job_id is None for slot in state.slots.values())


def test_an_ordinary_job_keeps_the_plain_deadline_and_its_attempts() -> None:
    state, first = first_dispatch(admitted("j"))
    state, _ = apply(state, crashed("j", first.slot, 1))
    state, sent = after_backoff(state)
    (retry,) = sent
    assert retry.deadline_multiple == 1.0
    state, out = apply(state, crashed("j", retry.slot, 2))
    assert statuses(out, "j")[-1].state == ev.JobState.QUEUED  # a third attempt: max_attempts is 3


def test_a_long_job_refused_for_good_is_not_retried() -> None:
    state, first = first_dispatch(admitted("j", predicted_long=True))
    invalid = replace(crashed("j", first.slot, 1), error=ev.ErrorInfo("invalid_params", "bad", False))
    _, out = apply(state, invalid)
    final = statuses(out, "j")[-1]
    assert final.state == ev.JobState.FAILED
    assert final.error is not None
    assert final.error.code == "invalid_params"
