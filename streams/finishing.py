"""Overlapping a render's finish with the next render (issue #24, item 5). Pure rules.

The rule (docs/architecture.md, "No idle gap between renders"):
- An attempt that reports a finish stage (RenderProgress with stage encode_video or upload: its GPU part,
  denoise and VAE decode, is over) moves from its slot's GPU place to the slot's `finishing` places, if the
  slot has fewer than `policy.max_finishing` (REELSTREAM_WORKER_MAX_FINISHING; 0: no overlap). The slot is
  then idle: dispatching gives it the next job while the finishing attempt uploads.
- A finishing attempt keeps its own lease, renewed by its own reports and by heartbeats naming it. Its
  outcome ends it as any attempt's does (success frees its place; a failure is retried or fails the job);
  its lease running out, or its slot's worker being replaced or lost, requeues it (attempt + 1).
- Gangs do not overlap: a gang's attempt holds its slots until its outcome (its members' GPUs are joined
  in one process group until the leader's outcome).
"""

from __future__ import annotations

from dataclasses import replace

from schemas.events import RenderStage
from streams.scheduler_state import Finishing, Slot
from streams.scheduling_step import Step

FINISH_STAGES = frozenset({RenderStage.ENCODE_VIDEO, RenderStage.UPLOAD})  # after a render's GPU part


def start_finishing(step: Step, slot: Slot) -> None:
    """The slot's attempt reported its finish stage: it takes a finishing place, if one is free, and the
    slot's GPU is idle. A gang's attempt (several slots hold it) keeps its slots."""
    if slot.job_id is None or slot.attempt is None or len(slot.finishing) >= step.policy.max_finishing:
        return
    held = sum(1 for s in step.slots.values() if (s.job_id, s.attempt) == (slot.job_id, slot.attempt))
    if held != 1:
        return
    lease = step.now + step.policy.lease
    place = Finishing(slot.job_id, slot.attempt, lease)
    step.slots[slot.slot] = replace(
        slot, job_id=None, attempt=None, lease_expires_at=None, finishing=(*slot.finishing, place)
    )


def renew_finishing(step: Step, index: int, job_id: str, attempt: int) -> bool:
    """Renew the lease of the attempt if it is finishing on the slot; whether it is."""
    slot = step.slots.get(index)
    if slot is None or not any((f.job_id, f.attempt) == (job_id, attempt) for f in slot.finishing):
        return False
    lease = step.now + step.policy.lease
    renewed = tuple(
        replace(f, lease_expires_at=lease) if (f.job_id, f.attempt) == (job_id, attempt) else f
        for f in slot.finishing
    )
    step.slots[index] = replace(slot, finishing=renewed)
    return True


def drop_finishing(step: Step, job_id: str, attempt: int) -> list[int]:
    """Free the attempt's finishing place (its outcome came, or it was ended); the slots it was on."""
    dropped = []
    for index, slot in list(step.slots.items()):
        kept = tuple(f for f in slot.finishing if (f.job_id, f.attempt) != (job_id, attempt))
        if len(kept) != len(slot.finishing):
            step.slots[index] = replace(slot, finishing=kept)
            dropped.append(index)
    return dropped


def expired_finishing(step: Step) -> list[Finishing]:
    """Finishing attempts whose lease ran out, their places freed: the caller requeues their jobs."""
    expired = []
    for index, slot in list(step.slots.items()):
        late = [f for f in slot.finishing if step.now > f.lease_expires_at]
        if late:
            expired.extend(late)
            step.slots[index] = replace(slot, finishing=tuple(f for f in slot.finishing if f not in late))
    return expired


def finishing_jobs(step: Step) -> set[str]:
    """The jobs in their finish on any slot."""
    return {f.job_id for s in step.slots.values() for f in s.finishing}
