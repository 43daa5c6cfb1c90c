"""The operator's view of a pool: its `SchedulerState` as a PoolSnapshot (slots busy and idle, jobs queued
per tenant), and when one is due (`SnapshotThrottle`): when the pool changed, at most once per interval.

A change inside the interval is not lost: the scheduler asks again after every event, ticks included, so it
goes out on the first event after the interval has passed. Pure: streams/scheduler.py publishes.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from schemas.events import JobState, PoolSlot, PoolSlotJob, PoolSnapshot, TenantQueue
from streams.scheduler_state import SchedulerState, Slot


def build_snapshot(state: SchedulerState, now: datetime) -> PoolSnapshot:
    """The pool's slots by index and its queued jobs counted per tenant (ids, tenants and models only:
    never a prompt)."""
    slots = tuple(_slot(state, slot) for _, slot in sorted(state.slots.items()))
    waiting = Counter(j.admitted.tenant_id for j in state.jobs.values() if j.queued is not None)
    queues = tuple(TenantQueue(tenant_id=t, queued=n) for t, n in sorted(waiting.items()))
    return PoolSnapshot(pool_id=state.pool_id, slots=slots, queues=queues, occurred_at=now)


def _slot(state: SchedulerState, slot: Slot) -> PoolSlot:
    job = state.jobs.get(slot.job_id) if slot.job_id is not None else None
    busy = None
    if job is not None and slot.attempt is not None:
        times = job.status.state_times
        since = times.get(JobState.DISPATCHED.value) or times.get(JobState.RUNNING.value) or slot.last_seen
        busy = PoolSlotJob(
            job_id=job.admitted.job_id,
            tenant_id=job.admitted.tenant_id,
            model=job.admitted.params.model,
            attempt=slot.attempt,
            since=since,
            gang=_gang(state, job.status.slot, slot),
        )
    return PoolSlot(
        slot=slot.slot, worker_id=slot.worker_id, gpu_name=slot.gpu_name, last_seen=slot.last_seen, job=busy
    )


def _gang(state: SchedulerState, leader: int | None, slot: Slot) -> list[int]:
    """The slots holding this slot's attempt, the leader first; [] when it holds it alone (one job on a
    gang shows as one job on each of its slots, naming all of them)."""
    members = sorted(
        s.slot for s in state.slots.values() if (s.job_id, s.attempt) == (slot.job_id, slot.attempt)
    )
    if len(members) < 2:
        return []
    return sorted(members, key=lambda index: (index != leader, index))


def _content(snapshot: PoolSnapshot) -> PoolSnapshot:
    """What a change is judged by: a heartbeat's time alone is no change."""
    slots = tuple(replace(s, last_seen=datetime.min) for s in snapshot.slots)
    return replace(snapshot, slots=slots, event_id="", occurred_at=datetime.min)


@dataclass
class SnapshotThrottle:
    """Which snapshots of a pool to publish: those that differ from the last one published, no sooner than
    `min_interval` after it (the first at once)."""

    min_interval: timedelta
    _published: dict[str, tuple[PoolSnapshot, datetime]] = field(default_factory=dict)

    def due(self, state: SchedulerState, now: datetime) -> PoolSnapshot | None:
        """The snapshot to publish now, or None (unchanged, or too soon after the last one)."""
        last = self._published.get(state.pool_id)
        if last is not None and now - last[1] < self.min_interval:
            return None
        snapshot = build_snapshot(state, now)
        if last is not None and _content(snapshot) == last[0]:
            return None
        return snapshot

    def published(self, snapshot: PoolSnapshot, now: datetime) -> None:
        """`snapshot` reached the broker at `now` (one that did not is offered again)."""
        self._published[snapshot.pool_id] = (_content(snapshot), now)

    def forget(self) -> None:
        """After a rebalance: the pool's next owner publishes its state afresh."""
        self._published.clear()
