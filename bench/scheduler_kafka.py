"""Benchmark: the pool scheduler on the real Kafka pipeline against a plain consumer group, same workload.

    .venv/bin/python bench/scheduler_kafka.py [--jobs 300] [--seed 1] [--scale 2] [--baseline-key job]

Starts its own stack, then runs one workload (scheduler_fairness.workload: three tenants submitting 60/30/10 %
of the jobs with equal weights, a heavy-tailed mix of 13-, 61- and 241-frame clips, arrivals 25 % faster than
eight slots serve them) twice, one side after the other:
  * reelstream - SubmitJobs produced to the commands topic at their arrival times, through the real
                 admission and scheduler processes to eight real worker processes;
  * group      - the baseline: the same jobs produced to a work topic of 8 partitions (keyed by job id, or by
                 tenant with --baseline-key tenant), read by a consumer group of eight consumers, each taking
                 one record at a time and committing after it.
Both sides render with the simulated renderer (gpu_consumers.render.simulated: the cost model's prior times
`--scale`, so a 13-frame clip takes 0.5 × scale s) and run the same attempt around it (encode, verify,
upload to MinIO), so a job costs both the same. It prints, per side: slot utilization while jobs arrive (a
slot is busy from its attempt's start to its outcome), the gap between an outcome and the slot's next start,
queue wait (submit → start) P50/P95/max per size class, the worst wait as a multiple of its FIFO wait, and
each tenant's share of slot time against the max-min fair share (Jain's index). The scheduler's own cost
per event as the queue grows is `bench/scheduler_fairness.py --cost-only`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))
sys.path.insert(0, str(ROOT))

from aiokafka import AIOKafkaConsumer, TopicPartition  # noqa: E402
from aiokafka.admin import AIOKafkaAdminClient, NewTopic  # noqa: E402
from aiokafka.structs import OffsetAndMetadata  # noqa: E402
from bench_common import bench_config, follow, throwaway_stack, wait_until  # noqa: E402
from scheduler_fairness import SLOTS, TENANTS, Job, clip_params, report, run_fifo, workload  # noqa: E402

from devstack.services import Pipeline  # noqa: E402
from gpu_consumers.job import run_attempt  # noqa: E402
from gpu_consumers.render.simulated import SimulatedRenderer, simulated_seconds  # noqa: E402
from ingest.submission import parse_submission, submit_command  # noqa: E402
from reelstream.endpoints import Endpoints  # noqa: E402
from reelstream.kafka.clients import new_producer  # noqa: E402
from reelstream.kafka.registry import ConfluentRegistry  # noqa: E402
from reelstream.models import BUILTIN_MODELS  # noqa: E402
from reelstream.object_store import ObjectStore, minio_client  # noqa: E402
from schemas.events import (  # noqa: E402
    DispatchRender,
    RenderFailed,
    RenderStarted,
    RenderSucceeded,
    WorkerHeartbeat,
)
from schemas.serde import AvroSerde  # noqa: E402
from schemas.topics import ALL_TOPICS, COMMANDS, SCHEDULER_INBOX  # noqa: E402

SHAPES = {"small": (13, 0.6), "medium": (61, 0.3), "large": (241, 0.1)}  # 241 frames: tiny-mochi's 10 s cap
MODEL = "tiny-mochi"


@dataclass
class Timeline:
    """When each job was submitted, started and ended (wall-clock s) and on which slot."""

    submitted: dict[str, float] = field(default_factory=dict)
    started: dict[str, float] = field(default_factory=dict)
    ended: dict[str, float] = field(default_factory=dict)
    slot: dict[str, int] = field(default_factory=dict)
    failed: dict[str, str] = field(default_factory=dict)  # job id → the last failed attempt's error

    def done(self, jobs: Iterable[Job]) -> bool:
        return all(j.job_id in self.ended for j in jobs)


async def _feed(jobs: list[Job], unit: float, send: Any, timeline: Timeline) -> None:
    """Submit each job at its arrival time (workload units × `unit` seconds from now)."""
    t0 = time.time()
    for job in jobs:
        due = t0 + job.arrival * unit
        if (ahead := due - time.time()) > 0:
            await asyncio.sleep(ahead)  # pacing the load generator, not a synchronization
        timeline.submitted[job.job_id] = time.time()
        await send(job)


async def _until(predicate: Any, seconds: float, what: str) -> None:
    if not await wait_until(predicate, seconds):
        raise SystemExit(f"benchmark gave up: {what} within {seconds:g} s")


# ---- reelstream: the real pipeline -------------------------------------------------------------------


async def run_reelstream(endpoints: Endpoints, jobs: list[Job], unit: float, drain_s: float) -> Timeline:
    registry = ConfluentRegistry.of(endpoints)
    serde = AvroSerde(registry)
    await serde.register(*ALL_TOPICS)
    producer = new_producer(
        endpoints.kafka_bootstrap, "bench-scheduler-kafka", security=endpoints.kafka_security
    )
    await producer.start()
    timeline, slots_seen, stop = Timeline(), set[int](), asyncio.Event()
    follower = asyncio.create_task(_follow_inbox(endpoints, serde, timeline, slots_seen, stop))
    try:
        await _until(lambda: len(slots_seen) == SLOTS, 180, f"heartbeats from all {SLOTS} workers")

        async def send(job: Job) -> None:
            body = {
                "prompt": "bench",
                "model": MODEL,
                "width": 64,
                "height": 48,
                "num_frames": job.params.num_frames,
            }
            submission = parse_submission(json.dumps(body).encode(), default_model=MODEL)
            command = submit_command(submission, job.tenant, job_id=job.job_id)
            await producer.send_and_wait(
                COMMANDS.name, serde.serialize(COMMANDS, command), key=job.tenant.encode()
            )

        await _feed(jobs, unit, send, timeline)
        await _until(lambda: timeline.done(jobs), drain_s, "every job's outcome (reelstream)")
    finally:
        stop.set()
        await follower
        await producer.stop()
        await registry.aclose()
    return timeline


async def _follow_inbox(
    endpoints: Endpoints, serde: AvroSerde, timeline: Timeline, slots: set[int], stop: asyncio.Event
) -> None:
    """What the workers report, from the scheduler's inbox: heartbeats, starts and outcomes."""

    def note(event: Any, timestamp: float) -> None:
        match event:
            case WorkerHeartbeat():
                slots.add(event.slot)
            case RenderStarted():  # a retry's start replaces the failed attempt's times
                timeline.ended.pop(event.job_id, None)
                timeline.started[event.job_id] = event.occurred_at.timestamp()
                timeline.slot[event.job_id] = event.slot
            case RenderSucceeded() | RenderFailed():
                timeline.ended[event.job_id] = event.occurred_at.timestamp()
                if isinstance(event, RenderFailed):
                    timeline.failed[event.job_id] = f"{event.error.code}: {event.error.message}"

    await follow(endpoints, serde, (SCHEDULER_INBOX,), note, stop)


