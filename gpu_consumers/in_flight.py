"""The attempts a slot's worker has in flight: one in its GPU part (denoise and VAE decode), up to
`max_finishing` in their finish (MP4 encode, verify, poster, upload), and the order their dispatch offsets
are committed in (docs/architecture.md, "No idle gap between renders"). No Kafka here.

Offsets are committed in dispatch order: an attempt's offset is passed only once every attempt dispatched
before it has ended, so a worker killed while an earlier attempt was still finishing reads that attempt's
dispatch again (at-least-once). What is read again is fenced as it is today: an ended attempt's dispatch is
skipped by the worker (`recent`, or stale past its lease) or its reports ignored by the scheduler's
attempt check.
"""

from __future__ import annotations

import asyncio
import threading
from dataclasses import dataclass, field
from datetime import datetime

from reelstream.tracing import StageSpans
from schemas.events import DispatchRender


@dataclass
class Current:
    """An attempt of this slot, and the dispatch offset to commit once it is done."""

    command: DispatchRender
    offset: int
    canceled: threading.Event = field(default_factory=threading.Event)
    task: asyncio.Task[None] | None = None
    stages: StageSpans | None = None  # the render span's child per stage, when the dispatch was traced

    @property
    def key(self) -> tuple[str, int]:
        return self.command.job_id, self.command.attempt

    @property
    def done(self) -> bool:
        return self.task is not None and self.task.done()


class InFlight:
    """The slot's GPU attempt and its finishing ones, in dispatch order."""

    def __init__(self, max_finishing: int) -> None:
        self.max_finishing = max_finishing
        self.gpu: Current | None = None
        self.finishing: list[Current] = []
        self._done_to: int | None = None  # one past the highest offset of an ended attempt
        self._committed: int | None = None

    def all(self) -> list[Current]:
        return [*self.finishing, *([self.gpu] if self.gpu is not None else [])]

    def find(self, job_id: str | None, attempt: int | None) -> Current | None:
        return next((c for c in self.all() if c.key == (job_id, attempt)), None)

    def to_finish(self, current: Current) -> bool:
        """The GPU part of `current` ended: it takes a finishing place (the GPU takes the next dispatch)
        if one is free and it is no gang's (a gang's members stay joined until its outcome)."""
        if current is not self.gpu or current.command.gang_size > 1:
            return False
        if sum(not c.done for c in self.finishing) >= self.max_finishing:  # an ended one holds no place
            return False
        self.finishing.append(current)
        self.gpu = None
        return True

    def named(self) -> Current | None:
        """What the heartbeat names: the GPU attempt, else the oldest finish still running."""
        running = [c for c in ([self.gpu] if self.gpu else []) + self.finishing if not c.done]
        return running[0] if running else None

    def take_done(self) -> tuple[list[Current], int | None]:
        """Remove the ended attempts; them, and the offset to commit now (None: nothing new to commit)."""
        ended = [c for c in self.all() if c.done]
        if not ended:
            return [], None
        self.finishing = [c for c in self.finishing if not c.done]
        if self.gpu is not None and self.gpu.done:
            self.gpu = None
        return ended, self.ended_at(max(c.offset for c in ended))

    def ended_at(self, offset: int) -> int | None:
        """The dispatch at `offset` is done with (its attempt ended, or it was skipped): the offset to
        commit now, which passes no attempt still in flight (None: nothing new to commit)."""
        self._done_to = offset + 1 if self._done_to is None else max(self._done_to, offset + 1)
        commit = min([self._done_to, *(c.offset for c in self.all())])
        if self._committed is not None and commit <= self._committed:
            return None
        self._committed = commit
        return commit


def stale(command: DispatchRender, now: datetime) -> bool:
    lease = command.lease_expires_at
    return lease is not None and now > lease + (lease - command.occurred_at)


def a_gang_place(command: DispatchRender) -> bool:
    """A gang dispatch names its leader's slot and a rank within the gang."""
    return command.gang_leader_slot is not None and 0 <= command.gang_rank < command.gang_size
