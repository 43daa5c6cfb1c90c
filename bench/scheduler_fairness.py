"""Benchmark: the pool scheduler against FIFO and a plain consumer group, on one simulated 8-slot pool.

    .venv/bin/python bench/scheduler_fairness.py [--jobs 3000] [--seed 1]

The same workload (three tenants with unequal load, a heavy-tailed mix of job shapes, arrivals faster than
the pool can serve) runs through:
  * reelstream  - the real pure scheduler (`streams.scheduling.apply`) fed the events a pool would see;
  * fifo        - one global first-come queue over the 8 slots (the wait every job is compared to);
  * group       - the baseline of a Kafka consumer group of 8 consumers over a work topic keyed by tenant:
                  each consumer renders its partition's jobs one at a time (head-of-line blocking).
Renders are simulated: each takes the time its shape costs (cost model prior, scaled to 1 s for a small
clip) with ±20 % noise; this measures scheduling decisions, not Kafka (see pipeline_overheads.py for that).
It prints utilization, queue wait P50/P95/max per size class, the worst wait as a multiple of the FIFO
wait, per-tenant GPU share vs weight (Jain's index), and the scheduler's cost per event as the queue grows.
"""

from __future__ import annotations

import argparse
import heapq
import random
import statistics
import sys
import time
import zlib
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import immutables

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from reelstream.cost_model import CostModel
from schemas import events as ev
from streams.fair_queue import SchedulerPolicy
from streams.pool_store import PoolImage, persist
from streams.scheduling import SWEEP_JOBS, SchedulerState, SendToSlot, apply, apply_noting_changes

SLOTS = 8
T0 = datetime(2026, 1, 1, tzinfo=UTC)
SHAPES = {  # class: (frames, probability)
    "small": (13, 0.6),
    "medium": (61, 0.3),
    "large": (301, 0.1),
}
TENANTS = {"tenant-a": 0.6, "tenant-b": 0.3, "tenant-c": 0.1}  # share of submissions; equal weights


@dataclass(frozen=True)
class Job:
    job_id: str
    tenant: str
    shape: str
    arrival: float
    duration: float
    params: ev.RenderParams


def workload(n: int, seed: int, shapes: dict[str, tuple[int, float]] = SHAPES) -> list[Job]:
    """`n` jobs arriving 25 % faster than the pool serves them; durations in units of a 13-frame clip."""
    rng = random.Random(seed)  # noqa: S311 - a reproducible workload, not a secret
    model = CostModel()
    jobs, t = [], 0.0
    base = model.seconds(clip_params(13))
    mean = sum(model.seconds(clip_params(f)) / base * p for f, p in shapes.values())
    rate = 1.25 * SLOTS / mean  # arrivals 25 % faster than the pool can serve: saturation
    for i in range(n):
        t += rng.expovariate(rate)
        shape = rng.choices(list(shapes), [p for _, p in shapes.values()])[0]
        tenant = rng.choices(list(TENANTS), list(TENANTS.values()))[0]
        params = clip_params(shapes[shape][0])
        duration = model.seconds(params) / base * rng.uniform(0.8, 1.2)
        jobs.append(Job(f"j{i}", tenant, shape, t, duration, params))
    return jobs


def clip_params(frames: int) -> ev.RenderParams:
    """A tiny-mochi clip of `frames` frames: the workload's job shapes differ only in length."""
    return ev.RenderParams(
        model="tiny-mochi",
        width=64,
        height=48,
        num_frames=frames,
        fps=24,
        num_inference_steps=4,
        guidance_scale=4.5,
        seed=1,
    )


def _at(t: float) -> datetime:
    return T0 + timedelta(seconds=t)