# ---- the baseline: a plain consumer group over a work topic -------------------------------------------


async def run_group(
    endpoints: Endpoints, jobs: list[Job], unit: float, scale: float, key_by: str, drain_s: float
) -> Timeline:
    topic, group = f"bench-work-{uuid.uuid4().hex[:8]}", f"bench-group-{uuid.uuid4().hex[:8]}"
    admin = AIOKafkaAdminClient(
        bootstrap_servers=endpoints.kafka_bootstrap, **endpoints.kafka_security.aiokafka()
    )
    await admin.start()
    try:
        await admin.create_topics([NewTopic(topic, num_partitions=SLOTS, replication_factor=1)])
    finally:
        await admin.close()
    timeline, stop = Timeline(), asyncio.Event()
    store = ObjectStore(minio_client(endpoints), endpoints.s3_bucket)
    consumers = [
        _GroupConsumer(i, endpoints, topic, group, store, SimulatedRenderer(BUILTIN_MODELS[MODEL], scale))
        for i in range(SLOTS)
    ]
    tasks = [asyncio.create_task(c.run(timeline, stop)) for c in consumers]
    producer = new_producer(
        endpoints.kafka_bootstrap, "bench-work-producer", security=endpoints.kafka_security
    )
    await producer.start()
    try:
        await _until(lambda: all(len(c.assigned) == 1 for c in consumers), 120, "one partition per consumer")

        async def send(job: Job) -> None:
            body = json.dumps(
                {"job_id": job.job_id, "tenant": job.tenant, "frames": job.params.num_frames}
            ).encode()
            key = job.job_id if key_by == "job" else job.tenant
            await producer.send_and_wait(topic, body, key=key.encode())

        await _feed(jobs, unit, send, timeline)
        await _until(lambda: timeline.done(jobs), drain_s, "every job's outcome (consumer group)")
    finally:
        stop.set()
        await asyncio.gather(*tasks)
        await producer.stop()
    return timeline


