"""The pool scheduler's dispatching: idle slots filled in fair order, running caps, the slot share bound,
queue places and ETAs."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace

from reelstream.object_store import video_key
from schemas.events import DispatchRender, JobAdmitted, JobEventType, JobState
from streams.fair_queue import QueuedJob, SchedulerPolicy, charge, first, order
from streams.gang import gang_size
from streams.scheduler_state import THROTTLED, SendToSlot, Slot
from streams.scheduling_step import Step, alive


def _can_run(slot: Slot, job: QueuedJob) -> bool:
    params = job.admitted.params
    fits = (
        slot.max_work_units is None or params.num_frames * params.width * params.height <= slot.max_work_units
    )
    return params.model == slot.renderer and fits


def _elsewhere(step: Step, job: QueuedJob, slot: Slot) -> bool:
    """The job's render timed out on this slot and another live slot can run it: the retry goes there."""
    if job.avoid_slot != slot.slot:
        return False
    return any(s.slot != slot.slot and alive(step, s) and _can_run(s, job) for s in step.slots.values())


def deadline_multiple(admitted: JobAdmitted, attempt: int, policy: SchedulerPolicy) -> float:
    """The render deadline's stretch: a job predicted long gets a longer one on its retry (attempt 2 on)."""
    return policy.long_retry_deadline_multiple if admitted.predicted_long and attempt > 1 else 1.0


def running_per_tenant(step: Step) -> dict[str, int]:
    """Jobs holding slots (dispatched or running, or in their finish), per tenant: a gang counts once (the
    running caps)."""
    running: dict[str, set[str]] = {}
    for slot in step.slots.values():
        held = [slot.job_id, *(f.job_id for f in slot.finishing)]
        for job in (step.jobs.get(job_id) for job_id in held if job_id is not None):
            if job is not None:
                running.setdefault(job.admitted.tenant_id, set()).add(job.admitted.job_id)
    return {tenant: len(jobs) for tenant, jobs in running.items()}


def slots_per_tenant(step: Step) -> dict[str, int]:
    """Slots held per tenant: a gang counts each of its slots (the slot share bound)."""
    held: dict[str, int] = {}
    for slot in step.slots.values():
        if (job := step.holder(slot)) is not None:
            held[job.admitted.tenant_id] = held.get(job.admitted.tenant_id, 0) + 1
    return held


def _capped(job: QueuedJob, running: Mapping[str, int]) -> bool:
    cap = job.admitted.running_cap
    return cap is not None and running.get(job.tenant, 0) >= cap


def _ready(step: Step, queued: QueuedJob, slot: Slot, running: Mapping[str, int]) -> bool:
    return (
        _can_run(slot, queued)
        and _due(step, queued)
        and not _capped(queued, running)
        and not _elsewhere(step, queued, slot)
    )


def fill_idle_slots(step: Step) -> None:
    idle = [
        s
        for _, s in sorted(step.slots.items())
        if s.job_id is None and not s.busy_elsewhere and alive(step, s)
    ]
    if not idle or not any(j.queued for j in step.jobs.values()):
        return
    running = running_per_tenant(step)
    held = slots_per_tenant(step)
    share_cap = step.policy.slot_share_cap(sum(1 for s in step.slots.values() if alive(step, s)))
    taken: set[int] = set()
    for slot in idle:
        if slot.slot in taken:
            continue  # a member of a gang dispatched in this step
        candidates = [q for q in step.waiting() if _ready(step, q, slot, running)]
        candidates = _within_share(candidates, held, share_cap)
        if candidates:
            best = first(candidates, step.service, step.now, step.policy)
            if best is not None:
                free = [s for s in idle if s.slot not in taken and s.slot != slot.slot]
                gang = _gang(step, best, slot, free, running, held, share_cap)
                _dispatch(step, best, gang)
                taken.update(s.slot for s in gang)
                running[best.tenant] = running.get(best.tenant, 0) + 1
                held[best.tenant] = held.get(best.tenant, 0) + len(gang)


def _gang(
    step: Step,
    job: QueuedJob,
    leader: Slot,
    free: list[Slot],
    running: Mapping[str, int],
    held: Mapping[str, int],
    share_cap: int | None,
) -> list[Slot]:
    """The slots the job takes now: the leader's, and (streams.gang) other idle slots that can run it."""
    max_slots = step.policy.gang_slots_for(job.admitted.params.model)
    if max_slots <= 1:
        return [leader]
    free = [s for s in free if _can_run(s, job) and not _elsewhere(step, job, s)]
    if not free:
        return [leader]
    idle = 1 + len(free)
    # only whether the other waiting jobs leave spare slots matters: count them up to `idle`
    after = {**running, job.tenant: running.get(job.tenant, 0) + 1}  # with this job running
    others = 0
    for queued in step.waiting():
        if others >= idle:
            break
        if (
            queued.admitted.job_id != job.admitted.job_id
            and _due(step, queued)
            and not _capped(queued, after)
        ):
            others += 1
    others_wait = share_cap is not None and any(q.tenant != job.tenant for q in step.waiting())
    room = max(1, share_cap - held.get(job.tenant, 0)) if share_cap is not None and others_wait else None
    size = gang_size(job.admitted, max_slots=max_slots, idle=idle, others_waiting=others, share_room=room)
    return [leader, *free[: size - 1]]


