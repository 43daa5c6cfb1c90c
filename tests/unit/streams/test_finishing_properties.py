"""The overlap of a render's finish with the next render (streams.finishing) as properties of the pure
scheduler: random interleavings of admissions, GPU parts ending (the finish stage reported), finishes
succeeding or failing, SIGKILLed and restarted workers, heartbeats, cancels and ticks, with fake workers that
keep up to MAX_FINISHING attempts in their finish while their GPU runs the next. After every event: no slot's
GPU holds two attempts, finishing places ≤ the bound, no slot or place leaked (each belongs to its job's live,
unqueued attempt, held once), no job ends twice. Then every worker is revived and drained: every job ends
once and every slot is idle with no finishing place."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from schemas import events as ev
from streams.fair_queue import SchedulerPolicy
from streams.scheduling import Output, Publish, SchedulerState, SendToSlot, apply
from tests.samples import T0, artifact
from tests.unit.streams.test_scheduling import admitted

SLOTS = 3
MAX_FINISHING = 2
POLICY = SchedulerPolicy(gang_max_slots=2, max_slot_share=None, max_attempts=4, max_finishing=MAX_FINISHING)


def _key(command: ev.DispatchRender | ev.CancelRender) -> tuple[str, int]:
    return command.job_id, command.attempt


@dataclass
class Worker:
    gpu: ev.DispatchRender | None = None
    finishing: list[ev.DispatchRender] = field(default_factory=list)


@dataclass
class Pool:
    state: SchedulerState = field(default_factory=lambda: SchedulerState("default"))
    now: datetime = T0
    workers: dict[int, Worker] = field(default_factory=lambda: {s: Worker() for s in range(SLOTS)})
    dead: set[int] = field(default_factory=set)
    generation: Counter[int] = field(default_factory=Counter)
    terminal: Counter[str] = field(default_factory=Counter)
    admitted: set[str] = field(default_factory=set)

    def apply(self, event: ev.InboxEvent) -> None:
        self.state, outputs = apply(self.state, event, POLICY)
        self._note(outputs)
        check(self)

    def _note(self, outputs: list[Output]) -> None:
        stopped: list[ev.RenderFailed] = []
        for output in outputs:
            if isinstance(output, Publish) and output.status.state.terminal:
                self.terminal[output.status.job_id] += 1
            elif isinstance(output, SendToSlot) and output.command.slot not in self.dead:
                command, worker = output.command, self.workers[output.command.slot]
                if isinstance(command, ev.DispatchRender):
                    worker.gpu = command  # the worker takes it (a newer one wins)
                    continue
                runs = [
                    r for r in [worker.gpu, *worker.finishing] if r is not None and _key(r) == _key(command)
                ]
                for run in runs:  # a cancel reaches the GPU attempt and the finishing ones alike
                    worker.gpu = None if worker.gpu is run else worker.gpu
                    worker.finishing = [f for f in worker.finishing if f is not run]
                    error = ev.ErrorInfo("canceled", "stopped", False)
                    stopped.append(self._report(ev.RenderFailed, run, error=error))
        for event in stopped:
            self.apply(event)

    def _report(self, kind: type[Any], run: ev.DispatchRender, **kw: Any) -> Any:
        return kind(job_id=run.job_id, slot=run.slot, attempt=run.attempt, occurred_at=self.now, **kw)

    def beat(self, slot: int) -> None:
        if slot in self.dead:
            return
        worker = self.workers[slot]
        named = worker.gpu or (worker.finishing[0] if worker.finishing else None)
        self.apply(
            ev.WorkerHeartbeat(
                worker_id=f"w{slot}.{self.generation[slot]}",
                pool_id="default",
                slot=slot,
                state=ev.WorkerState.BUSY if named else ev.WorkerState.IDLE,
                renderer="tiny-mochi",
                job_id=named.job_id if named else None,
                attempt=named.attempt if named else None,
                occurred_at=self.now,
            )
        )

    def gpu_done(self, slot: int) -> None:
        """The GPU part ends: the finish stage is reported, and the attempt moves to a finishing place
        when the worker has one (else it finishes on the GPU's time, as without overlap)."""
        worker = self.workers[slot]
        run = worker.gpu
        if run is None or slot in self.dead:
            return
        if run.gang_size == 1 and len(worker.finishing) < MAX_FINISHING:
            worker.gpu, worker.finishing = None, [*worker.finishing, run]
        stage = ev.RenderStage.ENCODE_VIDEO
        self.apply(self._report(ev.RenderProgress, run, stage=stage, step=0, total_steps=1, progress=0.9))

    def finish(self, slot: int, fail: bool = False) -> None:
        """The oldest finishing attempt (or the GPU's, none finishing) reports its outcome."""
        worker = self.workers[slot]
        if worker.finishing:
            run = worker.finishing.pop(0)
        elif worker.gpu is not None:
            run, worker.gpu = worker.gpu, None
        else:
            return
        if fail:
            self.apply(self._report(ev.RenderFailed, run, error=ev.ErrorInfo("encode", "failed", True)))
        elif run.gang_rank == 0:
            for other in self.workers.values():
                if other.gpu is not None and _key(other.gpu) == _key(run):
                    other.gpu = None
            self.apply(self._report(ev.RenderSucceeded, run, artifact=artifact(), render_seconds=1.0))

    def kill(self, slot: int) -> None:
        self.dead.add(slot)
        self.workers[slot] = Worker()

    def restart(self, slot: int) -> None:
        if slot in self.dead:
            self.dead.discard(slot)
            self.generation[slot] += 1
            self.beat(slot)

    def tick(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)
        self.apply(ev.SchedulerTick(pool_id="default", occurred_at=self.now))


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
    for attempt in held:
        assert held[attempt] == 1, f"{attempt} finishing twice"
        assert attempt not in gpu, f"{attempt} finishing and on a GPU"
    for job_id, job in state.jobs.items():
        placed = any(j == job_id for j, _ in held) or any(j == job_id for j, _ in gpu)
        assert (job.queued is not None) != placed, f"{job_id}: queued and placed, or neither"
    assert all(n == 1 for n in pool.terminal.values()), "a job ended twice"


slot_ids = st.integers(0, SLOTS - 1)
actions = st.one_of(
    st.tuples(st.just("admit"), st.sampled_from(["a", "b", "c"]), st.booleans()),
    st.tuples(st.just("beat"), slot_ids),
    st.tuples(st.just("gpu_done"), slot_ids),
    st.tuples(st.just("succeed"), slot_ids),
    st.tuples(st.just("fail"), slot_ids),
    st.tuples(st.just("kill"), slot_ids),
    st.tuples(st.just("restart"), slot_ids),
    st.tuples(st.just("cancel"), st.integers(0, 30)),
    st.tuples(st.just("tick"), st.sampled_from([1, 5, 20, 40])),
)


def act(pool: Pool, action: tuple[Any, ...]) -> None:
    match action:
        case ("admit", tenant, low_latency):
            cap = 1 if tenant == "c" else None  # tenant c runs one job at a time, its finish included
            job_id = f"j{len(pool.admitted)}"
            pool.admitted.add(job_id)
            extra = {"max_gang_slots": 2} if low_latency else {}
            pool.apply(admitted(job_id, tenant=tenant, running_cap=cap, occurred_at=pool.now, **extra))
        case ("beat", slot):
            pool.beat(slot)
        case ("gpu_done", slot):
            pool.gpu_done(slot)
        case ("succeed", slot):
            pool.finish(slot)
        case ("fail", slot):
            pool.finish(slot, fail=True)
        case ("kill", slot):
            pool.kill(slot)
        case ("restart", slot):
            pool.restart(slot)
        case ("cancel", index):
            job_id = f"j{index}"
            tenant = pool.state.jobs[job_id].admitted.tenant_id if job_id in pool.state.jobs else "a"
            pool.apply(
                ev.CancelRequested(job_id=job_id, tenant_id=tenant, pool_id="default", occurred_at=pool.now)
            )
        case ("tick", seconds):
            pool.tick(seconds)


@settings(max_examples=300, deadline=None)
@given(st.lists(actions, max_size=60))
def test_finishes_overlap_without_sharing_a_gpu_leaking_a_slot_or_ending_a_job_twice(
    script: list[tuple[Any, ...]],
) -> None:
    pool = Pool()
    for slot in range(SLOTS):
        pool.beat(slot)
    for action in script:
        act(pool, action)
    for slot in range(SLOTS):
        pool.restart(slot)
        pool.beat(slot)
    for _ in range(400):
        if not pool.state.jobs:
            break
        for slot in range(SLOTS):
            pool.beat(slot)
            pool.gpu_done(slot)
            pool.finish(slot)
        pool.tick(5)
    assert not pool.state.jobs, f"never ended: {sorted(pool.state.jobs)}"
    assert set(pool.terminal) == pool.admitted
    assert all(s.job_id is None and not s.finishing for s in pool.state.slots.values()), "a slot leaked"


def test_a_running_cap_counts_a_job_in_its_finish() -> None:
    """Tenant c (cap 1): its second job waits while its first is still in its finish."""
    pool = Pool()
    pool.beat(0)
    act(pool, ("admit", "c", False))
    act(pool, ("admit", "c", False))
    pool.gpu_done(0)
    assert pool.workers[0].gpu is None
    assert [f.job_id for f in pool.workers[0].finishing] == ["j0"]
    assert pool.state.jobs["j1"].queued is not None
    pool.finish(0)
    assert pool.workers[0].gpu is not None
    assert pool.workers[0].gpu.job_id == "j1"