class _GroupConsumer:
    """One member of the baseline group: a record at a time, rendered, then committed."""

    def __init__(
        self,
        index: int,
        endpoints: Endpoints,
        topic: str,
        group: str,
        store: ObjectStore,
        renderer: SimulatedRenderer,
    ) -> None:
        self.index, self.store, self.renderer = index, store, renderer
        self.assigned: set[TopicPartition] = set()
        self.consumer = AIOKafkaConsumer(
            topic,
            bootstrap_servers=endpoints.kafka_bootstrap,
            **endpoints.kafka_security.aiokafka(),
            group_id=group,
            client_id=f"bench-group-{index}",
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            max_poll_records=1,
        )

    async def run(self, timeline: Timeline, stop: asyncio.Event) -> None:
        await self.consumer.start()
        try:
            while not stop.is_set():
                self.assigned = set(self.consumer.assignment())
                batches = await self.consumer.getmany(timeout_ms=200, max_records=1)
                for tp, records in batches.items():
                    for record in records:
                        await self._render(json.loads(record.value), timeline)
                        await self.consumer.commit({tp: OffsetAndMetadata(record.offset + 1, "")})
        finally:
            await self.consumer.stop()

    async def _render(self, work: dict[str, Any], timeline: Timeline) -> None:
        job_id = work["job_id"]
        cmd = DispatchRender(
            job_id=job_id,
            slot=self.index,
            attempt=1,
            tenant_id=work["tenant"],
            prompt="bench",
            params=clip_params(work["frames"]),
            artifact_key=f"baseline/{work['tenant']}/{job_id}/video.mp4",
        )
        timeline.started[job_id], timeline.slot[job_id] = time.time(), self.index
        outcome: list[Any] = []

        async def report(event: Any) -> None:
            if isinstance(event, RenderSucceeded | RenderFailed):
                outcome.append(event)

        await run_attempt(
            cmd, self.renderer, self.store, report, threading.Event(), f"group-{self.index}", 1.0
        )
        timeline.ended[job_id] = time.time()
        if isinstance(outcome[-1], RenderFailed):
            timeline.failed[job_id] = f"{outcome[-1].error.code}: {outcome[-1].error.message}"


# ---- figures -----------------------------------------------------------------------------------------


def summarize(name: str, jobs: list[Job], timeline: Timeline) -> None:
    """Measured times as the pure benchmark's report takes them: arrival and start relative to the first
    submission, duration = start → outcome."""
    t0 = min(timeline.submitted.values())
    measured = [
        replace(
            j,
            arrival=timeline.submitted[j.job_id] - t0,
            duration=timeline.ended[j.job_id] - timeline.started[j.job_id],
        )
        for j in jobs
    ]
    starts = {j.job_id: timeline.started[j.job_id] - t0 for j in jobs}
    report(
        name,
        measured,
        starts,
        run_fifo(measured),
        floor=30.0,  # the aging floor, 30 cost-model s; the cost model learns these seconds from the renders
    )
    print(
        "  slot turnaround (an outcome → the slot's next start, while jobs arrive): "
        + _gaps(measured, starts, timeline)
    )
    print(
        f"  utilization from the {SLOTS}th start (every slot busy) to the last arrival: "
        + _saturated(measured, starts)
    )
    if timeline.failed:
        reasons = Counter(timeline.failed.values()).most_common(3)
        print(f"  jobs whose last attempt failed: {len(timeline.failed)}; most common: {reasons}")


