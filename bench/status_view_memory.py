"""Memory of ingest's status view per 100,000 jobs (issue #9, growth).

    python bench/status_view_memory.py [--jobs 100000]

Every ingest replica materializes every job's latest snapshot (`ingest.job_index.JobIndex`); this feeds it
succeeded snapshots shaped like real ones (a 120-character prompt, metadata, an artifact, state times) with
distinct strings, as records decoded from Kafka would be, and reports tracemalloc's count of what it holds,
and how long a full garbage collection takes with it in memory. Two ways of keeping a job, in the same run:
  objects - the decoded JobStatus (how the view kept jobs before);
  records - the Avro record's bytes in a tuple of plain values (how it keeps them now; decoded when read).
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import sys
import time
import tracemalloc
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from ingest.job_index import JobIndex
from schemas.events import Artifact, JobState, JobStatus, RenderParams, utc_now
from schemas.serde import AvroSerde
from schemas.topics import JOB_STATUS
from tests.kafka_clients import MemoryRegistry

TENANTS = 50


def snapshot(n: int) -> JobStatus:
    now = utc_now()
    job_id = f"{n:032x}"
    tenant = f"tenant-{n % TENANTS:04d}"
    return JobStatus(
        job_id=job_id,
        tenant_id=tenant,
        state=JobState.SUCCEEDED,
        prompt=f"{n} a slow wide shot of a red boat on a calm sea at sunset, gulls overhead, film grain",
        created_at=now - timedelta(minutes=5),
        updated_at=now,
        params=RenderParams("mochi-1", 848, 480, 163, 30, 64, 4.5, n),
        webhook_url=f"https://hooks.example.test/{tenant}/reelstream",
        metadata={"project": f"p{n % 97}", "run": str(n)},
        state_times={"accepted": now, "queued": now, "dispatched": now, "running": now, "succeeded": now},
        progress=1.0,
        attempt=1,
        slot=n % 8,
        artifact=Artifact(
            key=f"{tenant}/{job_id}/1/video.mp4",
            sha256=f"{n:064x}",
            bytes=14_500_000,
            content_type="video/mp4",
            duration_seconds=5.43,
            frames=163,
            width=848,
            height=480,
            fps=30.0,
            poster_key=f"{tenant}/{job_id}/1/poster.jpg",
            renderer="mochi-1",
            render_settings={"attention": "auto", "vae_tiling": "on"},
        ),
        version=12,
    )


async def record_serde() -> AvroSerde:
    serde = AvroSerde(MemoryRegistry())
    await serde.register(JOB_STATUS)
    await serde.deserialize(JOB_STATUS, serde.serialize(JOB_STATUS, snapshot(0)))  # the writer schema seen
    return serde


def fill(count: int, serde: AvroSerde | None) -> JobIndex:
    if serde is None:
        index = JobIndex()
        for n in range(count):
            index.apply(snapshot(n))  # what survives is what the index holds: snapshots and its indexes
        return index
    index = JobIndex(lambda raw: serde.decode_seen(JOB_STATUS, raw))
    for n in range(count):
        status = snapshot(n)
        index.apply(status, raw=serde.serialize(JOB_STATUS, status))
    return index


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--jobs", type=int, default=100_000)
    args = parser.parse_args()
    serde = asyncio.run(record_serde())
    columns = ("kept as", "jobs", "held MiB", "bytes/job", "MiB per 100k", "full gc ms")
    print("  ".join(f"{c:>{w}}" for c, w in zip(columns, (8, 8, 9, 9, 12, 10), strict=True)))
    for kept, with_serde in (("objects", None), ("records", serde)):
        for count in sorted({args.jobs // 10, args.jobs // 2, args.jobs}):
            tracemalloc.start()
            index = fill(count, with_serde)
            held, _ = tracemalloc.get_traced_memory()
            tracemalloc.stop()
            started = time.perf_counter()
            gc.collect()
            pause = (time.perf_counter() - started) * 1000
            per_job = held / count
            mib = per_job * 1e5 / 2**20
            figures = f"{held / 2**20:>9.1f}  {per_job:>9.0f}  {mib:>12.1f}  {pause:>10.1f}"
            print(f"{kept:>8}  {count:>8}  {figures}")
            del index


if __name__ == "__main__":
    main()
