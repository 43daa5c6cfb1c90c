"""streams.finishing, case by case (the properties are in test_finishing_properties.py)."""

from __future__ import annotations

from schemas import events as ev
from streams.fair_queue import SchedulerPolicy
from streams.scheduler_state import dump_state, load_state
from streams.scheduling import SchedulerState, apply
from tests.samples import T0
from tests.unit.streams.fake_pool import Pool
from tests.unit.streams.test_finishing_properties import POLICY, check
from tests.unit.streams.test_scheduling import admitted


def _pool_with_one_finishing() -> Pool:
    pool = Pool(POLICY, 1, check)  # one slot
    pool.act(("admit", "a", False))
    pool.act(("admit", "a", False))
    pool.gpu_done(0)
    return pool


def test_the_slot_takes_the_next_job_while_the_first_finishes() -> None:
    pool = _pool_with_one_finishing()
    slot = pool.state.slots[0]
    assert [(f.job_id, f.attempt) for f in slot.finishing] == [("j0", 1)]
    assert (slot.job_id, slot.attempt) == ("j1", 1)
    pool.finish(0)  # the first's outcome
    assert "j0" not in pool.state.jobs
    assert pool.terminal["j0"] == 1
    assert pool.state.slots[0].finishing == ()
    assert pool.state.slots[0].job_id == "j1"


def test_a_heartbeat_naming_the_finish_keeps_its_lease_and_does_not_block_the_slot() -> None:
    pool = Pool(POLICY, 1, check)  # one slot
    pool.act(("admit", "a", False))
    pool.gpu_done(0)
    assert pool.state.slots[0].job_id is None  # idle: nothing waits yet
    for _ in range(4):  # 4 × 20 s > the 30 s lease: only the heartbeats naming it keep it
        pool.tick(20)
        pool.beat(0)  # names j0, the oldest finish (the GPU is idle)
    assert not pool.state.slots[0].busy_elsewhere
    assert pool.state.slots[0].finishing[0].job_id == "j0"
    pool.act(("admit", "a", False))
    assert pool.state.slots[0].job_id == "j1"  # dispatched beside the finish


def test_a_finish_whose_lease_runs_out_is_requeued_once() -> None:
    pool = _pool_with_one_finishing()
    pool.workers[0].finishing.clear()  # its finish hangs without a word
    pool.tick(20)
    pool.beat(0)  # names j1 (the GPU's): j1's lease renewed, not j0's
    pool.tick(20)
    status = pool.state.jobs["j0"].status
    assert (status.state, status.attempt) == (ev.JobState.QUEUED, 1)
    assert pool.state.slots[0].finishing == ()
    assert pool.state.slots[0].job_id == "j1"


def test_no_overlap_when_the_bound_is_zero() -> None:
    state = SchedulerState("default")
    policy = SchedulerPolicy(max_slot_share=None, max_finishing=0)
    beat = ev.WorkerHeartbeat(
        worker_id="w0",
        pool_id="default",
        slot=0,
        state=ev.WorkerState.IDLE,
        renderer="tiny-mochi",
        occurred_at=T0,
    )
    state, _ = apply(state, beat, policy)
    for job_id in ("j0", "j1"):
        state, _ = apply(state, admitted(job_id, occurred_at=T0), policy)
    progress = ev.RenderProgress(
        job_id="j0",
        slot=0,
        attempt=1,
        stage=ev.RenderStage.ENCODE_VIDEO,
        step=0,
        total_steps=1,
        progress=0.9,
        occurred_at=T0,
    )
    state, _ = apply(state, progress, policy)
    assert state.slots[0].job_id == "j0"
    assert state.slots[0].finishing == ()
    assert state.jobs["j1"].queued is not None


def test_a_finishing_place_survives_the_state_store() -> None:
    pool = _pool_with_one_finishing()
    restored = load_state(dump_state(pool.state))
    assert restored.slots[0] == pool.state.slots[0]
    assert restored.slots[0].finishing[0].job_id == "j0"
