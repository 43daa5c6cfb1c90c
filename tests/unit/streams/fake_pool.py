"""A pool of fake workers around the pure scheduler, for its property tests (gangs, overlapped finishes).

Each worker runs the last attempt dispatched to it on its GPU and keeps up to `policy.max_finishing` attempts
in their finish once their GPU part ended (streams.finishing); a gang's leader reports its success, the other
members only stop. Every event is applied, the outputs are acted on as workers would, and `check` runs after
each one."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from hypothesis import strategies as st

from schemas import events as ev
from streams.fair_queue import SchedulerPolicy
from streams.scheduling import Output, Publish, SchedulerState, SendToSlot, apply
from tests.samples import T0, artifact
from tests.unit.streams.test_scheduling import admitted


def key(command: ev.DispatchRender | ev.CancelRender) -> tuple[str, int]:
    return command.job_id, command.attempt


@dataclass
class Worker:
    gpu: ev.DispatchRender | None = None
    finishing: list[ev.DispatchRender] = field(default_factory=list)


@dataclass
class Pool:
    policy: SchedulerPolicy
    slots: int
    check: Callable[[Pool], None]
    low_latency_gang: int = 2  # the `max_gang_slots` a low-latency admission carries
    state: SchedulerState = field(default_factory=lambda: SchedulerState("default"))
    now: datetime = T0
    workers: dict[int, Worker] = field(default_factory=dict)
    dead: set[int] = field(default_factory=set)
    generation: Counter[int] = field(default_factory=Counter)
    terminal: Counter[str] = field(default_factory=Counter)
    admitted: set[str] = field(default_factory=set)

    def __post_init__(self) -> None:
        self.workers = {slot: Worker() for slot in range(self.slots)}
        for slot in range(self.slots):
            self.beat(slot)

    def apply(self, event: ev.InboxEvent) -> None:
        self.state, outputs = apply(self.state, event, self.policy)
        self._note(outputs)
        self.check(self)

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
                    r for r in [worker.gpu, *worker.finishing] if r is not None and key(r) == key(command)
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
        if run is None or slot in self.dead or run.gang_rank != 0:  # a gang's other members report nothing
            return
        if run.gang_size == 1 and len(worker.finishing) < self.policy.max_finishing:
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
            self.apply(self._report(ev.RenderFailed, run, error=ev.ErrorInfo("render_error", "failed", True)))
        elif run.gang_rank == 0:  # the leader reports; the other members only stop computing
            for other in self.workers.values():
                if other.gpu is not None and key(other.gpu) == key(run):
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

    def act(self, action: tuple[Any, ...]) -> None:
        match action:
            case ("admit", tenant, low_latency):
                cap = 1 if tenant == "c" else None  # tenant c runs one job at a time, its finish included
                job_id = f"j{len(self.admitted)}"
                self.admitted.add(job_id)
                extra: dict[str, Any] = {"max_gang_slots": self.low_latency_gang} if low_latency else {}
                self.apply(admitted(job_id, tenant=tenant, running_cap=cap, occurred_at=self.now, **extra))
            case ("beat", slot):
                self.beat(slot)
            case ("gpu_done", slot):
                self.gpu_done(slot)
            case ("succeed", slot):
                self.finish(slot)
            case ("fail", slot):
                self.finish(slot, fail=True)
            case ("kill", slot):
                self.kill(slot)
            case ("restart", slot):
                self.restart(slot)
            case ("cancel", index):
                job_id = f"j{index}"
                tenant = self.state.jobs[job_id].admitted.tenant_id if job_id in self.state.jobs else "a"
                self.apply(
                    ev.CancelRequested(
                        job_id=job_id, tenant_id=tenant, pool_id="default", occurred_at=self.now
                    )
                )
            case ("tick", seconds):
                self.tick(seconds)

    def drain(self) -> None:
        """Revive every worker; then workers beat, end their GPU parts and finish, and time passes, until
        no job is left (or 400 rounds)."""
        for slot in range(self.slots):
            self.restart(slot)
            self.beat(slot)
        for _ in range(400):
            if not self.state.jobs:
                break
            for slot in range(self.slots):
                self.beat(slot)
                self.gpu_done(slot)
                self.finish(slot)
            self.tick(5)


def actions(slots: int, *, finishing: bool) -> st.SearchStrategy[tuple[Any, ...]]:
    """Random pool events; `gpu_done` (a GPU part ending) only where finishes may overlap."""
    slot_ids = st.integers(0, slots - 1)
    gpu_done = [st.tuples(st.just("gpu_done"), slot_ids)] if finishing else []
    return st.one_of(
        st.tuples(st.just("admit"), st.sampled_from(["a", "b", "c"]), st.booleans()),
        st.tuples(st.just("beat"), slot_ids),
        *gpu_done,
        st.tuples(st.just("succeed"), slot_ids),
        st.tuples(st.just("fail"), slot_ids),
        st.tuples(st.just("kill"), slot_ids),
        st.tuples(st.just("restart"), slot_ids),
        st.tuples(st.just("cancel"), st.integers(0, 30)),
        st.tuples(st.just("tick"), st.sampled_from([1, 5, 20, 40])),
    )
