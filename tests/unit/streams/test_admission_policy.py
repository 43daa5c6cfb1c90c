"""Admission decides: validate again, drop duplicates, route cancellations, refuse what no slot can run."""

from __future__ import annotations

from typing import Any

from schemas import events as ev
from streams.admission_policy import (
    Admit,
    Drop,
    ForwardCancel,
    PoolCapacity,
    Reject,
    Resend,
    decide,
    finished,
    known_pool,
)


def submit(**params: Any) -> ev.SubmitJob:
    return ev.SubmitJob(job_id="j1", tenant_id="t1", prompt="a red fox", params=ev.RequestedParams(**params))


def test_a_valid_submission_is_admitted_with_every_parameter_resolved() -> None:
    decision = decide(submit(model="tiny-mochi"), None, pool_id="default", default_model="mochi-1")
    assert isinstance(decision, Admit)
    assert decision.admitted.params.seed is not None
    assert decision.admitted.params.num_frames % 6 == 1


def test_an_invalid_submission_is_rejected_with_the_field_in_the_reason() -> None:
    decision = decide(submit(width=30), None, pool_id="default", default_model="tiny-mochi")
    assert isinstance(decision, Reject)
    assert decision.event.status.state == "rejected"
    assert decision.event.status.error is not None
    assert "width" in decision.event.status.error.message


def test_a_submission_seen_again_is_sent_again_while_its_job_runs_and_dropped_after() -> None:
    """A redelivery after a crash may follow a JobAdmitted that died with the process: while the job has not
    finished, its admission goes again (the scheduler drops one it knows), to the pool it was admitted to."""
    again = decide(submit(), "gpu-b", pool_id="default", default_model="tiny-mochi")
    assert isinstance(again, Resend)
    assert again.admitted.pool_id == "gpu-b"
    assert again.admitted.job_id == submit().job_id
    done = decide(submit(), "gpu-b", pool_id="default", default_model="tiny-mochi", job_finished=True)
    assert isinstance(done, Drop)
    assert isinstance(decide(submit(), "", pool_id="default", default_model="tiny-mochi"), Drop)  # rejected
    invalid = decide(submit(width=30), "gpu-b", pool_id="default", default_model="tiny-mochi")
    assert isinstance(invalid, Drop)  # admitted once: never rejected after the fact


def test_cancels_go_to_the_jobs_pool() -> None:
    cancel = ev.CancelJob(job_id="j1", tenant_id="t1")
    routed = decide(cancel, "gpu-b", pool_id="default", default_model="tiny-mochi")
    assert isinstance(routed, ForwardCancel)
    assert routed.request.pool_id == "gpu-b"
    assert isinstance(decide(cancel, None, pool_id="default", default_model="tiny-mochi"), Drop)
    assert isinstance(decide(cancel, "", pool_id="default", default_model="tiny-mochi"), Drop)  # was rejected


def test_a_job_no_slot_of_the_pool_can_run_is_rejected_not_queued_forever() -> None:
    capacity = PoolCapacity(models=frozenset({"tiny-mochi"}), max_work_units=64 * 48 * 13)
    too_big = decide(
        submit(model="tiny-mochi", width=256, height=256),
        None,
        pool_id="default",
        default_model="tiny-mochi",
        capacity=capacity,
    )
    unserved = decide(
        submit(model="mochi-1"), None, pool_id="default", default_model="tiny-mochi", capacity=capacity
    )
    fits = decide(
        submit(model="tiny-mochi"), None, pool_id="default", default_model="tiny-mochi", capacity=capacity
    )
    for refused, code in ((too_big, "workload_too_large"), (unserved, "no_capacity")):
        assert isinstance(refused, Reject)
        assert refused.event.status.error is not None
        assert refused.event.status.error.code == code
    assert isinstance(fits, Admit)


def test_a_finished_job_frees_its_place_once_and_stays_known() -> None:
    admitted = b"gpu-b"
    after = finished(admitted)
    assert after is not None
    assert finished(after) is None  # a JobFinished written again (scheduler restart) frees nothing more
    assert finished(b"") is None  # rejected: it never held a place
    assert finished(None) is None  # never admitted here
    # what decide sees is unchanged: a duplicate submission is still dropped, a cancel still routed
    assert known_pool(after) == known_pool(admitted) == "gpu-b"
    assert known_pool(b"") == ""
    assert known_pool(None) is None
    cancel = ev.CancelJob(job_id="j1", tenant_id="t1")
    routed = decide(cancel, known_pool(after), pool_id="default", default_model="tiny-mochi")
    assert isinstance(routed, ForwardCancel)