def _saturated(jobs: list[Job], starts: dict[str, float]) -> str:
    """Busy slot time over slot time in [every slot's first start, last arrival]: the pool at saturation,
    without the first seconds in which the queue was still empty."""
    first = sorted(starts.values())[SLOTS - 1]
    last_arrival = max(j.arrival for j in jobs)
    if last_arrival <= first:
        return "-"
    busy = sum(
        max(0.0, min(starts[j.job_id] + j.duration, last_arrival) - max(starts[j.job_id], first))
        for j in jobs
    )
    return f"{busy / (SLOTS * (last_arrival - first)) * 100:5.1f} %"


def _gaps(jobs: list[Job], starts: dict[str, float], timeline: Timeline) -> str:
    last_arrival = max(j.arrival for j in jobs)
    per_slot: dict[int, list[tuple[float, float]]] = {}
    for j in jobs:
        start = starts[j.job_id]
        per_slot.setdefault(timeline.slot[j.job_id], []).append((start, start + j.duration))
    gaps = [
        nxt[0] - cur[1]
        for runs in per_slot.values()
        for cur, nxt in zip(sorted(runs), sorted(runs)[1:], strict=False)
        if nxt[0] <= last_arrival
    ]
    if len(gaps) < 20:
        return "too few"
    q = statistics.quantiles(gaps, n=20, method="inclusive")
    return f"P50 {statistics.median(gaps) * 1000:6.0f} ms  P95 {q[18] * 1000:6.0f} ms"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--jobs", type=int, default=300)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--scale", type=float, default=2.0, help="simulated time = the cost prior × this")
    parser.add_argument("--baseline-key", choices=("job", "tenant"), default="job")
    parser.add_argument("--drain", type=float, default=600.0, help="seconds to wait for the last outcomes")
    args = parser.parse_args()
    jobs = [replace(j, job_id=uuid.uuid4().hex) for j in workload(args.jobs, args.seed, SHAPES)]
    # the workload's unit (a 13-frame clip) in seconds
    unit = simulated_seconds(BUILTIN_MODELS[MODEL], clip_params(13), args.scale)
    _, config = bench_config("*=rate:1000,burst:1000,queued:100000")  # jobs skip the API: no key needed
    config = replace(
        config,
        worker_slots=tuple(range(SLOTS)),
        extra_env={**config.extra_env, "REELSTREAM_SIMULATED_RENDER_SCALE": f"{args.scale:g}"},
    )
    print(
        f"{len(jobs)} jobs, {SLOTS} slots, tenants {TENANTS} (equal weights), shapes {SHAPES}; "
        f"a 13-frame clip renders in {unit:.2f} s; {os.cpu_count()} cores for everything"
    )
    with throwaway_stack() as (endpoints, log_dir):
        pipeline = Pipeline(config, log_dir)
        try:
            pipeline.start(endpoints, os.environ, timeout=180)
            ours = asyncio.run(run_reelstream(endpoints, jobs, unit, args.drain))
        finally:
            pipeline.stop()
        group = asyncio.run(run_group(endpoints, jobs, unit, args.scale, args.baseline_key, args.drain))
    summarize("reelstream on Kafka (8 worker processes)", jobs, ours)
    summarize(f"consumer group of 8 (baseline; work topic keyed by {args.baseline_key})", jobs, group)


if __name__ == "__main__":
    main()
