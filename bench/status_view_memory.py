"""Ingest's status view against a real Kafka (issue #23, "Bounded memory, fast restart"): memory, restart to
ready with a warm disk, ready from an empty disk (scale-out), and the P99 of a lookup and of a list page, at
N retained jobs; the old in-memory view (another checkout's code, e.g. main's) measured in the same run.

    python bench/status_view_memory.py [--jobs 10000 100000 1000000] [--old-root /work/main]

A throw-away stack (devstack: Kafka with SASL/TLS, the registry) is started; for each N a compacted topic
with the status topic's contract gets N succeeded snapshots of distinct jobs (confluent-kafka, batched),
then each view runs in a process of its own (bench/status_view_runner.py):
  empty - the disk-backed view from an empty state directory: a new replica's replay;
  warm  - the same view restarted over the directory the first one left (resumes from its checkpoint);
  old   - the in-memory view of `--old-root` (every replica replays everything at every start).
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
from schemas.serde import AvroSerde
from schemas.topics import JOB_STATUS

sys.path.insert(0, str(Path(__file__).resolve().parent))
from status_view_runner import snapshot

RUNNER = Path(__file__).resolve().parent / "status_view_runner.py"


async def populate(endpoints: Endpoints, topic_name: str, jobs: int) -> float:
    """N snapshots on a fresh topic; seconds it took."""
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
    for n in range(jobs):
        status = snapshot(n)
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
    endpoints: Endpoints, topic: str, jobs: int, root: Path, state_dir: str | None
) -> dict[str, Any]:
    env = {
        **os.environ,
        "BENCH_ROOT": str(root),
        "PYTHONPATH": str(root),
        "BENCH_BOOTSTRAP": endpoints.kafka_bootstrap,
        "BENCH_REGISTRY": endpoints.schema_registry_url,
        "BENCH_SECURITY": json.dumps(endpoints.kafka_security.to_record()),
        **endpoints.registry_auth.as_env(),  # the registry's user, password and CA, as the services get them
    }
    command = [sys.executable, str(RUNNER), "--topic", topic, "--jobs", str(jobs)]
    if state_dir is not None:
        command += ["--state-dir", state_dir]
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
    parser.add_argument("--old-root", type=Path, default=None, help="a checkout with the in-memory view")
    args = parser.parse_args()
    columns = ("jobs", "view", "ready s", "CPU s", "RSS MiB", "base MiB", "GET p50/p99 ms", "list p50/p99 ms")
    widths = (8, 6, 8, 8, 8, 8, 15, 16)
    print("  ".join(f"{c:>{w}}" for c, w in zip(columns, widths, strict=True)), flush=True)
    with throwaway_stack() as (endpoints, _), tempfile.TemporaryDirectory() as tmp:
        for jobs in args.jobs:
            topic = f"bench.status.{jobs}.{os.getpid()}"
            took = asyncio.run(populate(endpoints, topic, jobs))
            print(f"# {jobs} records produced in {took:.1f} s", flush=True)
            state = str(Path(tmp) / f"state-{jobs}")
            runs = [("empty", ROOT, state), ("warm", ROOT, state)]
            if args.old_root is not None:  # first: what runs right after the topic was filled is slowed most
                runs.insert(0, ("old", args.old_root, None))
            results = {}
            for name, root, state_dir in runs:
                r = results[name] = run_view(endpoints, topic, jobs, root, state_dir)
                get = f"{r['get_p50_ms']:.3f}/{r['get_p99_ms']:.3f}"
                page = f"{r['list_p50_ms']:.3f}/{r['list_p99_ms']:.3f}"
                print(
                    f"{jobs:>8}  {name:>6}  {r['ready_s']:>8.2f}  {r['ready_cpu_s']:>8.2f}  "
                    f"{r['rss_ready_mib']:>8.0f}  {r['rss_base_mib']:>8.0f}  {get:>15}  {page:>16}",
                    flush=True,
                )
            if "old" in results:
                old, new = results["old"], results["empty"]
                growth = lambda r: r["rss_ready_mib"] - r["rss_base_mib"]  # noqa: E731
                warm = results["warm"]
                print(
                    f"# {jobs}: old/new view memory {growth(old):.0f}/{growth(new):.0f} MiB above base "
                    f"(x{growth(old) / max(growth(new), 1):.1f}); ready: old {old['ready_s']:.1f} s "
                    f"({old['ready_cpu_s']:.1f} s CPU), empty disk {new['ready_s']:.1f} s "
                    f"({new['ready_cpu_s']:.1f} s CPU), warm {warm['ready_s']:.2f} s; the warm restart read "
                    f"{warm['records_read']} records",
                    flush=True,
                )


if __name__ == "__main__":
    main()
