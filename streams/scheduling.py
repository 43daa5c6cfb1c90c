"""The scheduler of one GPU pool as a pure state machine: `apply(state, event) -> (state, outputs)`.

No Faust, Kafka or clock in here: time is the `occurred_at` of the event being applied, so replaying the same
inbox gives the same decisions. This first form is FIFO with capability matching (a slot renders the model
its renderer serves); fairness, priorities, leases and ETAs are the scheduler issue's.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from types import MappingProxyType
from typing import Any

from schemas.codec import from_datum, to_datum
from schemas.events import (
    CancelRender,
    CancelRequested,
    DispatchRender,
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
    WorkerHeartbeat,
)

RECENTLY_FINISHED = 10_000  # finished job ids remembered to drop duplicates and late events
DISPATCH_GRACE = timedelta(seconds=15)  # an idle heartbeat this long after a dispatch means it was lost


@dataclass(frozen=True)
class Slot:
    slot: int
    worker_id: str
    renderer: str
    last_seen: datetime
    job_id: str | None = None
    attempt: int | None = None


@dataclass(frozen=True)
class Job:
    admitted: JobAdmitted
    status: JobStatus


@dataclass(frozen=True)
class SchedulerState:
    pool_id: str
    queue: tuple[str, ...] = ()
    jobs: Mapping[str, Job] = field(default_factory=lambda: MappingProxyType({}))
    slots: Mapping[int, Slot] = field(default_factory=lambda: MappingProxyType({}))
    finished: tuple[str, ...] = ()


@dataclass(frozen=True)
class Publish:
    """Write this snapshot to jobs.status and a lifecycle event of `event_type` to jobs.events."""

    status: JobStatus
    event_type: JobEventType


@dataclass(frozen=True)
class SendToSlot:
    """Write this command to partition `command.slot` of render.dispatch."""

    command: DispatchRender | CancelRender


Output = Publish | SendToSlot


class _Step:
    """Accumulates the changes of one `apply` so the handlers read as plain steps."""

    def __init__(self, state: SchedulerState, now: datetime) -> None:
        self.queue = list(state.queue)
        self.jobs = dict(state.jobs)
        self.slots = dict(state.slots)
        self.finished = list(state.finished)
        self.pool_id = state.pool_id
        self.now = now
        self.outputs: list[Output] = []

    def update(self, job_id: str, event_type: JobEventType, **changes: Any) -> JobStatus:
        job = self.jobs[job_id]
        status = job.status
        new_state = changes.get("state", status.state)
        times = dict(status.state_times)
        if new_state != status.state:
            times[str(new_state)] = self.now
        status = replace(
            status, **changes, state_times=times, updated_at=self.now, version=status.version + 1
        )
        self.jobs[job_id] = replace(job, status=status)
        self.outputs.append(Publish(status, event_type))
        if status.state.terminal:
            del self.jobs[job_id]
            self.finished = [*self.finished, job_id][-RECENTLY_FINISHED:]
        return status

    def state(self) -> SchedulerState:
        return SchedulerState(
            self.pool_id,
            tuple(self.queue),
            MappingProxyType(self.jobs),
            MappingProxyType(self.slots),
            tuple(self.finished),
        )


def apply(state: SchedulerState, event: InboxEvent) -> tuple[SchedulerState, list[Output]]:
    step = _Step(state, event.occurred_at)
    match event:
        case JobAdmitted():
            _admit(step, event)
        case CancelRequested():
            _cancel(step, event)
        case WorkerHeartbeat():
            _heartbeat(step, event)
        case RenderStarted() | RenderProgress() | RenderSucceeded() | RenderFailed():
            _render_event(step, event)
    _fill_idle_slots(step)
    return step.state(), step.outputs


def _admit(step: _Step, event: JobAdmitted) -> None:
    if event.job_id in step.jobs or event.job_id in step.finished:
        return  # a redelivered admission: already known
    status = JobStatus(
        job_id=event.job_id,
        tenant_id=event.tenant_id,
        state=JobState.QUEUED,
        prompt=event.prompt,
        negative_prompt=event.negative_prompt,
        params=event.params,
        webhook_url=event.webhook_url,
        metadata=dict(event.metadata),
        created_at=event.submitted_at,
        updated_at=step.now,
        state_times={"accepted": event.submitted_at, "queued": step.now},
        queue_position=len(step.queue),
        version=1,
    )
    step.jobs[event.job_id] = Job(event, status)
    step.queue.append(event.job_id)
    step.outputs.append(Publish(status, JobEventType.QUEUED))


def _cancel(step: _Step, event: CancelRequested) -> None:
    job = step.jobs.get(event.job_id)
    if job is None or job.status.tenant_id != event.tenant_id:
        return  # unknown, finished, or not the caller's: nothing to cancel
    if event.job_id in step.queue:
        step.queue.remove(event.job_id)
        step.update(
            event.job_id,
            JobEventType.CANCELED,
            state=JobState.CANCELED,
            queue_position=None,
            error=ErrorInfo("canceled", event.reason or "canceled by the client", False),
        )
        _refresh_positions(step)
        return
    slot, attempt = job.status.slot, job.status.attempt
    if slot is not None:
        step.outputs.append(
            SendToSlot(CancelRender(job_id=event.job_id, slot=slot, attempt=attempt, occurred_at=step.now))
        )
        step.update(event.job_id, JobEventType.CANCEL_REQUESTED)


def _heartbeat(step: _Step, event: WorkerHeartbeat) -> None:
    known = step.slots.get(event.slot)
    if known is not None and known.job_id is not None and _lost(step, known, event):
        _requeue(step, known.job_id)
        known = replace(known, job_id=None, attempt=None)
    if known is None or known.worker_id != event.worker_id:
        known = Slot(event.slot, event.worker_id, event.renderer, event.occurred_at)
    step.slots[event.slot] = replace(known, renderer=event.renderer, last_seen=event.occurred_at)


def _lost(step: _Step, slot: Slot, beat: WorkerHeartbeat) -> bool:
    """The slot's job is not running there: another worker took the slot, or the worker has been idle for
    longer than a dispatch takes to arrive (it never saw the dispatch record, e.g. it was not started yet)."""
    if slot.worker_id != beat.worker_id:
        return True
    job = step.jobs.get(slot.job_id or "")
    if job is None:
        return True
    dispatched_at = job.status.state_times.get(JobState.DISPATCHED.value, beat.occurred_at)
    return beat.job_id is None and beat.occurred_at - dispatched_at > DISPATCH_GRACE


def _requeue(step: _Step, job_id: str) -> None:
    """Put a job whose attempt was lost back at the head of the queue; its next dispatch is attempt + 1, so
    anything the lost attempt still reports is fenced off."""
    if job_id not in step.jobs:
        return
    step.queue.insert(0, job_id)
    step.update(
        job_id,
        JobEventType.REQUEUED,
        state=JobState.QUEUED,
        slot=None,
        stage=None,
        progress=0.0,
        queue_position=0,
    )


def _render_event(
    step: _Step, event: RenderStarted | RenderProgress | RenderSucceeded | RenderFailed
) -> None:
    job = step.jobs.get(event.job_id)
    if job is None or job.status.attempt != event.attempt or job.status.slot != event.slot:
        return  # a stale attempt (or a finished job): fenced off
    match event:
        case RenderStarted():
            step.update(
                event.job_id, JobEventType.STARTED, state=JobState.RUNNING, stage=RenderStage.ENCODE_TEXT
            )
        case RenderProgress():
            step.update(
                event.job_id,
                JobEventType.PROGRESS,
                state=JobState.RUNNING,
                stage=event.stage,
                progress=event.progress,
            )
        case RenderSucceeded():
            _free(step, event.slot)
            step.update(
                event.job_id,
                JobEventType.SUCCEEDED,
                state=JobState.SUCCEEDED,
                progress=1.0,
                artifact=event.artifact,
                stage=None,
            )
        case RenderFailed():
            _free(step, event.slot)
            canceled = event.error.code == "canceled"
            step.update(
                event.job_id,
                JobEventType.CANCELED if canceled else JobEventType.FAILED,
                state=JobState.CANCELED if canceled else JobState.FAILED,
                error=event.error,
                stage=None,
            )


def _free(step: _Step, slot: int) -> None:
    if slot in step.slots:
        step.slots[slot] = replace(step.slots[slot], job_id=None, attempt=None)


def _fill_idle_slots(step: _Step) -> None:
    moved = False
    for index in sorted(step.slots):
        slot = step.slots[index]
        if slot.job_id is not None:
            continue
        job_id = next((j for j in step.queue if step.jobs[j].admitted.params.model == slot.renderer), None)
        if job_id is None:
            continue
        step.queue.remove(job_id)
        _dispatch(step, step.jobs[job_id], slot)
        moved = True
    if moved:
        _refresh_positions(step)


def _dispatch(step: _Step, job: Job, slot: Slot) -> None:
    admitted, attempt = job.admitted, job.status.attempt + 1
    key = f"{admitted.tenant_id}/{admitted.job_id}/{attempt}/video.mp4"
    step.outputs.append(
        SendToSlot(
            DispatchRender(
                job_id=admitted.job_id,
                slot=slot.slot,
                attempt=attempt,
                tenant_id=admitted.tenant_id,
                prompt=admitted.prompt,
                negative_prompt=admitted.negative_prompt,
                params=admitted.params,
                artifact_key=key,
                occurred_at=step.now,
            )
        )
    )
    step.slots[slot.slot] = replace(slot, job_id=admitted.job_id, attempt=attempt)
    step.update(
        admitted.job_id,
        JobEventType.DISPATCHED,
        state=JobState.DISPATCHED,
        attempt=attempt,
        slot=slot.slot,
        queue_position=None,
    )


def _refresh_positions(step: _Step) -> None:
    """Queued jobs whose position changed get a new snapshot (position = jobs that run before it)."""
    for position, job_id in enumerate(step.queue):
        if step.jobs[job_id].status.queue_position != position:
            step.update(job_id, JobEventType.QUEUED, queue_position=position)


def dump_state(state: SchedulerState) -> bytes:
    """The state as JSON (for the scheduler's changelog-backed table)."""
    return json.dumps(to_datum(state), default=lambda ts: ts.isoformat(), separators=(",", ":")).encode()


def load_state(data: bytes) -> SchedulerState:
    state: SchedulerState = from_datum(SchedulerState, json.loads(data))
    return replace(state, jobs=MappingProxyType(dict(state.jobs)), slots=MappingProxyType(dict(state.slots)))