def run_reelstream(jobs: list[Job], scale: float) -> dict[str, float]:
    """Feed the pure scheduler what a pool sees; returns start time per job. `scale` maps sim seconds to the
    cost model's seconds (so its learned and prior costs stay consistent with the simulated durations)."""
    policy = SchedulerPolicy(lease=timedelta(days=1), refresh_limit=50)
    state = SchedulerState("default")
    events: list[tuple[float, int, ev.InboxEvent]] = []
    seq = 0
    for slot in range(SLOTS):
        events.append(
            (
                0.0,
                seq := seq + 1,
                ev.WorkerHeartbeat(
                    worker_id=f"w{slot}",
                    pool_id="default",
                    slot=slot,
                    state=ev.WorkerState.IDLE,
                    renderer="tiny-mochi",
                    occurred_at=_at(0),
                ),
            )
        )
    by_id = {j.job_id: j for j in jobs}
    for job in jobs:
        admitted = ev.JobAdmitted(
            job_id=job.job_id,
            tenant_id=job.tenant,
            pool_id="default",
            prompt="p",
            params=job.params,
            submitted_at=_at(job.arrival * scale),
            occurred_at=_at(job.arrival * scale),
        )
        events.append((job.arrival, seq := seq + 1, admitted))
    heapq.heapify(events)
    starts: dict[str, float] = {}
    while events:
        t, _, event = heapq.heappop(events)
        state, outputs = apply(state, replace(event, occurred_at=_at(t * scale)), policy)
        for out in outputs:
            if isinstance(out, SendToSlot) and isinstance(out.command, ev.DispatchRender):
                d = out.command
                starts[d.job_id] = t
                done = ev.RenderSucceeded(
                    job_id=d.job_id,
                    slot=d.slot,
                    attempt=d.attempt,
                    artifact=_ART,
                    render_seconds=by_id[d.job_id].duration * scale,
                )
                heapq.heappush(events, (t + by_id[d.job_id].duration, seq := seq + 1, done))
    return starts


_ART = ev.Artifact(
    key="k",
    sha256="0" * 64,
    bytes=1,
    content_type="video/mp4",
    duration_seconds=1,
    frames=1,
    width=64,
    height=48,
    fps=24,
)


def run_fifo(jobs: list[Job]) -> dict[str, float]:
    free = [0.0] * SLOTS
    starts = {}
    for job in jobs:  # arrival order
        slot = min(range(SLOTS), key=lambda s: free[s])
        start = max(job.arrival, free[slot])
        starts[job.job_id] = start
        free[slot] = start + job.duration
    return starts


def run_consumer_group(jobs: list[Job]) -> dict[str, float]:
    """Eight consumers, partition = hash(tenant) % partitions (12, as the commands topic), partitions spread
    round-robin over consumers; each consumer runs its records in order, one at a time."""
    partitions = 12
    free = [0.0] * SLOTS
    starts = {}
    for job in jobs:
        consumer = (zlib.crc32(job.tenant.encode()) % partitions) % SLOTS
        start = max(job.arrival, free[consumer])
        starts[job.job_id] = start
        free[consumer] = start + job.duration
    return starts


