"""Ingest's status view against a real Kafka (issue #23, "Bounded memory, fast restart"): memory, restart to
ready with a warm disk, ready from an empty disk (scale-out), and the P99 of a lookup and of a list page, at
N retained jobs; the old in-memory view (another checkout's code, e.g. main's) measured in the same run.

    python bench/status_view_memory.py [--jobs 10000 100000 1000000] [--old-root /work/main]

A throw-away stack (devstack: Kafka with SASL/TLS, the registry) is started; for each N a compacted topic
with the status topic's contract gets N succeeded snapshots of distinct jobs (confluent-kafka, batched),
then each view runs in a process of its own (bench/status_view_runner.py):
  old   - the view of `--old-root` (another checkout, e.g. main's) from an empty disk: the "before";
  empty - the disk-backed view from an empty state directory without a snapshot: a replay of everything;
then the directory it left is published as a snapshot to the stack's MinIO (reelstream.state_snapshot;
"snapshot" line: seconds and size), and `--tail` (1 %) of the jobs get a newer snapshot on the topic (what
happened since the snapshot was taken), and:
  snap  - a new replica: an empty directory seeded from the snapshot (download and unpack, timed in "ready"),
          then only the tail read from the topic;
  warm  - the first view restarted over the directory it left (resumes from its checkpoint, reads the tail).
RSS is the process's after it is ready (base: before the view started), lookups and pages are timed
in-process (the view's share of a GET / a list request, without HTTP). The machine's load changes the
times a lot; RSS much less. A benchmark, not a test.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench_common import ROOT, throwaway_stack
from confluent_kafka import Producer

from reelstream.endpoints import Endpoints
from reelstream.kafka.admin import ensure_topics
from reelstream.kafka.registry import ConfluentRegistry
from reelstream.local_store import LocalStore
from reelstream.object_store import ObjectStore, minio_client
from reelstream.state_snapshot import publish
from schemas.serde import AvroSerde
from schemas.topics import JOB_STATUS

sys.path.insert(0, str(Path(__file__).resolve().parent))
from status_view_runner import snapshot

RUNNER = Path(__file__).resolve().parent / "status_view_runner.py"


async def populate(
    endpoints: Endpoints, topic_name: str, jobs: int, first: int = 0, version: int = 12
) -> float:
    """Snapshots of jobs `first`..`jobs`-1 (at `version`) on the topic, made if new; seconds it took."""
    topic = dataclasses.replace(JOB_STATUS, name=topic_name)
    await ensure_topics(endpoints.kafka_bootstrap, [topic], security=endpoints.kafka_security)
    registry = ConfluentRegistry.of(endpoints)
    serde = AvroSerde(registry)
    await serde.register(JOB_STATUS)
    producer = Producer(
        {
            "bootstrap.servers": endpoints.kafka_bootstrap,
            **endpoints.kafka_security.librdkafka(),
            "linger.ms": 50,
            "batch.num.messages": 10_000,
            "queue.buffering.max.messages": 500_000,
            "enable.idempotence": True,
        }
    )
    started = time.perf_counter()
    for n in range(first, jobs):
        status = dataclasses.replace(snapshot(n), version=version)
        while True:
            try:
                producer.produce(topic_name, serde.serialize(JOB_STATUS, status), status.job_id.encode())
                break
            except BufferError:
                producer.poll(0.05)
        if n % 10_000 == 0:
            producer.poll(0)
    if producer.flush(120) != 0:
        raise RuntimeError("records left unsent")
    await registry.aclose()
    return time.perf_counter() - started


def run_view(
    endpoints: Endpoints, topic: str, jobs: int, root: Path, state_dir: str | None, restore: bool = False
) -> dict[str, Any]:
    env = {
        **os.environ,
        "BENCH_ROOT": str(root),
        "PYTHONPATH": str(root),
        "BENCH_BOOTSTRAP": endpoints.kafka_bootstrap,
        "BENCH_REGISTRY": endpoints.schema_registry_url,
        "BENCH_SECURITY": json.dumps(endpoints.kafka_security.to_record()),
        **endpoints.registry_auth.as_env(),  # the registry's user, password and CA, as the services get them
        "BENCH_S3": json.dumps(
            {
                "endpoint": endpoints.s3_endpoint,
                "access_key": endpoints.s3_access_key,
                "secret_key": endpoints.s3_secret_key,
                "bucket": endpoints.s3_bucket,
            }
        ),
    }
    command = [sys.executable, str(RUNNER), "--topic", topic, "--jobs", str(jobs)]
    if state_dir is not None:
        command += ["--state-dir", state_dir]
    if restore:
        command.append("--restore")
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"runner failed: {done.stderr[-3000:]}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--jobs", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--old-root", type=Path, default=None, help="a checkout with the view to compare")
    parser.add_argument("--tail", type=float, default=0.01, help="share of jobs updated after the snapshot")
    args = parser.parse_args()
    print("  ".join(f"{c:>{w}}" for c, w in zip(COLUMNS, WIDTHS, strict=True)), flush=True)
    with throwaway_stack() as (endpoints, _), tempfile.TemporaryDirectory() as tmp:
        for jobs in args.jobs:
            topic = f"bench.status.{jobs}.{os.getpid()}"
            took = asyncio.run(populate(endpoints, topic, jobs))
            print(f"# {jobs} records produced in {took:.1f} s", flush=True)
            state = str(Path(tmp) / f"state-{jobs}")
            results = {}
            if args.old_root is not None:  # first: what runs right after the topic was filled is slowed most
                results["old"] = show(jobs, "old", run_view(endpoints, topic, jobs, args.old_root, None))
            results["empty"] = show(jobs, "empty", run_view(endpoints, topic, jobs, ROOT, state))
            published, size = snapshot_of(endpoints, Path(state), Path(tmp))
            tail = max(1, int(jobs * args.tail))
            produced = asyncio.run(populate(endpoints, topic, tail, version=13))
            print(
                f"# snapshot of {jobs}: published in {published:.1f} s, {size / 2**20:.0f} MiB; then {tail} "
                f"jobs updated in {produced:.1f} s",
                flush=True,
            )
            snap_dir = str(Path(tmp) / f"snap-{jobs}")
            results["snap"] = show(
                jobs, "snap", run_view(endpoints, topic, jobs, ROOT, snap_dir, restore=True)
            )
            results["warm"] = show(jobs, "warm", run_view(endpoints, topic, jobs, ROOT, state))
            summarize(jobs, results)


COLUMNS = (
    "jobs",
    "view",
    "ready s",
    "CPU s",
    "RSS MiB",
    "base MiB",
    "GET p50/p99 ms",
    "list p50/p99 ms",
    "read",
)
WIDTHS = (8, 6, 8, 8, 8, 8, 15, 16, 8)


def show(jobs: int, name: str, r: dict[str, Any]) -> dict[str, Any]:
    get = f"{r['get_p50_ms']:.3f}/{r['get_p99_ms']:.3f}"
    page = f"{r['list_p50_ms']:.3f}/{r['list_p99_ms']:.3f}"
    print(
        f"{jobs:>8}  {name:>6}  {r['ready_s']:>8.2f}  {r['ready_cpu_s']:>8.2f}  {r['rss_ready_mib']:>8.0f}  "
        f"{r['rss_base_mib']:>8.0f}  {get:>15}  {page:>16}  {r['records_read']!s:>8}",
        flush=True,
    )
    if "list_cpu_p50_ms" in r:  # the page's own CPU (its thread's), which the machine's load changes least
        cpu = f"{r['list_cpu_p50_ms']:.2f}/{r['list_cpu_p99_ms']:.2f}"
        print(f"#   list page CPU p50/p99 {cpu} ms", flush=True)
    if "restored" in r:
        print(
            f"#   {r['restored']}: {r['restore_bytes'] / 2**20:.0f} MiB in {r['restore_s']:.1f} s", flush=True
        )
    return r


def snapshot_of(endpoints: Endpoints, state: Path, scratch: Path) -> tuple[float, int]:
    """Publish the state directory a view left, as a replica's snapshotter does; seconds and bytes."""
    store = LocalStore(str(state)).open()
    try:
        started = time.perf_counter()
        size = publish(store, ObjectStore(minio_client(endpoints), endpoints.s3_bucket), scratch)
        return time.perf_counter() - started, size
    finally:
        store.close()


def summarize(jobs: int, results: dict[str, dict[str, Any]]) -> None:
    empty, snap, warm = results["empty"], results["snap"], results["warm"]
    line = (
        f"# {jobs}: ready from an empty disk {empty['ready_s']:.1f} s ({empty['ready_cpu_s']:.1f} CPU-s) "
        f"without a snapshot, {snap['ready_s']:.1f} s ({snap['ready_cpu_s']:.1f} CPU-s) with one "
        f"(x{empty['ready_s'] / max(snap['ready_s'], 1e-3):.1f}); warm restart {warm['ready_s']:.2f} s"
    )
    if "old" in results:
        old = results["old"]
        line += (
            f"; list p50/p99 old {old['list_p50_ms']:.1f}/{old['list_p99_ms']:.1f} ms, new "
            f"{empty['list_p50_ms']:.1f}/{empty['list_p99_ms']:.1f} ms (p99 "
            f"x{old['list_p99_ms'] / max(empty['list_p99_ms'], 1e-3):.1f})"
        )
    print(line, flush=True)


if __name__ == "__main__":
    main()
