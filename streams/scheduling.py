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
"""

from __future__ import annotations

from collections.abc import ItemsView, Iterator, Mapping, MutableMapping, ValuesView
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from types import MappingProxyType
from typing import Any, cast

import immutables
import orjson

from reelstream.cost_model import CostModel
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
    SchedulerTick,
    WorkerHeartbeat,
)
from streams.fair_queue import QueuedJob, SchedulerPolicy, charge, first, order, retry_backoff

THROTTLED = "throttled"  # JobStatus.reason of a queued job whose tenant is at its running cap
RECENTLY_FINISHED = 2_000  # finished job ids remembered to drop duplicates and late events
SWEEP_JOBS = 2_000  # queued jobs a second of ticks sweeps (see _sweep_due)
DEFAULT_POLICY = SchedulerPolicy()


@dataclass(frozen=True)
class Slot:
    slot: int
    worker_id: str
    renderer: str
    last_seen: datetime
    gpu_name: str = ""
    max_work_units: int | None = None
    job_id: str | None = None
    attempt: int | None = None
    lease_expires_at: datetime | None = None
    # the worker reports running an attempt this slot does not hold (one whose lease lapsed, e.g. while the
    # broker was away): the slot gets no work until the worker says it is idle, since a dispatch would wait
    # behind that attempt and lose its lease
    busy_elsewhere: bool = False


@dataclass(frozen=True)
class Job:
    admitted: JobAdmitted
    status: JobStatus
    queued: QueuedJob | None = None  # set while the job waits


@dataclass(frozen=True)
class SchedulerState:
    pool_id: str
    jobs: Mapping[str, Job] = field(default_factory=immutables.Map)  # persistent: states share structure
    slots: Mapping[int, Slot] = field(default_factory=lambda: MappingProxyType({}))
    finished: tuple[str, ...] = ()
    service: Mapping[str, float] = field(default_factory=lambda: MappingProxyType({}))
    cost_model: CostModel = field(default_factory=CostModel)
    seq: int = 0
    fifo_clock: tuple[float, ...] = ()  # when each slot would be free under plain FIFO (epoch seconds)
    ticks: int = 0  # ticks applied: paces the sweeps over the whole queue (see _sweep_due)

    @property
    def queue(self) -> list[str]:
        """Queued job ids in arrival order."""
        waiting = [j for j in self.jobs.values() if j.queued is not None]
        return [j.admitted.job_id for j in sorted(waiting, key=lambda j: j.queued.seq if j.queued else 0)]


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


_DELETED = object()


class _Jobs(MutableMapping[str, Job]):
    """A step's view of the pool's jobs: the state's persistent map (a HAMT, shared between states) plus the
    step's changes. Starting a step and ending it cost O(changes × log n), not a copy of every queued job,
    and the ids it wrote or removed are known, so storing the state after it looks at those only."""

    def __init__(self, jobs: Mapping[str, Job]) -> None:
        self._base = jobs if isinstance(jobs, immutables.Map) else immutables.Map(jobs.items())
        self._changes: dict[str, Any] = {}
        self._current: immutables.Map[str, Job] | None = self._base

    def __getitem__(self, job_id: str) -> Job:
        job = self._changes.get(job_id, self._base.get(job_id, _DELETED))
        if job is _DELETED:
            raise KeyError(job_id)
        return cast(Job, job)

    def __contains__(self, job_id: object) -> bool:
        job = self._changes.get(job_id, _DELETED) if isinstance(job_id, str) else _DELETED
        return job is not _DELETED or (job_id not in self._changes and job_id in self._base)

    def __setitem__(self, job_id: str, job: Job) -> None:
        self._changes[job_id] = job
        self._current = None

    def __delitem__(self, job_id: str) -> None:
        if job_id not in self:
            raise KeyError(job_id)
        self._changes[job_id] = _DELETED
        self._current = None

    def __iter__(self) -> Iterator[str]:
        return iter(self.current())

    def __len__(self) -> int:
        return len(self.current())

    # the map's own views (iterable and sized, like a dict's): iterating them runs in C, where the
    # inherited views would call __getitem__ per key
    def values(self) -> ValuesView[Job]:
        return cast("ValuesView[Job]", self.current().values())

    def items(self) -> ItemsView[str, Job]:
        return cast("ItemsView[str, Job]", self.current().items())

    def current(self) -> immutables.Map[str, Job]:
        """The jobs as a persistent map: the state's, with this step's changes so far."""
        if self._current is None:
            with self._base.mutate() as jobs:
                for job_id, job in self._changes.items():
                    if job is _DELETED:
                        jobs.pop(job_id, None)
                    else:
                        jobs[job_id] = job
                self._current = jobs.finish()
        return cast("immutables.Map[str, Job]", self._current)

    def touched(self) -> frozenset[str]:
        return frozenset(self._changes)


class _Step:
    """Accumulates the changes of one `apply` so the handlers read as plain steps."""

    def __init__(self, state: SchedulerState, now: datetime, policy: SchedulerPolicy) -> None:
        self.pool_id, self.now, self.policy = state.pool_id, now, policy
        self._jobs = _Jobs(state.jobs)
        self.jobs: MutableMapping[str, Job] = self._jobs
        self.slots = dict(state.slots)
        self.finished = list(state.finished)
        self.service = dict(state.service)
        self.cost_model = state.cost_model
        self.seq = state.seq
        self.fifo_clock = state.fifo_clock
        self.ticks = state.ticks
        self.outputs: list[Output] = []

    def update(self, job_id: str, event_type: JobEventType, **changes: Any) -> JobStatus:
        job = self.jobs[job_id]
        status = job.status
        times = dict(status.state_times)
        if changes.get("state", status.state) != status.state:
            times[str(changes["state"])] = self.now
        status = replace(
            status, **changes, state_times=times, updated_at=self.now, version=status.version + 1
        )
        self.jobs[job_id] = replace(job, status=status)
        self.outputs.append(Publish(status, event_type))
        if status.state.terminal:
            del self.jobs[job_id]
            self.finished = [*self.finished, job_id][-RECENTLY_FINISHED:]
        return status

    def waiting(self) -> list[QueuedJob]:
        return [j.queued for j in self.jobs.values() if j.queued is not None]

    def touched(self) -> frozenset[str]:
        return self._jobs.touched()

    def holder(self, slot: Slot) -> Job | None:
        """The job a slot holds, if the pool still knows it."""
        return None if slot.job_id is None else self.jobs.get(slot.job_id)

    def state(self) -> SchedulerState:
        return SchedulerState(
            self.pool_id,
            self._jobs.current(),
            MappingProxyType(self.slots),
            tuple(self.finished),
            MappingProxyType(self.service),
            self.cost_model,
            self.seq,
            self.fifo_clock,
            self.ticks,
        )


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
    step = _Step(state, event.occurred_at, policy)
    running_before = _running_per_tenant(step)
    match event:
        case JobAdmitted():
            _admit(step, event)
        case CancelRequested():
            _cancel(step, event)
        case WorkerHeartbeat():
            _heartbeat(step, event)
        case SchedulerTick():
            step.ticks += 1
            _tick(step, sweep=_sweep_due(step))
        case RenderStarted() | RenderProgress() | RenderSucceeded() | RenderFailed():
            _render_event(step, event)
    _fill_idle_slots(step)
    sweep = isinstance(event, SchedulerTick) and _sweep_due(step)
    if sweep or _running_per_tenant(step) != running_before:
        _mark_throttled(step, step.waiting())
    elif isinstance(event, JobAdmitted) and (job := step.jobs.get(event.job_id)) and job.queued:
        _mark_throttled(step, [job.queued])
    if sweep:
        _refresh_positions(step)
    elif isinstance(event, JobAdmitted):
        _announce(step, event.job_id)
    return step.state(), step.outputs, step.touched()


# ---- arrivals and cancellations --------------------------------------------------------------------


def _admit(step: _Step, event: JobAdmitted) -> None:
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
        metadata=dict(event.metadata),
        created_at=event.submitted_at,
        updated_at=step.now,
        state_times={"accepted": event.submitted_at, "queued": step.now},
        priority=event.priority,
        deadline=event.deadline,
        version=0,
    )
    step.jobs[event.job_id] = Job(event, status, queued)  # published by _announce (its place on the tick)


def _fifo_wait(step: _Step, cost: float) -> float:
    """The wait plain FIFO would give this job: a shadow FIFO schedule over the live slots, kept with
    expected costs (O(slots) per arrival). The aging bound is a multiple of it."""
    now = step.now.timestamp()
    live = max(1, sum(1 for s in step.slots.values() if _alive(step, s)))
    clock = sorted(max(t, now) for t in step.fifo_clock)[:live]
    clock += [now] * (live - len(clock))
    start = clock[0]
    step.fifo_clock = (*clock[1:], start + cost)
    return start - now


def _cancel(step: _Step, event: CancelRequested) -> None:
    job = step.jobs.get(event.job_id)
    if job is None or job.status.tenant_id != event.tenant_id:
        return  # unknown, finished, or not the caller's: nothing to cancel
    if job.queued is not None:
        step.update(
            event.job_id,
            JobEventType.CANCELED,
            state=JobState.CANCELED,
            queue_position=None,
            eta_seconds=None,
            error=ErrorInfo("canceled", event.reason or "canceled by the client", False),
        )
        return
    slot, attempt = job.status.slot, job.status.attempt
    if slot is not None:
        cancel = CancelRender(job_id=event.job_id, slot=slot, attempt=attempt, occurred_at=step.now)
        step.outputs.append(SendToSlot(cancel))
        step.update(event.job_id, JobEventType.CANCEL_REQUESTED)


# ---- slots, leases and time ------------------------------------------------------------------------


def _alive(step: _Step, slot: Slot) -> bool:
    return step.now - slot.last_seen <= step.policy.lease


def _heartbeat(step: _Step, beat: WorkerHeartbeat) -> None:
    known = step.slots.get(beat.slot)
    if known is not None and known.job_id is not None:
        if _lost(step, known, beat):
            _requeue(step, known.job_id, "the slot's worker is not running this attempt")
            known = replace(known, job_id=None, attempt=None, lease_expires_at=None)
        elif (beat.job_id, beat.attempt) == (known.job_id, known.attempt):
            known = replace(known, lease_expires_at=step.now + step.policy.lease)
    if known is None or known.worker_id != beat.worker_id:
        known = Slot(beat.slot, beat.worker_id, beat.renderer, beat.occurred_at)
    reported = (beat.job_id, beat.attempt) if beat.job_id is not None else None
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


def _lost(step: _Step, slot: Slot, beat: WorkerHeartbeat) -> bool:
    """The slot's job is not running there: another worker took the slot, or the worker has been idle for
    longer than a dispatch takes to arrive (it never saw the dispatch record, e.g. it was not started yet)."""
    if slot.worker_id != beat.worker_id:
        return True
    job = step.jobs.get(slot.job_id or "")
    if job is None:
        return True
    dispatched_at = job.status.state_times.get(JobState.DISPATCHED.value, beat.occurred_at)
    return beat.job_id is None and beat.occurred_at - dispatched_at > step.policy.dispatch_grace


def _sweep_due(step: _Step) -> bool:
    """Whether this tick looks at every queued job (deadlines, throttling, places and ETAs): every tick up
    to SWEEP_JOBS jobs, then every (jobs // SWEEP_JOBS)-th, so what ticks cost per second stays about
    flat as the queue grows (at 100k queued, places are refreshed every 50 ticks) while leases are checked
    on every tick. A sweep costs ~30 µs per queued job (ranking it) on a 2-core machine."""
    return step.ticks % max(1, len(step.jobs) // SWEEP_JOBS) == 0


def _tick(step: _Step, sweep: bool) -> None:
    for index, slot in list(step.slots.items()):
        if slot.job_id is not None and slot.lease_expires_at is not None and step.now > slot.lease_expires_at:
            del step.slots[index]  # silent: forgotten until it heartbeats again
            _requeue(step, slot.job_id, f"lease of slot {index} expired (no heartbeat)")
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


def _requeue(step: _Step, job_id: str, why: str, backoff: bool = False) -> None:
    """Back to the front of its tenant's queue; the next dispatch is attempt + 1, so anything the lost
    attempt still reports is fenced off. After max_attempts the job fails. An attempt that failed (rather
    than one whose worker vanished) is retried after a backoff with jitter (fair_queue.retry_backoff)."""
    job = step.jobs.get(job_id)
    if job is None:
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
        job.admitted, -job.status.attempt, step.now, cost, 0.0, retried=True, not_before=not_before
    )
    step.jobs[job_id] = replace(job, queued=queued)
    step.update(job_id, JobEventType.REQUEUED, state=JobState.QUEUED, slot=None, stage=None, progress=0.0)


def _free(step: _Step, slot: int) -> None:
    if slot in step.slots:
        step.slots[slot] = replace(step.slots[slot], job_id=None, attempt=None, lease_expires_at=None)


# ---- what the attempt reports ----------------------------------------------------------------------


def _render_event(
    step: _Step, event: RenderStarted | RenderProgress | RenderSucceeded | RenderFailed
) -> None:
    job = step.jobs.get(event.job_id)
    if job is None or job.status.attempt != event.attempt or job.status.slot != event.slot:
        return  # a stale attempt (or a finished job): fenced off
    slot = step.slots.get(event.slot)
    if slot is not None:  # the attempt's own events show the slot alive and renew its lease
        slot = replace(
            slot, lease_expires_at=step.now + step.policy.lease, last_seen=max(slot.last_seen, step.now)
        )
        step.slots[event.slot] = slot
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
        case RenderSucceeded():
            _free(step, event.slot)
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
            _free(step, event.slot)
            _attempt_failed(step, event)


def _attempt_failed(step: _Step, event: RenderFailed) -> None:
    if event.error.code == "canceled":
        step.update(
            event.job_id,
            JobEventType.CANCELED,
            state=JobState.CANCELED,
            error=event.error,
            stage=None,
            eta_seconds=None,
        )
    elif event.error.retriable and event.attempt < step.policy.max_attempts:
        _requeue(step, event.job_id, event.error.message, backoff=True)
    else:
        step.update(
            event.job_id,
            JobEventType.FAILED,
            state=JobState.FAILED,
            error=event.error,
            stage=None,
            eta_seconds=None,
        )


# ---- dispatching -----------------------------------------------------------------------------------


def _can_run(slot: Slot, job: QueuedJob) -> bool:
    params = job.admitted.params
    fits = (
        slot.max_work_units is None or params.num_frames * params.width * params.height <= slot.max_work_units
    )
    return params.model == slot.renderer and fits


def _running_per_tenant(step: _Step) -> dict[str, int]:
    """Jobs holding a slot (dispatched or running), per tenant."""
    running: dict[str, int] = {}
    for slot in step.slots.values():
        if (job := step.holder(slot)) is not None:
            running[job.admitted.tenant_id] = running.get(job.admitted.tenant_id, 0) + 1
    return running


def _capped(job: QueuedJob, running: Mapping[str, int]) -> bool:
    cap = job.admitted.running_cap
    return cap is not None and running.get(job.tenant, 0) >= cap


def _fill_idle_slots(step: _Step) -> None:
    idle = [
        s
        for _, s in sorted(step.slots.items())
        if s.job_id is None and not s.busy_elsewhere and _alive(step, s)
    ]
    if not idle or not any(j.queued for j in step.jobs.values()):
        return
    running = _running_per_tenant(step)
    for slot in idle:
        candidates = [
            q for q in step.waiting() if _can_run(slot, q) and _due(step, q) and not _capped(q, running)
        ]
        if candidates:
            best = first(candidates, step.service, step.now, step.policy)
            if best is not None:
                _dispatch(step, best, slot)
                running[best.tenant] = running.get(best.tenant, 0) + 1


def _due(step: _Step, job: QueuedJob) -> bool:
    """Not waiting out a retry's backoff (ticks bring the time at which it ends)."""
    return job.not_before is None or step.now >= job.not_before


def _mark_throttled(step: _Step, waiting: list[QueuedJob]) -> None:
    """Queued jobs whose tenant is at its running cap say so (`reason: throttled`); the others not. Looked
    at when the jobs holding slots change, on ticks, and for a job just admitted."""
    running = _running_per_tenant(step)
    for queued in waiting:
        reason = THROTTLED if _capped(queued, running) else None
        if step.jobs[queued.admitted.job_id].status.reason != reason:
            step.update(queued.admitted.job_id, JobEventType.QUEUED, reason=reason)


def _dispatch(step: _Step, queued: QueuedJob, slot: Slot) -> None:
    admitted = queued.admitted
    if step.jobs[admitted.job_id].status.version == 0:  # every job is seen queued, however briefly
        step.update(admitted.job_id, JobEventType.QUEUED, queue_position=0, eta_seconds=round(queued.cost, 3))
    job = step.jobs[admitted.job_id]
    attempt = job.status.attempt + 1
    lease = step.now + step.policy.lease
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
                artifact_key=f"{admitted.tenant_id}/{admitted.job_id}/{attempt}/video.mp4",
                lease_expires_at=lease,
                occurred_at=step.now,
            )
        )
    )
    holders = (step.holder(s) for s in step.slots.values())
    active = {q.tenant for q in step.waiting()} | {job.admitted.tenant_id for job in holders if job}
    step.service = charge(
        step.service, active - {admitted.tenant_id}, admitted.tenant_id, queued.cost, step.policy
    )
    step.slots[slot.slot] = replace(slot, job_id=admitted.job_id, attempt=attempt, lease_expires_at=lease)
    step.jobs[admitted.job_id] = replace(job, queued=None)
    step.update(
        admitted.job_id,
        JobEventType.DISPATCHED,
        state=JobState.DISPATCHED,
        attempt=attempt,
        slot=slot.slot,
        queue_position=None,
        eta_seconds=round(queued.cost, 3),
        reason=None,
    )