def report(
    name: str,
    jobs: list[Job],
    starts: dict[str, float],
    fifo: dict[str, float],
    floor: float = 60.0,
) -> None:
    """`floor`: the aging floor in these seconds (30 cost-model s = 60 sim s here): the bound on a job's wait
    is the larger of 2 × its FIFO wait and the floor."""
    end = max(starts[j.job_id] + j.duration for j in jobs)
    last_arrival = max(j.arrival for j in jobs)
    busy = sum(
        min(starts[j.job_id] + j.duration, last_arrival) - min(starts[j.job_id], last_arrival) for j in jobs
    )
    print(
        f"\n{name}: utilization while saturated {busy / (SLOTS * last_arrival) * 100:5.1f} %,"
        f" makespan {end:8.1f} s"
    )
    for shape in dict.fromkeys(j.shape for j in sorted(jobs, key=lambda j: j.duration)):
        waits = sorted(starts[j.job_id] - j.arrival for j in jobs if j.shape == shape)
        p95 = statistics.quantiles(waits, n=20, method="inclusive")[18]
        print(
            f"  {shape:<7} wait P50 {statistics.median(waits):8.1f} s  P95 {p95:8.1f} s"
            f"  max {waits[-1]:8.1f} s"
        )
    fifo_waits = {j.job_id: fifo[j.job_id] - j.arrival for j in jobs}
    ratios = [
        (starts[j.job_id] - j.arrival) / fifo_waits[j.job_id] for j in jobs if fifo_waits[j.job_id] >= floor
    ]
    over = [j for j in jobs if starts[j.job_id] - j.arrival > max(2 * fifo_waits[j.job_id], floor)]
    worst = f"{max(ratios):5.2f}" if ratios else "    -"
    print(f"  worst wait / its FIFO wait, of jobs FIFO keeps ≥ {floor:g} s (the aging floor): {worst}")
    print(f"  jobs that waited longer than max(2 × their FIFO wait, {floor:g} s): {len(over)} of {len(jobs)}")
    window = [j for j in jobs if starts[j.job_id] < last_arrival]
    shares = {t: sum(j.duration for j in window if j.tenant == t) for t in TENANTS}
    demand = {t: sum(j.duration for j in jobs if j.tenant == t) for t in TENANTS}
    total = sum(shares.values())
    print(
        "  GPU share while saturated: " + ", ".join(f"{t} {shares[t] / total * 100:4.1f} %" for t in TENANTS)
    )
    # fair share: equal weights, capped by what a tenant asked for (max-min fairness)
    fair = max_min_fair({t: demand[t] / sum(demand.values()) for t in TENANTS})
    x = [shares[t] / total / fair[t] for t in TENANTS]
    jain = sum(x) ** 2 / (len(x) * sum(v * v for v in x))
    print(f"  Jain's index of share / max-min fair share: {jain:.3f}")


def max_min_fair(demand: dict[str, float]) -> dict[str, float]:
    share, left, todo = {}, 1.0, dict(demand)
    while todo:
        even = left / len(todo)
        small = {t: d for t, d in todo.items() if d <= even}
        if not small:
            share.update({t: even for t in todo})
            break
        for t, d in small.items():
            share[t] = d
            left -= d
            del todo[t]
    return share