def _within_share(
    candidates: list[QueuedJob], running: Mapping[str, int], share_cap: int | None
) -> list[QueuedJob]:
    """The slot share bound: while a tenant below its share has a job this slot can run, tenants at their
    share do not get the slot. When only tenants at their share wait, they take it (no slot stays idle)."""
    if share_cap is None:
        return candidates
    below = [q for q in candidates if running.get(q.tenant, 0) < share_cap]
    return below or candidates


def _due(step: Step, job: QueuedJob) -> bool:
    """Not waiting out a retry's backoff (ticks bring the time at which it ends)."""
    return job.not_before is None or step.now >= job.not_before


def mark_throttled(step: Step, waiting: list[QueuedJob]) -> None:
    """Queued jobs whose tenant is at its running cap say so (`reason: throttled`); the others not. Looked
    at when the jobs holding slots change, on ticks, and for a job just admitted."""
    running = running_per_tenant(step)
    for queued in waiting:
        reason = THROTTLED if _capped(queued, running) else None
        if step.jobs[queued.admitted.job_id].status.reason != reason:
            step.update(queued.admitted.job_id, JobEventType.QUEUED, reason=reason)


def _dispatch(step: Step, queued: QueuedJob, gang: list[Slot]) -> None:
    """Dispatch the job's next attempt to `gang[0]` (its leader) and the gang's other slots, if any: one
    DispatchRender per slot, all holding the attempt under one lease."""
    admitted = queued.admitted
    if step.jobs[admitted.job_id].status.version == 0:  # every job is seen queued, however briefly
        step.update(admitted.job_id, JobEventType.QUEUED, queue_position=0, eta_seconds=round(queued.cost, 3))
    job = step.jobs[admitted.job_id]
    attempt = job.status.attempt + 1
    lease = step.now + step.policy.lease
    leader = gang[0].slot
    for rank, slot in enumerate(gang):
        step.outputs.append(
            SendToSlot(
                DispatchRender(
                    job_id=admitted.job_id,
                    slot=slot.slot,
                    attempt=attempt,
                    tenant_id=admitted.tenant_id,
                    prompt=admitted.prompt,
                    negative_prompt=admitted.negative_prompt,
                    job_key_id=admitted.job_key_id,  # the worker opens them (reelstream.crypto.job_fields)
                    params=admitted.params,
                    artifact_key=video_key(admitted.tenant_id, admitted.job_id, attempt),
                    lease_expires_at=lease,
                    deadline_multiple=deadline_multiple(admitted, attempt, step.policy),
                    gang_size=len(gang),
                    gang_rank=rank,
                    gang_leader_slot=leader if len(gang) > 1 else None,
                    occurred_at=step.now,
                )
            )
        )
        step.slots[slot.slot] = replace(slot, job_id=admitted.job_id, attempt=attempt, lease_expires_at=lease)
    holders = (step.holder(s) for s in step.slots.values())
    active = {q.tenant for q in step.waiting()} | {job.admitted.tenant_id for job in holders if job}
    # a tenant that asked for gangs pays for every slot it holds; spare slots nobody waited for are free
    charged = queued.cost * (len(gang) if admitted.max_gang_slots else 1)
    step.service = charge(
        step.service, active - {admitted.tenant_id}, admitted.tenant_id, charged, step.policy
    )
    step.jobs[admitted.job_id] = replace(job, queued=None)
    step.update(
        admitted.job_id,
        JobEventType.DISPATCHED,
        state=JobState.DISPATCHED,
        attempt=attempt,
        slot=leader,
        queue_position=None,
        eta_seconds=round(queued.cost, 3),
        reason=None,
    )


def _running_work(step: Step) -> float:
    """Expected seconds still to render on the pool's slots."""
    holders = {j.admitted.job_id: j for s in step.slots.values() if (j := step.holder(s))}  # a gang once
    return sum(step.cost_model.seconds(j.admitted.params) * (1 - j.status.progress) for j in holders.values())


def announce(step: Step, job_id: str) -> None:
    """A job just admitted and still waiting is published as queued at once; its place and ETA come with
    the next tick (ranking the whole queue on every event would make each event cost O(queue))."""
    job = step.jobs.get(job_id)
    if job is not None and job.queued is not None and job.status.version == 0:
        step.update(job_id, JobEventType.QUEUED)


def refresh_positions(step: Step) -> None:
    """On each tick, queued jobs whose position changed get a new snapshot, with an ETA from the cost model:
    the expected work ahead of them spread over the live slots, plus their own. The first refresh_limit
    places are refreshed; a job further back says it is queued and gets its place as it moves up."""
    waiting = step.waiting()
    if not waiting:
        return
    live = max(1, sum(1 for s in step.slots.values() if alive(step, s)))
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
