"""The gang rule as properties of the pure scheduler: random interleavings of admissions (low-latency or
not, capped or not), successes, member failures, SIGKILLed and restarted workers, heartbeats, cancels and
ticks, with fake workers that run what is dispatched to them. After every event: no slot is held by two
attempts, no slot is leaked (each held slot's attempt is its job's live attempt, and a live attempt's gang
is a power of two that includes its leader), running caps hold, and no job ends twice. Then the workers
are all revived and drained: every job ends, and every slot is idle."""

from __future__ import annotations

from collections import Counter
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from streams.fair_queue import SchedulerPolicy
from tests.unit.streams.fake_pool import Pool, actions

SLOTS = 4
POLICY = SchedulerPolicy(gang_max_slots=4, max_slot_share=0.5, max_attempts=4)


def new_pool() -> Pool:
    return Pool(POLICY, SLOTS, check, low_latency_gang=4)


def check(pool: Pool) -> None:
    state = pool.state
    gangs: dict[tuple[str, int], list[int]] = {}
    for slot in state.slots.values():
        if slot.job_id is None:
            assert slot.attempt is None
            assert slot.lease_expires_at is None
            continue
        job = state.jobs.get(slot.job_id)
        assert job is not None, f"slot {slot.slot} leaked: held by finished job {slot.job_id}"
        assert job.queued is None, f"slot {slot.slot} leaked: held by queued job {slot.job_id}"
        assert job.status.attempt == slot.attempt, f"slot {slot.slot} leaked: held by an ended attempt"
        gangs.setdefault((slot.job_id, slot.attempt or 0), []).append(slot.slot)
    assert len({job for job, _ in gangs}) == len(gangs), "one job on two attempts at once"
    for (job_id, _), members in gangs.items():
        size = len(members)
        assert size & (size - 1) == 0
        assert size <= POLICY.gang_max_slots
        assert state.jobs[job_id].status.slot in members, "a gang lost its leader but kept its members"
    for job_id, job in state.jobs.items():
        assert (job.queued is not None) != any(j == job_id for j, _ in gangs), f"{job_id} queued and held"
    running = Counter(state.jobs[job].admitted.tenant_id for job, _ in gangs)
    for job_id, _ in gangs:
        cap = state.jobs[job_id].admitted.running_cap
        assert cap is None or running[state.jobs[job_id].admitted.tenant_id] <= cap
    assert all(n == 1 for n in pool.terminal.values()), "a job ended twice"


@settings(max_examples=300, deadline=None)
@given(st.lists(actions(SLOTS, finishing=False), max_size=60))
def test_gangs_never_share_or_leak_a_slot_and_every_job_ends_once(script: list[tuple[Any, ...]]) -> None:
    pool = new_pool()
    for action in script:
        pool.act(action)
    pool.drain()
    assert not pool.state.jobs, f"never dispatched: {sorted(pool.state.jobs)}"
    assert set(pool.terminal) == pool.admitted
    assert all(n == 1 for n in pool.terminal.values())
    assert all(s.job_id is None for s in pool.state.slots.values()), "a slot leaked"
    assert len(pool.state.slots) == SLOTS


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["a", "b"]), st.booleans()), min_size=1, max_size=12))
def test_single_slot_jobs_are_dispatched_as_slots_free_up_however_many_gangs_ask(
    jobs: list[tuple[str, bool]],
) -> None:
    """Low-latency gangs never hold a slot idle: whenever a slot is idle, no job that could run waits."""
    pool = new_pool()
    for tenant, low_latency in jobs:
        pool.act(("admit", tenant, low_latency))
    for _ in range(200):
        idle = [s for s in pool.state.slots.values() if s.job_id is None]
        waiting = [j for j in pool.state.jobs.values() if j.queued is not None]
        assert not (idle and waiting), "a slot stays idle while a job waits"
        if not pool.state.jobs:
            break
        running = [w.gpu for w in pool.workers.values() if w.gpu is not None]
        leader = min((r.slot for r in running if r.gang_rank == 0), default=None)
        if leader is not None:
            pool.finish(leader)
    assert not pool.state.jobs
