"""reelstream.lag on the real broker: the exporter reads committed vs end offsets, and it leaves no Kafka
client behind, neither used directly nor inside the scheduler process that runs it."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import httpx
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.structs import OffsetAndMetadata
from prometheus_client import CollectorRegistry

from devstack.process import free_port
from reelstream.endpoints import Endpoints
from reelstream.lag import LagExporter
from schemas.topics import COMMANDS

REPO = Path(__file__).resolve().parents[2]
DEADLINE_S = 60.0


def broker_connections(port: int) -> int:
    """Established TCP connections of this process to `port` (Linux: /proc/net/tcp* against our fds)."""
    fds = Path("/proc/self/fd")
    ours = set()
    for fd in fds.iterdir():
        with contextlib.suppress(OSError):  # an fd closed meanwhile
            target = os.readlink(fd)
            if target.startswith("socket:["):
                ours.add(target[8:-1])
    count = 0
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            remote_port, state, inode = int(fields[2].rsplit(":", 1)[1], 16), fields[3], fields[9]
            count += remote_port == port and state == "01" and inode in ours
    return count


async def wait_connections(port: int, expected: int) -> int:
    """The count once it is `expected` (sockets close on the loop's next turns), or as it is after 10 s."""
    deadline = time.monotonic() + 10
    while True:
        count = broker_connections(port)
        if count == expected or time.monotonic() > deadline:
            return count
        await asyncio.sleep(0.05)


async def committed_group(stack: Endpoints, prefix: str, records: int, commit: int) -> str:
    """A consumer group named with `prefix` that committed `commit` on partition 0 of the commands topic,
    after `records` more records reached it; its name."""
    producer = AIOKafkaProducer(bootstrap_servers=stack.kafka_bootstrap, **stack.kafka_security.aiokafka())
    await producer.start()
    try:
        for _ in range(records):
            meta = await producer.send_and_wait(COMMANDS.name, b"not read by anyone", partition=0)
    finally:
        await producer.stop()
    group = f"{prefix}-group"
    consumer = AIOKafkaConsumer(
        bootstrap_servers=stack.kafka_bootstrap,
        **stack.kafka_security.aiokafka(),
        group_id=group,
        enable_auto_commit=False,
    )
    await consumer.start()
    try:
        tp = TopicPartition(COMMANDS.name, 0)
        consumer.assign([tp])
        await consumer.commit({tp: OffsetAndMetadata(meta.offset + 1 - records + commit, "")})
    finally:
        await consumer.stop()
    return group


async def test_lag_is_read_and_close_leaves_no_connection_behind(stack: Endpoints, topics: None) -> None:
    port = int(stack.kafka_bootstrap.rsplit(":", 1)[1])
    before = broker_connections(port)
    prefix = f"lag-{uuid.uuid4().hex[:8]}"
    group = await committed_group(stack, prefix, records=5, commit=2)
    assert await wait_connections(port, before) == before  # the set-up's clients are gone
    registry = CollectorRegistry()
    exporter = LagExporter(stack.kafka_bootstrap, f"{prefix}-", registry, security=stack.kafka_security)
    read = "reelstream_kafka_offsets_read_timestamp_seconds"
    assert registry.get_sample_value(read) == 0  # never read: ReelstreamKafkaUnreachable's clock starts

    started = time.time()
    rows = await exporter.refresh()
    assert [(r.group, r.topic, r.partition, r.lag) for r in rows] == [(group, COMMANDS.name, 0, 3)], rows
    assert (registry.get_sample_value(read) or 0) >= int(started)  # Kafka answered
    assert broker_connections(port) > before  # the check sees the exporter's clients

    await asyncio.gather(exporter.close(), exporter.refresh())  # a timer firing while the app stops
    assert await wait_connections(port, before) == before
    assert await exporter.refresh() == []  # closed for good: nothing read, no client opened again
    await exporter.close()  # idempotent
    assert await wait_connections(port, before) == before


def _lag_exported(metrics_url: str, group: str, process: subprocess.Popen[bytes], log: Path) -> bool:
    assert process.poll() is None, f"the scheduler exited early:\n{log.read_text(errors='replace')[-4000:]}"
    try:
        return f'group="{group}"' in httpx.get(metrics_url, timeout=2).text
    except httpx.HTTPError:
        return False


def test_the_scheduler_closes_its_lag_exporter_when_it_stops(
    stack: Endpoints, topics: None, tmp_path: Path
) -> None:
    prefix = f"lag-{uuid.uuid4().hex[:8]}"
    metrics_port = free_port()
    env = {
        **os.environ,
        **stack.as_env(),
        "REELSTREAM_APP_PREFIX": prefix,
        "REELSTREAM_METRICS_PORT": str(metrics_port),
        "REELSTREAM_LAG_INTERVAL_SECONDS": "0.2",
        "REELSTREAM_LOG_FORMAT": "text",
        "PYTHONUNBUFFERED": "1",
        "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])),
    }
    log_path = tmp_path / "scheduler.log"
    with log_path.open("wb") as log_file:
        process = subprocess.Popen(
            [sys.executable, "-m", "streams.scheduler"],
            env=env,
            cwd=tmp_path,
            stdout=log_file,
            stderr=subprocess.STDOUT,
        )
    try:
        metrics_url = f"http://127.0.0.1:{metrics_port}/metrics"
        deadline = time.monotonic() + DEADLINE_S
        # the exporter has read the scheduler's own group: its clients are open
        while not _lag_exported(metrics_url, f"{prefix}-scheduler", process, log_path):
            assert time.monotonic() < deadline, log_path.read_text(errors="replace")[-4000:]
            time.sleep(0.2)  # polling the scheduler's /metrics, with a deadline
        process.send_signal(signal.SIGTERM)
        returncode = process.wait(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=10)
    log = log_path.read_text(errors="replace")
    assert returncode == 0, log[-4000:]
    assert "Unclosed AIOKafka" not in log, log[-4000:]
