"""The scheduler state of one GPU pool and what applying an event outputs: plain frozen data.

streams/scheduling.py applies events to it; pool_store.py stores it; nothing here does I/O.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from types import MappingProxyType

import immutables
import orjson

from reelstream.cost_model import CostModel
from schemas.codec import from_datum, to_datum
from schemas.events import CancelRender, DispatchRender, JobAdmitted, JobEventType, JobStatus
from streams.fair_queue import QueuedJob, SchedulerPolicy

THROTTLED = "throttled"  # JobStatus.reason of a queued job whose tenant is at its running cap
RECENTLY_FINISHED = 2_000  # finished job ids remembered to drop duplicates and late events
SWEEP_JOBS = 2_000  # queued jobs a second of ticks sweeps (see sweep_due)
DEFAULT_POLICY = SchedulerPolicy()


@dataclass(frozen=True)
class Finishing:
    """An attempt in its finish (MP4 encode, verify, poster, upload) on a slot whose GPU took more work
    (streams/finishing.py): tracked until its outcome under its own lease."""

    job_id: str
    attempt: int
    lease_expires_at: datetime


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
    finishing: tuple[Finishing, ...] = ()  # attempts past their GPU part, at most policy.max_finishing


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
    ticks: int = 0  # ticks applied: paces the sweeps over the whole queue (see sweep_due)

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
