"""The overlap of a render's finish with the next render (streams.finishing) as properties of the pure
scheduler: random interleavings of admissions, GPU parts ending (the finish stage reported), finishes
succeeding or failing, SIGKILLed and restarted workers, heartbeats, cancels and ticks, with fake workers that
keep up to MAX_FINISHING attempts in their finish while their GPU runs the next. After every event: no slot's
GPU holds two attempts, finishing places ≤ the bound, no slot or place leaked (each belongs to its job's live,
unqueued attempt, held once), no job ends twice. Then every worker is revived and drained: every job ends
once and every slot is idle with no finishing place."""

from __future__ import annotations

from collections import Counter
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from streams.fair_queue import SchedulerPolicy
from tests.unit.streams.fake_pool import Pool, actions

SLOTS = 3
MAX_FINISHING = 2
POLICY = SchedulerPolicy(gang_max_slots=2, max_slot_share=None, max_attempts=4, max_finishing=MAX_FINISHING)


def new_pool() -> Pool:
    return Pool(POLICY, SLOTS, check)


def check(pool: Pool) -> None:
    state = pool.state
    held: Counter[tuple[str, int]] = Counter()
    for slot in state.slots.values():
        assert len(slot.finishing) <= MAX_FINISHING, f"slot {slot.slot}: more finishes than the bound"
        places = [(f.job_id, f.attempt) for f in slot.finishing]
        if slot.job_id is not None:
            places.append((slot.job_id, slot.attempt or 0))
        for job_id, attempt in places:
            job = state.jobs.get(job_id)
            assert job is not None, f"slot {slot.slot} leaked: held by finished job {job_id}"
            assert job.queued is None, f"slot {slot.slot} leaked: held by queued job {job_id}"
            assert job.status.attempt == attempt, f"slot {slot.slot} leaked: held by an ended attempt"
        held.update(set((f.job_id, f.attempt) for f in slot.finishing))
    gpu = Counter((s.job_id, s.attempt) for s in state.slots.values() if s.job_id is not None)
    for place in held:
        assert held[place] == 1, f"{place} finishing twice"
        assert place not in gpu, f"{place} finishing and on a GPU"
    for job_id, job in state.jobs.items():
        placed = any(j == job_id for j, _ in held) or any(j == job_id for j, _ in gpu)
        assert (job.queued is not None) != placed, f"{job_id}: queued and placed, or neither"
    assert all(n == 1 for n in pool.terminal.values()), "a job ended twice"


@settings(max_examples=300, deadline=None)
@given(st.lists(actions(SLOTS, finishing=True), max_size=60))
def test_finishes_overlap_without_sharing_a_gpu_leaking_a_slot_or_ending_a_job_twice(
    script: list[tuple[Any, ...]],
) -> None:
    pool = new_pool()
    for action in script:
        pool.act(action)
    pool.drain()
    assert not pool.state.jobs, f"never ended: {sorted(pool.state.jobs)}"
    assert set(pool.terminal) == pool.admitted
    assert all(s.job_id is None and not s.finishing for s in pool.state.slots.values()), "a slot leaked"


def test_a_running_cap_counts_a_job_in_its_finish() -> None:
    """Tenant c (cap 1): its second job waits while its first is still in its finish."""
    pool = Pool(POLICY, 1, check)
    pool.act(("admit", "c", False))
    pool.act(("admit", "c", False))
    pool.gpu_done(0)
    assert pool.workers[0].gpu is None
    assert [f.job_id for f in pool.workers[0].finishing] == ["j0"]
    assert pool.state.jobs["j1"].queued is not None
    pool.finish(0)
    assert pool.workers[0].gpu is not None
    assert pool.workers[0].gpu.job_id == "j1"
