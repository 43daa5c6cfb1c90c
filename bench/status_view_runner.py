"""One status view in a process of its own, for bench/status_view_memory.py: start it over a topic, time
until it is ready, then its RSS and the P99 of lookups and list pages; one JSON line on stdout.

    BENCH_ROOT=<checkout> python bench/status_view_runner.py --topic T --jobs N [--state-dir D [--restore]]

BENCH_ROOT picks the code: this worktree (the disk-backed view) or another checkout (main's in-memory view:
its StatusView takes no local store). The process imports `ingest.app` first, so its RSS is an ingest's
less the HTTP server's buffers. Kafka and the registry come from BENCH_BOOTSTRAP, BENCH_REGISTRY and
BENCH_SECURITY (a KafkaSecurity record, JSON). `--restore`: the empty state directory is first seeded from
the snapshot in object storage (reelstream.state_snapshot; BENCH_S3: endpoint, keys and bucket, JSON), as a
new ingest replica does; the time to ready includes the download.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import gc
import inspect
import json
import os
import random
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, os.environ.get("BENCH_ROOT", os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))

import psutil

import ingest.app  # noqa: F401  (what an ingest process has loaded)
from ingest.status_view import StatusView
from reelstream.config import load_config
from reelstream.kafka.registry import ConfluentRegistry
from reelstream.kafka.security import KafkaSecurity
from reelstream.settings import registry_auth_from_config
from schemas.events import Artifact, JobState, JobStatus, RenderParams
from schemas.serde import AvroSerde
from schemas.topics import COMMANDS, JOB_STATUS

TENANTS = 50
T0 = datetime(2026, 11, 1, tzinfo=UTC)
GETS, PAGES, PAGE_SIZE = 3000, 600, 50
RUNS = Path(tempfile.gettempdir()) / "status_view_runs.jsonl"


def snapshot(n: int) -> JobStatus:
    """Job n's succeeded snapshot, shaped like a real one (a 120-character prompt, metadata, an artifact)."""
    created = T0 + timedelta(seconds=n)
    job_id, tenant = f"{n:032x}", f"tenant-{n % TENANTS:04d}"
    return JobStatus(
        job_id=job_id,
        tenant_id=tenant,
        state=JobState.SUCCEEDED,
        prompt=f"{n} a slow wide shot of a red boat on a calm sea at sunset, gulls overhead, film grain",
        created_at=created,
        updated_at=created + timedelta(minutes=5),
        params=RenderParams("mochi-1", 848, 480, 163, 30, 64, 4.5, n),
        webhook_url=f"https://hooks.example.test/{tenant}/reelstream",
        metadata={"project": f"p{n % 97}", "run": str(n)},
        state_times={s: created for s in ("accepted", "queued", "dispatched", "running", "succeeded")},
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


def quantile(samples: list[float], q: float) -> float:
    return sorted(samples)[int(len(samples) * q)] * 1000


def rss_mib() -> float:
    return psutil.Process().memory_info().rss / 2**20


def seed_from_snapshot(path: Any, outcome: dict[str, Any]) -> None:
    """Restore the snapshot into the empty directory `path`, timed (what ingest's lifespan does)."""
    from reelstream.endpoints import Endpoints
    from reelstream.object_store import ObjectStore, minio_client
    from reelstream.state_snapshot import restore

    s3 = json.loads(os.environ["BENCH_S3"])
    endpoints = Endpoints("", "", s3["endpoint"], s3["access_key"], s3["secret_key"], s3["bucket"])
    started = time.perf_counter()
    found = restore(ObjectStore(minio_client(endpoints), endpoints.s3_bucket), path)
    outcome.update(
        restore_s=time.perf_counter() - started, restored=found.result, restore_bytes=found.bytes_read
    )


async def measure(topic_name: str, jobs: int, state_dir: str | None, restore: bool = False) -> dict[str, Any]:
    security = KafkaSecurity.from_record(json.loads(os.environ["BENCH_SECURITY"]))
    auth = registry_auth_from_config(load_config(os.environ))  # as status_view_memory passed it
    registry = ConfluentRegistry(os.environ["BENCH_REGISTRY"], auth)
    serde = AvroSerde(registry)
    await serde.register(JOB_STATUS, COMMANDS)
    topic = dataclasses.replace(JOB_STATUS, name=topic_name)
    store: Any = None
    extra: list[Any] = []
    restored: dict[str, Any] = {}
    gc.collect()
    base = rss_mib()
    started, cpu = time.perf_counter(), time.process_time()
    if "state" in inspect.signature(StatusView).parameters:  # the disk-backed view
        from reelstream.local_store import LocalStore

        seed = (lambda path: seed_from_snapshot(path, restored)) if restore else None
        store = LocalStore(state_dir).open(seed) if seed is not None else LocalStore(state_dir).open()
        extra = [store.namespace(b"status")]
    view = StatusView(os.environ["BENCH_BOOTSTRAP"], serde, *extra, topic=topic, security=security)
    await view.start()
    await view.wait_caught_up()
    ready, ready_cpu = time.perf_counter() - started, time.process_time() - cpu
    gc.collect()
    rss_ready = rss_mib()
    rng = random.Random(7)  # noqa: S311 (which jobs to look up)
    gets = []
    for _ in range(GETS):
        job_id = f"{rng.randrange(jobs):032x}"
        t = time.perf_counter()
        found = view.get(job_id)
        gets.append(time.perf_counter() - t)
        assert found is not None
        assert found.job_id == job_id
    pages, pages_cpu = [], []
    for i in range(PAGES):
        tenant = f"tenant-{rng.randrange(TENANTS):04d}"
        after = None if i % 2 else (-(rng.randrange(jobs) * 10**6) - int(T0.timestamp() * 1e6), "")
        t, c = time.perf_counter(), time.thread_time()
        listed, _ = view.page(tenant, PAGE_SIZE, after)
        pages.append(time.perf_counter() - t)
        pages_cpu.append(time.thread_time() - c)  # this thread's CPU: what the machine's load changes least
        assert listed or after is not None
    records_read = getattr(view, "records_read", None)
    await view.stop()
    if store is not None:
        store.close()
    await registry.aclose()
    return {
        "ready_s": ready,
        "ready_cpu_s": ready_cpu,  # this process's CPU (all its threads): what the load changes least
        "rss_base_mib": base,
        "rss_ready_mib": rss_ready,
        "rss_after_reads_mib": rss_mib(),
        "get_p50_ms": quantile(gets, 0.5),
        "get_p99_ms": quantile(gets, 0.99),
        "list_p50_ms": quantile(pages, 0.5),
        "list_p99_ms": quantile(pages, 0.99),
        "list_cpu_p50_ms": quantile(pages_cpu, 0.5),
        "list_cpu_p99_ms": quantile(pages_cpu, 0.99),
        "records_read": records_read,
        **restored,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--topic", required=True)
    parser.add_argument("--jobs", type=int, required=True)
    parser.add_argument("--state-dir", default=None)
    parser.add_argument("--restore", action="store_true", help="seed the empty state dir from the snapshot")
    args = parser.parse_args()
    result = json.dumps(asyncio.run(measure(args.topic, args.jobs, args.state_dir, args.restore)))
    with RUNS.open("a") as runs:  # every figure of every run, also those the summary does not print
        runs.write(json.dumps({"topic": args.topic, "restore": args.restore, **json.loads(result)}) + "\n")
    print(result)


if __name__ == "__main__":
    main()
