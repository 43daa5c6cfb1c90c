"""The gang rule as properties of the pure scheduler: random interleavings of admissions (low-latency or
not, capped or not), successes, member failures, SIGKILLed and restarted workers, heartbeats, cancels and
ticks, with fake workers that run what is dispatched to them. After every event: no slot is held by two
attempts, no slot is leaked (each held slot's attempt is its job's live attempt, and a live attempt's gang
is a power of two that includes its leader), running caps hold, and no job ends twice. Then the workers
are all revived and drained: every job ends, and every slot is idle."""

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

SLOTS = 4
POLICY = SchedulerPolicy(gang_max_slots=4, max_slot_share=0.5, max_attempts=4)


@dataclass
class Pool:
    """The scheduler and the fake workers of its slots: each runs the last attempt dispatched to it."""

    state: SchedulerState = field(default_factory=lambda: SchedulerState("default"))
    now: datetime = T0
    running: dict[int, ev.DispatchRender] = field(default_factory=dict)
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
                command = output.command
                if isinstance(command, ev.DispatchRender):
                    self.running[command.slot] = command  # the worker takes it (a newer one wins)
                elif (run := self.running.get(command.slot)) and _same(run, command):
                    del self.running[command.slot]  # stops, and says so
                    error = ev.ErrorInfo("canceled", "stopped", False)
                    stopped.append(self._report(ev.RenderFailed, run, error=error))
        for event in stopped:
            self.apply(event)

    def _report(self, kind: type[Any], run: ev.DispatchRender, **kw: Any) -> Any:
        return kind(job_id=run.job_id, slot=run.slot, attempt=run.attempt, occurred_at=self.now, **kw)

    def beat(self, slot: int) -> None:
        if slot in self.dead:
            return
        run = self.running.get(slot)
        self.apply(
            ev.WorkerHeartbeat(
                worker_id=f"w{slot}.{self.generation[slot]}",
                pool_id="default",
                slot=slot,
                state=ev.WorkerState.BUSY if run else ev.WorkerState.IDLE,
                renderer="tiny-mochi",
                job_id=run.job_id if run else None,
                attempt=run.attempt if run else None,
                occurred_at=self.now,
            )
        )

    def finish(self, slot: int, fail: bool = False) -> None:
        run = self.running.pop(slot, None)
        if run is None:
            return
        if fail:
            error = ev.ErrorInfo("render_error", "member failed", True)
            self.apply(self._report(ev.RenderFailed, run, error=error))
        elif run.gang_rank == 0:  # the leader reports; the others only stop computing
            for member, other in list(self.running.items()):
                if _same(other, run):
                    del self.running[member]
            self.apply(self._report(ev.RenderSucceeded, run, artifact=artifact(), render_seconds=1.0))

    def kill(self, slot: int) -> None:
        self.dead.add(slot)
        self.running.pop(slot, None)

    def restart(self, slot: int) -> None:
        if slot in self.dead:
            self.dead.discard(slot)
            self.generation[slot] += 1
            self.beat(slot)

    def tick(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)
        self.apply(ev.SchedulerTick(pool_id="default", occurred_at=self.now))


def _same(a: ev.DispatchRender | ev.CancelRender, b: ev.DispatchRender | ev.CancelRender) -> bool:
    return (a.job_id, a.attempt) == (b.job_id, b.attempt)


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


slot_ids = st.integers(0, SLOTS - 1)
actions = st.one_of(
    st.tuples(st.just("admit"), st.sampled_from(["a", "b", "c"]), st.booleans()),
    st.tuples(st.just("beat"), slot_ids),
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
            cap = 1 if tenant == "c" else None  # tenant c runs one job at a time
            job_id = f"j{len(pool.admitted)}"
            pool.admitted.add(job_id)
            extra = {"max_gang_slots": 4} if low_latency else {}
            job = admitted(job_id, tenant=tenant, running_cap=cap, occurred_at=pool.now, **extra)
            pool.apply(job)
        case ("beat", slot):
            pool.beat(slot)
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


def drain(pool: Pool) -> None:
    """Revive every worker; then workers beat, leaders succeed and time passes until the queue is empty."""
    for slot in range(SLOTS):
        pool.restart(slot)
        pool.beat(slot)
    for _ in range(400):
        if not pool.state.jobs:
            break
        for slot in range(SLOTS):
            pool.beat(slot)
        for slot in range(SLOTS):
            pool.finish(slot)
        pool.tick(5)


@settings(max_examples=300, deadline=None)
@given(st.lists(actions, max_size=60))
def test_gangs_never_share_or_leak_a_slot_and_every_job_ends_once(script: list[tuple[Any, ...]]) -> None:
    pool = Pool()
    for slot in range(SLOTS):
        pool.beat(slot)
    for action in script:
        act(pool, action)
    drain(pool)
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
    pool = Pool()
    for slot in range(SLOTS):
        pool.beat(slot)
    for tenant, low_latency in jobs:
        act(pool, ("admit", tenant, low_latency))
    for _ in range(200):
        idle = [s for s in pool.state.slots.values() if s.job_id is None]
        waiting = [j for j in pool.state.jobs.values() if j.queued is not None]
        assert not (idle and waiting), "a slot stays idle while a job waits"
        if not pool.state.jobs:
            break
        leader = min((r.slot for r in pool.running.values() if r.gang_rank == 0), default=None)
        if leader is not None:
            pool.finish(leader)
    assert not pool.state.jobs
