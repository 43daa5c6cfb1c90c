"""Benchmark: a burst of SubmitJobs straight to the commands topic, through admission and the scheduler.

    .venv/bin/python bench/stream_stages.py [--jobs 10000] [--tenants 10] [--timeout 300]
                                            [--admission-workers 1]

Starts its own stack and the two stages as the real processes (`python -m streams.admission`,
`python -m streams.scheduler`, as devstack.services.Pipeline starts them; no worker, so every job waits),
warms them up with one job, then produces `--jobs` SubmitJobs as fast as an acks=all producer allows and
follows the scheduler inbox and the status topic from this process. It prints
  - admission: JobAdmitted records written per second (record timestamps, first to last of the burst),
  - scheduler: jobs given their first `queued` snapshot per second (same),
  - the time from the burst's first send until every job was admitted, and until every job was queued,
  - how many jobs got a queue position (only the head of the queue is numbered, see streams.scheduling).
If the burst does not finish within `--timeout` seconds, it prints how far each stage got.
`--admission-workers 2` runs two admission processes in one consumer group (each gets half of the commands
topic's partitions), to compare with one. `--scheduler-only` starts no admission and produces the jobs'
JobAdmitted records straight to the scheduler's inbox: the scheduler's own rate, not bounded by admission's.
`--kafka-auth both` (the default) runs the burst on an open broker, then on a secured one (SASL
SCRAM-SHA-512 over TLS, ACLs) and prints the ratio of each figure; `on` / `off` runs one of them.
`--floor` runs bench/faust_floor.py in admission's place (a bare Faust agent that forwards JobAdmitted records
from the commands topic to the inbox): what Faust itself costs per event, to read admission's cost against.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from aiokafka.admin import AIOKafkaAdminClient  # noqa: E402
from bench_common import cpu_seconds, follow, throwaway_stack, wait_until  # noqa: E402

from devstack.process import ManagedProcess, free_port  # noqa: E402
from devstack.services import PipelineConfig, service_commands  # noqa: E402
from ingest.submission import parse_submission, submit_command  # noqa: E402
from reelstream.endpoints import Endpoints  # noqa: E402
from reelstream.kafka.clients import new_producer  # noqa: E402
from reelstream.kafka.registry import ConfluentRegistry  # noqa: E402
from reelstream.webhooks.messages import generate_secret  # noqa: E402
from schemas.events import JobAdmitted, JobState, RenderParams, SubmitJob  # noqa: E402
from schemas.serde import AvroSerde  # noqa: E402
from schemas.topics import ALL_TOPICS, COMMANDS, JOB_STATUS, SCHEDULER_INBOX  # noqa: E402

BODY = {"prompt": "a red fox in snow", "model": "tiny-mochi", "width": 64, "height": 48, "num_frames": 7}


@dataclass
class Progress:
    """What the follower saw of the jobs in `wanted`: when (record timestamps, s) each was admitted and
    first queued, and which got a position."""

    wanted: set[str]
    admitted: dict[str, float] = field(default_factory=dict)
    queued: dict[str, float] = field(default_factory=dict)
    positioned: set[str] = field(default_factory=set)
    snapshots: int = 0  # status records of the wanted jobs (a job's first and every later one)

    def done(self) -> bool:
        return len(self.queued) >= len(self.wanted)


def note(value: Any, timestamp: float, progress: Progress) -> None:
    job_id = getattr(value, "job_id", None)
    if job_id not in progress.wanted:
        return
    if isinstance(value, JobAdmitted):
        progress.admitted.setdefault(job_id, timestamp)
        return
    progress.snapshots += 1
    if value.state is JobState.QUEUED:
        progress.queued.setdefault(job_id, timestamp)
        if value.queue_position is not None:
            progress.positioned.add(job_id)


def admitted(command: SubmitJob) -> JobAdmitted:
    """What admission would write for `command` (the scheduler-only burst skips admission)."""
    p = command.params
    params = RenderParams(
        model=p.model or "tiny-mochi",
        width=p.width or 64,
        height=p.height or 48,
        num_frames=p.num_frames or 7,
        fps=p.fps or 24,
        num_inference_steps=p.num_inference_steps or 4,
        guidance_scale=p.guidance_scale or 4.5,
        seed=p.seed or 1,
    )
    return JobAdmitted(
        job_id=command.job_id,
        tenant_id=command.tenant_id,
        pool_id="default",
        prompt=command.prompt,
        params=params,
        submitted_at=command.occurred_at,
    )


def commands(count: int, tenants: int) -> list[SubmitJob]:
    submission = parse_submission(json.dumps(BODY).encode(), default_model="tiny-mochi")
    return [submit_command(submission, f"tenant-{i % tenants}") for i in range(count)]


async def group_settled(endpoints: Endpoints, group: str, members: int, seconds: float) -> bool:
    """Whether the consumer group is stable with `members` members (no rebalance during the burst)."""
    admin = AIOKafkaAdminClient(
        bootstrap_servers=endpoints.kafka_bootstrap, **endpoints.kafka_security.aiokafka()
    )
    await admin.start()
    try:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            [response] = await admin.describe_consumer_groups([group])
            _, _, state, _, _, found, *_ = response.groups[0]
            if state == "Stable" and len(found) == members:
                return True
            await asyncio.sleep(0.5)
        return False
    finally:
        await admin.close()


async def burst(
    endpoints: Endpoints,
    jobs: int,
    tenants: int,
    wait_s: float,
    group: str,
    admission_workers: int,
    stages: dict[str, int],
    floor: bool = False,
) -> dict[str, float]:
    """`admission_workers` 0: JobAdmitted records straight to the inbox (`group`: the scheduler's).
    `stages`: name → pid of each stage process, whose CPU time during the burst is reported. `floor`: the
    JobAdmitted records go to the commands topic, for bench/faust_floor.py to forward to the inbox."""
    registry = ConfluentRegistry.of(endpoints)
    serde = AvroSerde(registry)
    await serde.register(*ALL_TOPICS)
    producer = new_producer(
        endpoints.kafka_bootstrap, client_id="bench-burst", security=endpoints.kafka_security
    )
    await producer.start()
    warmup = commands(1, 1)
    burst_commands = commands(jobs, tenants)
    progress = Progress({c.job_id for c in warmup})
    stop = asyncio.Event()
    topics = (SCHEDULER_INBOX, JOB_STATUS)
    follower = asyncio.create_task(follow(endpoints, serde, topics, lambda v, t: note(v, t, progress), stop))
    try:
        everything = [*warmup, *burst_commands]
        if floor:
            topic = COMMANDS.name
            payloads = [
                (c.tenant_id.encode(), serde.serialize(SCHEDULER_INBOX, admitted(c))) for c in everything
            ]
        elif admission_workers:
            topic = COMMANDS.name
            payloads = [(c.tenant_id.encode(), serde.serialize(COMMANDS, c)) for c in everything]
        else:
            topic = SCHEDULER_INBOX.name
            payloads = [(b"default", serde.serialize(SCHEDULER_INBOX, admitted(c))) for c in everything]
        await producer.send_and_wait(topic, payloads[0][1], key=payloads[0][0])
        if not await wait_until(progress.done, 120):
            raise SystemExit("the warm-up job was not queued within 120 s; see the stages' logs")
        if not await group_settled(endpoints, group, max(1, admission_workers), 120):
            raise SystemExit(f"{group} did not settle in 120 s")
        progress = Progress({c.job_id for c in burst_commands})
        cpu_before = {name: cpu_seconds(pid) for name, pid in stages.items()}
        started = time.time()
        sends = [await producer.send(topic, v, key=k) for k, v in payloads[1:]]
        await asyncio.gather(*sends)
        produced = time.time()
        finished = await wait_until(progress.done, wait_s)
        cpu = {name: cpu_seconds(pid) - cpu_before[name] for name, pid in stages.items()}
        await asyncio.sleep(1.0)  # position updates of the last jobs
    finally:
        stop.set()
        await follower
        await producer.stop()
        await registry.aclose()
    report(admission_workers, progress, jobs, tenants, started, produced, finished, wait_s, cpu)
    figures = {f"{name} jobs per CPU-second": jobs / seconds for name, seconds in cpu.items() if seconds}
    if progress.queued:
        figures["seconds until every job was queued"] = max(progress.queued.values()) - started
    return figures


def rate(times: dict[str, float]) -> str:
    if len(times) < 2:
        return "       -"
    span = max(times.values()) - min(times.values())
    return f"{(len(times) - 1) / span:8.0f}" if span > 0 else "     inf"


def report(
    admission_workers: int,
    progress: Progress,
    jobs: int,
    tenants: int,
    started: float,
    produced: float,
    finished: bool,
    timeout: float,
    cpu: dict[str, float],
) -> None:
    print(f"\nstream stages: burst of {jobs} SubmitJobs from {tenants} tenants, {os.cpu_count()} cores")
    print(f"admission worker processes           {admission_workers:8d}")
    print(f"burst produced (acks=all)            {produced - started:8.1f} s")
    print(f"{'stage':36} {'events/s':>8} {'done':>7} {'all done after':>15}")
    for name, times in (
        ("admission (JobAdmitted)", progress.admitted),
        ("scheduler (first queued)", progress.queued),
    ):
        after = f"{max(times.values()) - started:13.1f} s" if len(times) == jobs else "   not in time"
        print(f"{name:36} {rate(times)} {len(times):7d} {after:>15}")
    print(f"jobs with a queue position           {len(progress.positioned):8d}")
    print(f"status snapshots per job             {progress.snapshots / jobs:8.2f}")
    print(f"{'CPU from the start until all queued':36} {'CPU s':>8} {'jobs per CPU-second':>20}")
    for name, seconds in cpu.items():
        print(f"  {name:34} {seconds:8.2f} {jobs / seconds if seconds else 0.0:20.0f}")
    if not finished:
        print(f"NOT FINISHED within {timeout:g} s: the numbers above are for the part that got through")


def profile(procs: list[ManagedProcess], out_dir: str, seconds: float) -> list[subprocess.Popen[bytes]]:
    """py-spy (collapsed stacks, one file per stage) on each stage for the whole run."""
    Path(out_dir).mkdir(parents=True, exist_ok=True)
    py_spy = str(Path(sys.executable).with_name("py-spy"))
    return [
        subprocess.Popen(
            [
                py_spy,
                "record",
                "--pid",
                str(p.pid),
                "--format",
                "raw",
                "--rate",
                "100",
                "--gil",  # samples holding the GIL: CPU spent in Python, not waits for the GIL or the broker
                "--duration",
                str(int(seconds)),
                "--output",
                str(Path(out_dir) / f"{p.name}.txt"),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for p in procs
    ]


def run(args: Any) -> None:
    """One burst per broker mode asked for; with both, the secured run's figures over the open run's."""
    modes = {"on": (True,), "off": (False,), "both": (False, True)}[args.kafka_auth]
    figures = {secured: run_once(args, secured) for secured in modes}
    if len(figures) == 2:
        print("\nSASL SCRAM-SHA-512 over TLS against PLAINTEXT, same run (ratio secured / plaintext):")
        for name, plain in figures[False].items():
            secured = figures[True].get(name)
            if secured is not None and plain:
                print(f"  {name:44} {plain:10.2f} {secured:10.2f} {secured / plain:8.3f}")


def run_once(args: Any, kafka_auth: bool) -> dict[str, float]:
    print(f"\n=== broker {'SASL_SSL (SCRAM-SHA-512, ACLs)' if kafka_auth else 'PLAINTEXT'} ===")
    figures: dict[str, float] = {}
    config = PipelineConfig(
        api_keys={"unused": "bench"},
        webhook_secret=generate_secret(),
        http_port=free_port(),
        app_prefix=f"bench-{uuid.uuid4().hex[:6]}",
        extra_env={
            "PYTHONPATH": str(ROOT),
            "REELSTREAM_TENANT_LIMITS": "*=rate:1000000,burst:1000000,queued:1000000",  # the path, not limits
        },
    )
    with throwaway_stack(kafka_auth) as (endpoints, log_dir):
        env = {**os.environ, **config.env(endpoints)}
        argvs = service_commands(config)
        if args.floor:
            argvs["admission"] = [sys.executable, str(ROOT / "bench" / "faust_floor.py")]
        admission_workers = 0 if args.scheduler_only else args.admission_workers
        names = [f"admission-{i + 1}" for i in range(admission_workers)] + ["scheduler"]
        procs = [
            ManagedProcess(n, argvs[n.partition("-")[0]], log_dir / f"{n}.log", env, die_with_parent=True)
            for n in names
        ]
        try:
            for proc in procs:
                proc.start()
            profilers = profile(procs, args.py_spy, args.timeout + 150) if args.py_spy else []
            stage = "admission" if admission_workers else "scheduler"
            group = f"{config.app_prefix}-{stage}"  # Faust's consumer group: the app's id
            pids = {p.name: p.pid for p in procs if p.pid is not None}
            figures = asyncio.run(
                burst(
                    endpoints,
                    args.jobs,
                    args.tenants,
                    args.timeout,
                    group,
                    admission_workers,
                    pids,
                    args.floor,
                )
            )
            for profiler in profilers:
                profiler.send_signal(signal.SIGINT)  # py-spy writes its profile on SIGINT
                profiler.wait(timeout=60)
        finally:
            for proc in procs:
                proc.stop()
            if args.keep_logs:
                for name in names:
                    Path(args.keep_logs).mkdir(parents=True, exist_ok=True)
                    log = log_dir / f"{name}.log"
                    (Path(args.keep_logs) / log.name).write_bytes(log.read_bytes())
    return figures


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--jobs", type=int, default=10_000)
    parser.add_argument("--tenants", type=int, default=10)
    parser.add_argument("--admission-workers", type=int, default=1, help="admission processes, one group")
    parser.add_argument("--timeout", type=float, default=300.0, help="seconds to wait for the burst")
    parser.add_argument("--scheduler-only", action="store_true", help="JobAdmitted straight to the inbox")
    parser.add_argument("--floor", action="store_true", help="bench/faust_floor.py in admission's place")
    parser.add_argument("--keep-logs", metavar="DIR", help="copy the stages' logs here")
    parser.add_argument("--py-spy", metavar="DIR", help="profile each stage with py-spy into DIR")
    parser.add_argument(
        "--kafka-auth", choices=("on", "off", "both"), default="both", help="secured broker, open, or both"
    )
    run(parser.parse_args())