def _running_work(step: _Step) -> float:
    """Expected seconds still to render on the pool's slots."""
    holders = (step.holder(s) for s in step.slots.values())
    return sum(step.cost_model.seconds(j.admitted.params) * (1 - j.status.progress) for j in holders if j)


def _announce(step: _Step, job_id: str) -> None:
    """A job just admitted and still waiting is published as queued at once; its place and ETA come with
    the next tick (ranking the whole queue on every event would make each event cost O(queue))."""
    job = step.jobs.get(job_id)
    if job is not None and job.queued is not None and job.status.version == 0:
        step.update(job_id, JobEventType.QUEUED)


def _refresh_positions(step: _Step) -> None:
    """On each tick, queued jobs whose position changed get a new snapshot, with an ETA from the cost model:
    the expected work ahead of them spread over the live slots, plus their own. The first refresh_limit
    places are refreshed; a job further back says it is queued and gets its place as it moves up."""
    waiting = step.waiting()
    if not waiting:
        return
    live = max(1, sum(1 for s in step.slots.values() if _alive(step, s)))
    ahead = _running_work(step)
    head = order(waiting, step.service, step.now, step.policy, limit=step.policy.refresh_limit)
    for position, queued in enumerate(head):
        status = step.jobs[queued.admitted.job_id].status
        eta = round(ahead / live + queued.cost, 3)
        if status.queue_position != position or status.version == 0:
            step.update(queued.admitted.job_id, JobEventType.QUEUED, queue_position=position, eta_seconds=eta)
        ahead += queued.cost
    in_head = {q.admitted.job_id for q in head}
    for queued in waiting:  # beyond the refreshed head: say it is queued once; its place comes later
        if queued.admitted.job_id not in in_head and step.jobs[queued.admitted.job_id].status.version == 0:
            step.update(queued.admitted.job_id, JobEventType.QUEUED)


# ---- persistence -----------------------------------------------------------------------------------


def dump_state(state: SchedulerState) -> bytes:
    """The state as JSON (for the scheduler's changelog-backed table)."""
    return orjson.dumps(to_datum(state), option=orjson.OPT_NON_STR_KEYS)


def load_state(data: bytes) -> SchedulerState:
    state: SchedulerState = from_datum(SchedulerState, orjson.loads(data))
    model = CostModel(MappingProxyType(dict(state.cost_model.learned)))
    return replace(
        state,
        jobs=immutables.Map(state.jobs),
        slots=MappingProxyType(dict(state.slots)),
        service=MappingProxyType(dict(state.service)),
        cost_model=model,
    )
