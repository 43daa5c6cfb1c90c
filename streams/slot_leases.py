"""The pool scheduler's slots, leases and time: heartbeats, ticks, lost attempts requeued."""

from __future__ import annotations

from dataclasses import replace

from schemas.events import ErrorInfo, JobEventType, JobState, WorkerHeartbeat, is_deleted
from streams.fair_queue import QueuedJob, retry_backoff
from streams.finishing import drop_finishing, expired_finishing, renew_finishing
from streams.gang import release
from streams.scheduler_state import SWEEP_JOBS, Slot
from streams.scheduling_step import Step


def heartbeat(step: Step, beat: WorkerHeartbeat) -> None:
    known = step.slots.get(beat.slot)
    if known is not None and known.job_id is not None:
        if _lost(step, known, beat):
            release(step, known.job_id, known.attempt or 0, told=beat.slot)  # the whole gang, if one
            requeue(step, known.job_id, "the slot's worker is not running this attempt")
            known = step.slots[beat.slot]
        elif (beat.job_id, beat.attempt) == (known.job_id, known.attempt):
            known = replace(known, lease_expires_at=step.now + step.policy.lease)
    if known is not None and known.worker_id != beat.worker_id:
        _lose_finishing(step, known, "another worker took the slot of this attempt's finish")
    if known is None or known.worker_id != beat.worker_id:
        known = Slot(beat.slot, beat.worker_id, beat.renderer, beat.occurred_at)
    reported = (beat.job_id, beat.attempt) if beat.job_id is not None else None
    if reported is not None and renew_finishing(step, beat.slot, beat.job_id or "", beat.attempt or 0):
        known, reported = step.slots[beat.slot], None  # in its finish: the slot's GPU is free
    step.slots[beat.slot] = replace(
        known,
        renderer=beat.renderer,
        last_seen=beat.occurred_at,
        gpu_name=beat.gpu_name or "",
        max_work_units=beat.max_work_units,
        busy_elsewhere=reported is not None
        and reported != (known.job_id, known.attempt)
        and reported[0] in step.jobs,  # a finished job's last beat, sent as it ended, holds nothing up
    )


def _lose_finishing(step: Step, slot: Slot, why: str) -> None:
    """The slot's worker is gone or replaced: the attempts in their finish there are requeued."""
    for place in slot.finishing:
        drop_finishing(step, place.job_id, place.attempt)
        if (job := step.jobs.get(place.job_id)) is not None and job.status.attempt == place.attempt:
            requeue(step, place.job_id, why)


def _lost(step: Step, slot: Slot, beat: WorkerHeartbeat) -> bool:
    """The slot's job is not running there: another worker took the slot, or the worker has been idle for
    longer than a dispatch takes to arrive (it never saw the dispatch record, e.g. it was not started yet)."""
    if slot.worker_id != beat.worker_id:
        return True
    job = step.jobs.get(slot.job_id or "")
    if job is None:
        return True
    dispatched_at = job.status.state_times.get(JobState.DISPATCHED.value, beat.occurred_at)
    return beat.job_id is None and beat.occurred_at - dispatched_at > step.policy.dispatch_grace


def sweep_due(step: Step) -> bool:
    """Whether this tick looks at every queued job (deadlines, throttling, places and ETAs): every tick up
    to SWEEP_JOBS jobs, then every (jobs // SWEEP_JOBS)-th, so what ticks cost per second stays about
    flat as the queue grows (at 100k queued, places are refreshed every 50 ticks) while leases are checked
    on every tick. A sweep costs ~30 µs per queued job (ranking it) on a 2-core machine."""
    return step.ticks % max(1, len(step.jobs) // SWEEP_JOBS) == 0


def tick(step: Step, sweep: bool) -> None:
    for index in list(step.slots):
        slot = step.slots.get(index)  # read again: a gang's end frees its other members' slots
        if (
            slot is not None
            and slot.job_id is not None
            and slot.lease_expires_at is not None
            and step.now > slot.lease_expires_at
        ):
            release(step, slot.job_id, slot.attempt or 0, told=index)  # a gang's other members too
            _lose_finishing(step, step.slots[index], f"lease of slot {index} expired (no heartbeat)")
            del step.slots[index]  # silent: forgotten until it heartbeats again
            requeue(step, slot.job_id, f"lease of slot {index} expired (no heartbeat)")
    for late in expired_finishing(step):
        if (job := step.jobs.get(late.job_id)) is not None and job.status.attempt == late.attempt:
            requeue(step, late.job_id, "the lease of its finish expired (no report, no heartbeat)")
    for queued in step.waiting() if sweep else ():
        deadline = queued.admitted.deadline
        if deadline is not None and step.now > deadline:
            step.update(
                queued.admitted.job_id,
                JobEventType.EXPIRED,
                state=JobState.EXPIRED,
                queue_position=None,
                eta_seconds=None,
                error=ErrorInfo("deadline_passed", "the job's deadline passed before it started", False),
            )


def requeue(step: Step, job_id: str, why: str, backoff: bool = False, avoid_slot: int | None = None) -> None:
    """Back to the front of its tenant's queue; the next dispatch is attempt + 1, so anything the lost
    attempt still reports is fenced off. After max_attempts the job fails. An attempt that failed (rather
    than one whose worker vanished) is retried after a backoff with jitter (fair_queue.retry_backoff)."""
    job = step.jobs.get(job_id)
    if job is None:
        return
    if is_deleted(job.status):  # deleted while its attempt ran: never rendered again
        step.update(job_id, JobEventType.CANCELED, state=JobState.CANCELED, slot=None, stage=None)
        return
    if job.status.attempt >= step.policy.max_attempts:
        step.update(
            job_id,
            JobEventType.FAILED,
            state=JobState.FAILED,
            slot=None,
            stage=None,
            error=ErrorInfo("max_attempts", f"{why}; gave up after {job.status.attempt} attempts", False),
        )
        return
    cost = step.cost_model.seconds(job.admitted.params)
    wait = retry_backoff(job_id, job.status.attempt, step.policy) if backoff else None
    not_before = step.now + wait if wait is not None else None
    queued = QueuedJob(
        job.admitted,
        -job.status.attempt,
        step.now,
        cost,
        0.0,
        retried=True,
        not_before=not_before,
        avoid_slot=avoid_slot,
    )
    step.jobs[job_id] = replace(job, queued=queued)
    step.update(job_id, JobEventType.REQUEUED, state=JobState.QUEUED, slot=None, stage=None, progress=0.0)