def per_event_cost(sizes: list[int]) -> None:
    """What the scheduler process does per inbox event apart from Kafka: `apply` and storing the changed
    entries (pool_store.persist), with n jobs queued and every slot busy. The queue is built directly (one
    admitted job cloned n times) so that 100k is quick to set up. A tick either only checks leases, or also
    sweeps the whole queue (deadlines, throttling, places and ETAs): every tick up to SWEEP_JOBS jobs, then
    every (n // SWEEP_JOBS)-th; `tick/s` is what ticks cost per second of wall clock, sweeps included."""
    print("\nscheduler cost per event (apply + persist; n jobs queued, 8 busy slots), µs per event:")
    columns = ("admission", "heartbeat", "progress", "tick", "sweep tick", "tick/s")
    print(f"  {'n':>8}  " + "  ".join(f"{c:>10}" for c in columns))
    policy = SchedulerPolicy(lease=timedelta(days=1))
    base = None
    for n in sizes:
        state, image = _queue_of(n, policy)
        every = max(1, len(state.jobs) // SWEEP_JOBS)
        probes = _probes(T0 + timedelta(seconds=1))
        probes["sweep tick"] = probes["tick"]
        row = []
        for name, event in probes.items():
            at = replace(
                state, ticks=every - 1 if name == "sweep tick" else every
            )  # the next tick sweeps, or not
            rounds = 3 if name == "sweep tick" else 50
            started = time.perf_counter()
            for _ in range(rounds):
                after, _, changed = apply_noting_changes(at, event, policy)
                persist(image, after, None, changed)
            row.append((time.perf_counter() - started) / rounds * 1e6)
        row.append(row[3] + (row[4] - row[3]) / every)
        base = base or row
        growth = "  ".join(f"{r / b:4.1f}x" for r, b in zip(row, base, strict=True))
        print(f"  {n:>8,}  " + "  ".join(f"{r:10.1f}" for r in row) + f"   (vs first: {growth})")


def _queue_of(n: int, policy: SchedulerPolicy) -> tuple[SchedulerState, PoolImage]:
    state = SchedulerState("default")
    for slot in range(SLOTS):  # eight slots, each rendering a job of its own
        job_id = f"running-{slot}"
        state, _ = apply(state, _admission(job_id, f"t{slot % 3}"), policy)
        state, _ = apply(state, _beat(slot, None, None), policy)
    template = _admission("q", "t0")
    state, _ = apply(state, template, policy)
    job = state.jobs["q"]
    assert job.queued is not None
    jobs = {k: v for k, v in state.jobs.items() if k != "q"}
    for i in range(n):
        admitted = replace(template, job_id=f"q{i}", tenant_id=f"t{i % 3}")
        queued = replace(job.queued, admitted=admitted, seq=state.seq + i + 1)
        jobs[admitted.job_id] = replace(
            job,
            admitted=admitted,
            queued=queued,
            status=replace(job.status, job_id=admitted.job_id, tenant_id=admitted.tenant_id),
        )
    state = replace(state, jobs=immutables.Map(jobs), seq=state.seq + n + 1)
    image, _ = persist(PoolImage(state), state)
    return state, image


def _probes(now: datetime) -> dict[str, ev.InboxEvent]:
    return {
        "admission": replace(_admission("probe", "t0"), occurred_at=now),
        "heartbeat": replace(_beat(0, "running-0", 1), occurred_at=now),
        "progress": ev.RenderProgress(
            job_id="running-0",
            slot=0,
            attempt=1,
            stage=ev.RenderStage.DENOISE,
            step=1,
            total_steps=4,
            progress=0.25,
            occurred_at=now,
        ),
        "tick": ev.SchedulerTick(pool_id="default", occurred_at=now),
    }


def _admission(job_id: str, tenant: str) -> ev.JobAdmitted:
    return ev.JobAdmitted(
        job_id=job_id,
        tenant_id=tenant,
        pool_id="default",
        prompt="p",
        params=clip_params(13),
        submitted_at=T0,
        occurred_at=T0,
    )


def _beat(slot: int, job_id: str | None, attempt: int | None) -> ev.WorkerHeartbeat:
    state = ev.WorkerState.IDLE if job_id is None else ev.WorkerState.BUSY
    return ev.WorkerHeartbeat(
        worker_id=f"w{slot}",
        pool_id="default",
        slot=slot,
        state=state,
        renderer="tiny-mochi",
        job_id=job_id,
        attempt=attempt,
        occurred_at=T0,
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--jobs", type=int, default=3000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--sizes", default="1000,10000,100000")
    parser.add_argument("--cost-only", action="store_true", help="only the per-event cost as the queue grows")
    args = parser.parse_args()
    if args.cost_only:
        per_event_cost([int(s) for s in args.sizes.split(",")])
        return
    jobs = workload(args.jobs, args.seed)
    scale = CostModel().seconds(clip_params(13))  # sim second → cost-model seconds of a small clip
    fifo = run_fifo(jobs)
    started = time.perf_counter()
    ours = run_reelstream(jobs, scale)
    took = time.perf_counter() - started
    print(f"{len(jobs)} jobs, {SLOTS} slots, tenants {TENANTS}, shapes {SHAPES}")
    report("reelstream (WFQ + SJF + aging)", jobs, ours, fifo)
    report("fifo", jobs, fifo, fifo)
    report("consumer group (baseline)", jobs, run_consumer_group(jobs), fifo)
    print(f"\nsimulating reelstream took {took:.1f} s of CPU for {len(jobs)} jobs")
    per_event_cost([int(s) for s in args.sizes.split(",")])


if __name__ == "__main__":
    main()
