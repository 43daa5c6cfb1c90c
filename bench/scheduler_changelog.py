"""Benchmark: changelog bytes the scheduler writes per event, whole state vs per-job entries (pool_store).

    .venv/bin/python bench/scheduler_changelog.py [--queued 1000] [--events 200]

A pool of 8 busy slots with `--queued` jobs waiting (three tenants, 200-character prompts) takes a mix of
the events a loaded pool sees: heartbeats of the busy slots, render progress, a success that frees a slot
(and so a dispatch that moves the queue), an admission, a tick. For each event it counts the bytes of the
table records written (key + value) by:
  * whole   - the scheduler before pool_store: the pool's whole state as one value, on every event;
  * entries - pool_store.persist: the touched jobs' entries and the pool's index (nothing if unchanged).
No Kafka: the bytes are what Faust would send to the changelog. Prints one JSON line per event kind.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from schemas import events as ev
from streams.pool_store import PoolImage, persist, restore
from streams.scheduling import SchedulerState, apply, dump_state

SLOTS = 8
T0 = datetime(2026, 1, 1, tzinfo=UTC)
PARAMS = ev.RenderParams(
    model="tiny-mochi", width=64, height=48, num_frames=13, fps=24, num_inference_steps=3, guidance_scale=4.5,
    seed=7,
)  # fmt: skip


def admitted(i: int, at: datetime) -> ev.JobAdmitted:
    return ev.JobAdmitted(
        job_id=f"job-{i:06d}",
        tenant_id=("tenant-a", "tenant-b", "tenant-c")[i % 3],
        pool_id="default",
        prompt=f"{i} " + "a lighthouse on a cliff in a storm at dusk, waves breaking, " * 3,
        params=PARAMS,
        submitted_at=at,
        occurred_at=at,
    )


def beat(slot: int, at: datetime, job: str | None = None, attempt: int | None = None) -> ev.WorkerHeartbeat:
    state = ev.WorkerState.BUSY if job else ev.WorkerState.IDLE
    return ev.WorkerHeartbeat(
        worker_id=f"w{slot}", pool_id="default", slot=slot, state=state, renderer="tiny-mochi",
        job_id=job, attempt=attempt, occurred_at=at,
    )  # fmt: skip


def loaded_pool(queued: int) -> tuple[SchedulerState, PoolImage]:
    state = SchedulerState("default")
    for slot in range(SLOTS):
        state, _ = apply(state, beat(slot, T0))
    for i in range(queued + SLOTS):
        state, _ = apply(state, admitted(i, T0))
    image, _ = restore("default", [])
    image, _ = persist(image, state)
    return state, image


def next_event(kind: str, state: SchedulerState, at: datetime, n: int) -> ev.InboxEvent:
    running = sorted((s.slot, s.job_id, s.attempt) for s in state.slots.values() if s.job_id)
    slot, job, attempt = running[n % len(running)]
    assert job is not None
    assert attempt is not None
    match kind:
        case "heartbeat":
            return beat(slot, at, job, attempt)
        case "progress":
            return ev.RenderProgress(
                job_id=job, slot=slot, attempt=attempt, stage=ev.RenderStage.DENOISE, step=n % 9 + 1,
                total_steps=10, progress=(n % 9 + 1) / 10, occurred_at=at,
            )  # fmt: skip
        case "success+dispatch":
            artifact = ev.Artifact(
                key=f"{job}/{attempt}/video.mp4", sha256="ab" * 32, bytes=123_456, content_type="video/mp4",
                duration_seconds=13 / 24, frames=13, width=64, height=48, fps=24.0,
            )  # fmt: skip
            return ev.RenderSucceeded(
                job_id=job, slot=slot, attempt=attempt, artifact=artifact, render_seconds=1.0, occurred_at=at
            )
        case "admission":
            return admitted(10_000_000 + n, at)
        case _:
            return ev.SchedulerTick(pool_id="default", occurred_at=at)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--queued", type=int, default=1000)
    parser.add_argument("--events", type=int, default=200, help="per event kind")
    args = parser.parse_args()
    kinds = ["heartbeat", "progress", "success+dispatch", "admission", "tick"]
    for kind in kinds:
        state, image = loaded_pool(args.queued)
        sizes: dict[str, list[int]] = defaultdict(list)
        seconds: dict[str, list[float]] = defaultdict(list)
        for n in range(args.events):
            at = T0 + timedelta(milliseconds=10 * (n + 1))
            event = next_event(kind, state, at, n)
            state, _ = apply(state, event)
            start = time.perf_counter()
            whole = dump_state(state)
            seconds["whole"].append(time.perf_counter() - start)
            sizes["whole"].append(len(b"default") + len(whole))
            start = time.perf_counter()
            image, writes = persist(image, state)
            seconds["entries"].append(time.perf_counter() - start)
            sizes["entries"].append(sum(len(k) + len(v or b"") for k, v in writes))
        line = {
            "event": kind,
            "queued": args.queued,
            "whole_bytes_mean": round(statistics.mean(sizes["whole"])),
            "entries_bytes_mean": round(statistics.mean(sizes["entries"])),
            "ratio": round(statistics.mean(sizes["whole"]) / max(1.0, statistics.mean(sizes["entries"])), 1),
            "whole_ms_mean": round(1000 * statistics.mean(seconds["whole"]), 3),
            "entries_ms_mean": round(1000 * statistics.mean(seconds["entries"]), 3),
        }
        print(json.dumps(line), flush=True)


if __name__ == "__main__":
    main()
