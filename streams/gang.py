"""Gangs: one attempt of one job rendered on several slots at once (issue #24, item 4). Pure rules.

The rule (docs/architecture.md, "Gangs"):
- A gang is formed only of slots idle NOW, in the step that dispatches its job: nothing is ever reserved
  for a gang that is still waiting, so a gang cannot hold a slot idle while other work waits. A job whose
  gang cannot be had in full takes a smaller one (down to one slot) instead of waiting.
- Its size is a power of two (the renderer splits Mochi's 24 heads and the CFG branches by it), at most
  `policy.gang_max_slots` (REELSTREAM_GANG_MAX_SLOTS; 1 disables gangs), at most the job's model's own
  ceiling (`ModelSpec.max_gang_slots`: how far its renderer splits a job; a gang the renderer could not
  split would fail) and at most the idle slots that can run the job.
- Spare slots: every other waiting job that could run keeps an idle slot for itself; only the idle slots
  beyond those ("spare": the queue is shorter than the idle slots) widen a job's gang.
- Low latency: a job admitted with `max_gang_slots` (its tenant's limit) may take up to that many idle
  slots even while other jobs wait, but no more than its tenant's slot share leaves it (the share bound
  of dispatching.py, counted in slots), and its tenant is charged for every slot it holds.
- The attempt is the gang's: the leader (rank 0, the slot the job is dispatched to, `JobStatus.slot`) reports
  start, progress and outcome; the other members report nothing but heartbeats (which renew their own
  slot's lease) and a failure. Any member's failure, lease expiry or heartbeat saying it is not running the
  attempt ends the attempt for all: every member's slot is freed, the members still holding it are sent a
  CancelRender, and the job is requeued as attempt + 1 (a fresh gang or a single slot) or failed — one
  terminal event, as for a single slot.
"""

from __future__ import annotations

from dataclasses import replace

from schemas.events import CancelRender, JobAdmitted
from streams.finishing import drop_finishing
from streams.scheduler_state import SendToSlot, Slot
from streams.scheduling_step import Step


def power_of_two_at_most(n: int) -> int:
    """The largest power of two ≤ n (n ≥ 1)."""
    return 1 << (max(1, n).bit_length() - 1)


def gang_size(
    admitted: JobAdmitted,
    *,
    max_slots: int,
    idle: int,
    others_waiting: int,
    share_room: int | None,
) -> int:
    """How many of the `idle` slots that can run the job it takes now, with `others_waiting` other jobs
    waiting that could run, and `share_room` slots left to its tenant under the slot share bound (None:
    no bound applies)."""
    spare = idle - others_waiting  # one idle slot stays for each other waiting job
    wish = spare
    if admitted.max_gang_slots is not None and admitted.max_gang_slots > 1:
        low_latency = (
            admitted.max_gang_slots if share_room is None else min(admitted.max_gang_slots, share_room)
        )
        wish = max(spare, low_latency)
    return power_of_two_at_most(min(max_slots, idle, max(1, wish)))


def members(step: Step, job_id: str, attempt: int) -> list[int]:
    """The slots holding this attempt of the job (one, or a gang's), in slot order."""
    return sorted(s.slot for s in step.slots.values() if (s.job_id, s.attempt) == (job_id, attempt))


def is_member(step: Step, slot: int, job_id: str, attempt: int) -> bool:
    held = step.slots.get(slot)
    return held is not None and (held.job_id, held.attempt) == (job_id, attempt)


def release(step: Step, job_id: str, attempt: int, *, told: int | None = None, cancel: bool = True) -> None:
    """Free every slot holding the attempt (or its finishing place). The members other than `told` (the slot
    whose report or lease ended it) are sent a CancelRender, so a member still computing stops instead of
    waiting on its group."""
    for index in members(step, job_id, attempt):
        slot = step.slots[index]
        if cancel and index != told:
            command = CancelRender(job_id=job_id, slot=index, attempt=attempt, occurred_at=step.now)
            step.outputs.append(SendToSlot(command))
        step.slots[index] = _idle(slot)
    drop_finishing(step, job_id, attempt)  # an attempt in its finish (streams.finishing) holds no GPU


def _idle(slot: Slot) -> Slot:
    return replace(slot, job_id=None, attempt=None, lease_expires_at=None)
