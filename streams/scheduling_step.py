"""One `apply` of the pool scheduler in progress: the state's changes as the handlers make them."""

from __future__ import annotations

from collections.abc import ItemsView, Iterator, Mapping, MutableMapping, ValuesView
from dataclasses import replace
from datetime import datetime
from types import MappingProxyType
from typing import Any, cast

import immutables

from schemas.events import JobEventType, JobStatus
from streams.fair_queue import QueuedJob, SchedulerPolicy
from streams.scheduler_state import RECENTLY_FINISHED, Job, Output, Publish, SchedulerState, Slot

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


class Step:
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


def alive(step: Step, slot: Slot) -> bool:
    return step.now - slot.last_seen <= step.policy.lease
