"""The scheduler as a plain service: an inbox event in, what it decided out, pool state through a port.

No Faust or Kafka here. `SchedulerService.decide(pool_id, event, offset, ...)` applies one inbox event to the
pool's state (streams.scheduling), and returns the records to write and the table entries that store the
state after it (group_commit.Decided): the adapter (streams/scheduler.py) hands that to the pool's writer.
Each pool's state is held in memory as a PoolImage (pool_store.py) and restored from the table (`PoolTable`:
a changelog-backed Faust table in production, a dict in the tests) when the service has none: after a start,
a rebalance, or a writer that crashed.

The image also holds the inbox offset applied last, which decides what is applied next (`order`): a
redelivered record is SEEN, one past the next is AHEAD (read the records between from the log first).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Protocol

from reelstream.tracing import TraceLinks
from schemas.events import InboxEvent, JobAdmitted
from streams.fair_queue import SchedulerPolicy
from streams.group_commit import Decided, decided
from streams.inbox_order import InboxOrder, inbox_order
from streams.invariants import check_inbox_event
from streams.pool_store import PoolImage, Write, persist, restore
from streams.scheduler_state import SchedulerState
from streams.scheduling import Output, SendToSlot, apply_noting_changes, as_of

logger = logging.getLogger(__name__)
CATCH_UP_ALLOWANCE = timedelta(seconds=2)  # an inbox record read later than this is applied as of now - 2 s


class PoolTable(Protocol):
    """Where the pools' states are stored: table entries (pool_store.py's keys and values)."""

    def items(self) -> Iterable[tuple[bytes, bytes]]: ...
    def write(self, writes: Sequence[Write]) -> None: ...


@dataclass(frozen=True)
class Applied:
    """What one inbox event led to: the records and entries to write, and the state after it."""

    decided: Decided
    outputs: list[Output]
    state: SchedulerState


@dataclass
class SchedulerService:
    policy: SchedulerPolicy
    table: PoolTable
    links: TraceLinks = field(default_factory=TraceLinks)  # job id → its JobAdmitted's trace; in memory
    images: dict[str, PoolImage] = field(default_factory=dict)  # each pool's state in memory

    def image(self, pool_id: str) -> PoolImage:
        """The pool's state in memory, restored from the table (and the table repaired) if there is none."""
        image = self.images.get(pool_id)
        if image is None:
            image, repairs = restore(pool_id, self.table.items())
            self.table.write(repairs)
            self.images[pool_id] = image
            logger.info(
                "scheduler state restored",
                extra={"pool": pool_id, "jobs": len(image.state.jobs), "repaired": len(repairs)},
            )
        return image

    def order(self, pool_id: str, offset: int) -> InboxOrder:
        """Where the inbox record at `offset` stands against the last one the pool applied."""
        applied = self.image(pool_id).offset
        return inbox_order(applied if applied >= 0 else None, offset)

    def applied_offset(self, pool_id: str) -> int:
        return self.image(pool_id).offset

    def decide(
        self, pool_id: str, event: InboxEvent, offset: int, now: datetime, traceparent: str | None
    ) -> Applied:
        """Apply `event`, the inbox record at `offset` read at wall-clock `now` (`traceparent`: the trace of
        its processing, if any). Raises InvalidRecordError for an event that is not the pool's."""
        image = self.image(pool_id)
        check_inbox_event(event, pool_id)
        if isinstance(event, JobAdmitted):
            self.links.remember(event.job_id, traceparent)
        event = as_of(event, now, CATCH_UP_ALLOWANCE)
        state, outputs, changed = apply_noting_changes(image.state, event, self.policy)
        self.images[pool_id], writes = persist(image, state, offset, changed)
        traces = _traces(outputs, self.links, getattr(event, "job_id", None), traceparent)
        return Applied(decided(outputs, traces, writes), outputs, state)

    def consumed(self, pool_id: str, offset: int) -> None:
        """The record at `offset` is behind the pool (applied, or parked as a dead letter)."""
        self.images[pool_id] = self.image(pool_id).at(offset)

    def forget(self, pool_id: str | None = None) -> None:
        """Drop the state in memory (one pool's, or all): the next event restores it from the table."""
        if pool_id is None:
            self.images.clear()
        else:
            self.images.pop(pool_id, None)


def _traces(
    outputs: list[Output], links: TraceLinks, current_job: str | None, here: str | None
) -> list[str | None]:
    """The trace each output continues: the record being processed for its own job's outputs; for any other
    job's (a dispatch freed by another job's end, a lease expiry on a tick) the trace its JobAdmitted
    carried, remembered in `links` (the pure scheduler state knows nothing of traces)."""
    jobs = (o.command.job_id if isinstance(o, SendToSlot) else o.status.job_id for o in outputs)
    return [here if job_id == current_job and here is not None else links.get(job_id) for job_id in jobs]
