"""The scheduler of one GPU pool as a pure state machine: `apply(state, event, policy) -> (state, outputs)`.

No Faust, Kafka or clock in here: time is the `occurred_at` of the event being applied (SchedulerTicks bring
it when nothing else happens), so replaying the same inbox gives the same decisions. Ordering lives in
fair_queue.py, expected costs in cost_model.py.

Leases: a dispatch belongs to its slot until `lease_expires_at`; heartbeats naming the attempt and the
attempt's own events renew it. An attempt whose lease ran out, or that its slot's worker says it is not
running, is requeued at the front of its tenant's queue with attempt + 1 (after `max_attempts`, failed);
events of any other attempt are ignored, so a zombie cannot complete a job.

Concurrency caps: a job admitted with a `running_cap` is not dispatched while that many jobs of its tenant
hold slots; it stays queued with reason `throttled` (other tenants' jobs take the free slots meanwhile).
Slot share: a tenant at its share of the live slots (policy.max_slot_share) does not take a slot another
tenant within its share could run (dispatching.py).

Render deadlines: an attempt the worker stopped past its deadline (`render_timeout`) is retried once, on
another live slot when one can run it, and the job fails if the retry times out too; the slot is freed by the
failure report, or by its lease when the worker process was ended.

The long-task path: a job the estimator predicted long whose attempt failed (timed out, or any retriable
failure) takes a dedicated path: one retry, on another slot, with its render deadline stretched by
`policy.long_retry_deadline_multiple`; if that fails too the job fails with `long_task_failed_twice` set on
its failure, which the scheduler's metrics count for the `LongTaskFailedTwice` alert.

Overlap: an attempt that reports its finish stage (encode, upload) leaves its slot's GPU to the next
dispatch and stays tracked in one of the slot's `max_finishing` places until its outcome
(streams/finishing.py).

Gangs: a job may take several idle slots at once for one attempt (streams/gang.py has the rule): its leader
(the job's `slot`) reports as a lone slot does, the other members only fail; any member's failure or lost
lease ends the attempt for every member.

The state and outputs live in scheduler_state.py, one step's bookkeeping in scheduling_step.py, slots and
leases in slot_leases.py, dispatching in dispatching.py; this module applies one event.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta

from reelstream.long_task_metrics import LONG_TASK_FAILED_TWICE
from schemas.events import (
    DELETED_CODE,
    CancelRender,
    CancelRequested,
    ErrorInfo,
    InboxEvent,
    JobAdmitted,
    JobEventType,
    JobState,
    JobStatus,
    RenderFailed,
    RenderProgress,
    RenderStage,
    RenderStarted,
    RenderSucceeded,
    SchedulerTick,
    WorkerHeartbeat,
    is_deleted,
)
from streams.dispatching import (
    announce,
    fill_idle_slots,
    mark_throttled,
    refresh_positions,
    running_per_tenant,
)
from streams.fair_queue import QueuedJob, SchedulerPolicy
from streams.finishing import FINISH_STAGES, renew_finishing, start_finishing
from streams.gang import is_member, members, release
from streams.scheduler_state import (
    DEFAULT_POLICY,
    RECENTLY_FINISHED,
    SWEEP_JOBS,
    THROTTLED,
    Job,
    Output,
    Publish,
    SchedulerState,
    SendToSlot,
    Slot,
    dump_state,
    load_state,
)
from streams.scheduling_step import Step, alive
from streams.slot_leases import heartbeat, requeue, sweep_due, tick

__all__ = [
    "DEFAULT_POLICY",
    "RECENTLY_FINISHED",
    "SWEEP_JOBS",
    "THROTTLED",
    "InboxEvent",
    "Job",
    "Output",
    "Publish",
    "SchedulerState",
    "SendToSlot",
    "Slot",
    "apply",
    "apply_noting_changes",
    "as_of",
    "dump_state",
    "load_state",
]


RENDER_TIMEOUT = "render_timeout"  # the worker stopped a render past its deadline (gpu_consumers.job)


def as_of(event: InboxEvent, now: datetime, allowance: timedelta) -> InboxEvent:
    """The event as the scheduler applies it at wall-clock `now`: one read more than `allowance` after it
    happened (the backlog of a scheduler that was down, records read again after a restart) is applied as
    of `now - allowance`. What it leads to — a dispatch's lease, a slot's idle time since a dispatch — then
    starts when the decision is made; taken from the record, every dispatch made while catching up would
    carry a lease that ran out before the worker could see it."""
    floor = now - allowance
    return event if event.occurred_at >= floor else replace(event, occurred_at=floor)


def apply(
    state: SchedulerState, event: InboxEvent, policy: SchedulerPolicy = DEFAULT_POLICY
) -> tuple[SchedulerState, list[Output]]:
    after, outputs, _ = apply_noting_changes(state, event, policy)
    return after, outputs


def apply_noting_changes(
    state: SchedulerState, event: InboxEvent, policy: SchedulerPolicy = DEFAULT_POLICY
) -> tuple[SchedulerState, list[Output], frozenset[str]]:
    """`apply`, and the ids of the jobs whose entries it changed, added or removed."""
    step = Step(state, event.occurred_at, policy)
    running_before = running_per_tenant(step)
    match event:
        case JobAdmitted():
            _admit(step, event)
        case CancelRequested():
            _cancel(step, event)
        case WorkerHeartbeat():
            heartbeat(step, event)
        case SchedulerTick():
            step.ticks += 1
            tick(step, sweep=sweep_due(step))
        case RenderStarted() | RenderProgress() | RenderSucceeded() | RenderFailed():
            _render_event(step, event)
    fill_idle_slots(step)
    sweep = isinstance(event, SchedulerTick) and sweep_due(step)
    if sweep or running_per_tenant(step) != running_before:
        mark_throttled(step, step.waiting())
    elif isinstance(event, JobAdmitted) and (job := step.jobs.get(event.job_id)) and job.queued:
        mark_throttled(step, [job.queued])
    if sweep:
        refresh_positions(step)
    elif isinstance(event, JobAdmitted):
        announce(step, event.job_id)
    return step.state(), step.outputs, step.touched()


# ---- arrivals and cancellations --------------------------------------------------------------------


def _admit(step: Step, event: JobAdmitted) -> None:
    if event.job_id in step.jobs or event.job_id in step.finished:
        return  # a redelivered admission: already known
    cost = step.cost_model.seconds(event.params)
    fifo_wait = _fifo_wait(step, cost)
    step.seq += 1
    queued = QueuedJob(event, step.seq, step.now, cost, fifo_wait)
    status = JobStatus(
        job_id=event.job_id,
        tenant_id=event.tenant_id,
        state=JobState.QUEUED,
        prompt=event.prompt,
        negative_prompt=event.negative_prompt,
        params=event.params,
        webhook_url=event.webhook_url,
        job_key_id=event.job_key_id,  # the three fields above travel as admission sealed them
        prompt_words=event.prompt_words,
        metadata=dict(event.metadata),
        created_at=event.submitted_at,
        updated_at=step.now,
        state_times={"accepted": event.submitted_at, "queued": step.now},
        priority=event.priority,
        deadline=event.deadline,
        version=0,
        predicted_long=event.predicted_long,
        long_probability=event.long_probability,
    )
    step.jobs[event.job_id] = Job(event, status, queued)  # published by announce (its place on the tick)


def _fifo_wait(step: Step, cost: float) -> float:
    """The wait plain FIFO would give this job: a shadow FIFO schedule over the live slots, kept with
    expected costs (O(slots) per arrival). The aging bound is a multiple of it."""
    now = step.now.timestamp()
    live = max(1, sum(1 for s in step.slots.values() if alive(step, s)))
    clock = sorted(max(t, now) for t in step.fifo_clock)[:live]
    clock += [now] * (live - len(clock))
    start = clock[0]
    step.fifo_clock = (*clock[1:], start + cost)
    return start - now


def _cancel(step: Step, event: CancelRequested) -> None:
    job = step.jobs.get(event.job_id)
    if job is None or job.status.tenant_id != event.tenant_id:
        return  # unknown, finished, or not the caller's: nothing to cancel
    # a deletion marks the job at once: what its attempt reports later ends it canceled, without artifact
    error = (
        ErrorInfo(DELETED_CODE, "the job was deleted", False)
        if event.delete
        else ErrorInfo("canceled", event.reason or "canceled by the client", False)
    )
    if job.queued is not None:
        step.update(
            event.job_id,
            JobEventType.CANCELED,
            state=JobState.CANCELED,
            queue_position=None,
            eta_seconds=None,
            error=error,
        )
        return
    slot, attempt = job.status.slot, job.status.attempt
    if slot is not None:
        for member in members(step, event.job_id, attempt) or [slot]:  # every slot of a gang
            cancel = CancelRender(job_id=event.job_id, slot=member, attempt=attempt, occurred_at=step.now)
            step.outputs.append(SendToSlot(cancel))
        marked = {"error": error} if event.delete else {}
        step.update(event.job_id, JobEventType.CANCEL_REQUESTED, **marked)


# ---- what the attempt reports ----------------------------------------------------------------------


def _render_event(step: Step, event: RenderStarted | RenderProgress | RenderSucceeded | RenderFailed) -> None:
    job = step.jobs.get(event.job_id)
    if job is None or job.status.attempt != event.attempt:
        return  # a stale attempt (or a finished job): fenced off
    leader = job.status.slot == event.slot
    if not leader and not is_member(step, event.slot, event.job_id, event.attempt):
        return  # not a slot of this attempt (any more): fenced off
    slot = step.slots.get(event.slot)
    if slot is not None and renew_finishing(step, event.slot, event.job_id, event.attempt):
        slot = step.slots[event.slot]  # in its finish: its own lease renewed, the GPU's is the next job's
        step.slots[event.slot] = slot = replace(slot, last_seen=max(slot.last_seen, step.now))
    elif slot is not None:  # the attempt's own events show the slot alive and renew its lease
        slot = replace(
            slot, lease_expires_at=step.now + step.policy.lease, last_seen=max(slot.last_seen, step.now)
        )
        step.slots[event.slot] = slot
    if not leader:  # a gang member other than the leader: only its failure counts (streams.gang)
        if isinstance(event, RenderFailed):
            release(step, event.job_id, event.attempt, told=event.slot)
            _attempt_failed(step, event)
        return
    match event:
        case RenderStarted():
            step.update(
                event.job_id,
                JobEventType.STARTED,
                state=JobState.RUNNING,
                stage=RenderStage.ENCODE_TEXT,
                eta_seconds=step.cost_model.seconds(job.admitted.params),
            )
        case RenderProgress():
            remaining = step.cost_model.seconds(job.admitted.params) * (1.0 - event.progress)
            step.update(
                event.job_id,
                JobEventType.PROGRESS,
                state=JobState.RUNNING,
                stage=event.stage,
                progress=event.progress,
                eta_seconds=round(remaining, 3),
            )
            if slot is not None and event.stage in FINISH_STAGES and slot.job_id == event.job_id:
                start_finishing(step, slot)  # its GPU part is over: the slot takes the next job
        case RenderSucceeded() if is_deleted(job.status):
            release(
                step, event.job_id, event.attempt, cancel=False
            )  # finished before the cancel reached it: ends deleted, no artifact
            step.update(
                event.job_id, JobEventType.CANCELED, state=JobState.CANCELED, stage=None, eta_seconds=None
            )
        case RenderSucceeded():
            release(step, event.job_id, event.attempt, cancel=False)
            step.cost_model = step.cost_model.observe(
                job.admitted.params, slot.gpu_name if slot else "", event.render_seconds
            )
            step.update(
                event.job_id,
                JobEventType.SUCCEEDED,
                state=JobState.SUCCEEDED,
                progress=1.0,
                artifact=event.artifact,
                stage=None,
                eta_seconds=0.0,
            )
        case RenderFailed():
            release(step, event.job_id, event.attempt, told=event.slot)
            _attempt_failed(step, event)


def _attempt_failed(step: Step, event: RenderFailed) -> None:
    job = step.jobs[event.job_id]
    deleted = is_deleted(job.status)
    retriable = event.error.code == RENDER_TIMEOUT or event.error.retriable
    if event.error.code == "canceled" or deleted:
        step.update(
            event.job_id,
            JobEventType.CANCELED,
            state=JobState.CANCELED,
            error=job.status.error if deleted else event.error,
            stage=None,
            eta_seconds=None,
        )
    elif job.admitted.predicted_long and retriable:
        _long_task_failed(step, event)
    elif event.error.code == RENDER_TIMEOUT and event.attempt < min(2, step.policy.max_attempts):
        # past its deadline once: retried once, on another slot where one can run it, then failed
        requeue(step, event.job_id, event.error.message, backoff=True, avoid_slot=event.slot)
    elif (
        event.error.code != RENDER_TIMEOUT
        and event.error.retriable
        and event.attempt < step.policy.max_attempts
    ):
        requeue(step, event.job_id, event.error.message, backoff=True)
    else:
        step.update(
            event.job_id,
            JobEventType.FAILED,
            state=JobState.FAILED,
            error=event.error,
            stage=None,
            eta_seconds=None,
        )


def _long_task_failed(step: Step, event: RenderFailed) -> None:
    """A job predicted long failed: retried once on another slot with a longer deadline (dispatching's
    `deadline_multiple`), then failed for good, marked for the LongTaskFailedTwice alert."""
    if event.attempt < 2:
        requeue(step, event.job_id, event.error.message, backoff=True, avoid_slot=event.slot)
        return
    step.update(
        event.job_id,
        JobEventType.FAILED,
        state=JobState.FAILED,
        error=ErrorInfo(LONG_TASK_FAILED_TWICE, f"{event.error.code}: {event.error.message}", False),
        stage=None,
        eta_seconds=None,
    )
