"""What the pipeline benchmarks share: the job they submit, their pipeline settings, a throw-away stack, a
follower of topics, waiting on a condition, and a process's CPU time."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import os
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from aiokafka import AIOKafkaConsumer  # noqa: E402

from devstack.manager import ExternalServices, LocalStack, StackLayout  # noqa: E402
from devstack.process import free_port  # noqa: E402
from devstack.services import PipelineConfig, prepare_infrastructure  # noqa: E402
from reelstream.endpoints import Endpoints  # noqa: E402
from reelstream.webhooks.messages import generate_secret  # noqa: E402
from schemas.serde import AvroSerde  # noqa: E402
from schemas.topics import Topic  # noqa: E402

# the smallest job the tiny renderer runs: what is measured is the pipeline around it
BODY = {
    "prompt": "a red fox in snow",
    "model": "tiny-mochi",
    "width": 64,
    "height": 48,
    "num_frames": 7,
    "fps": 24,
    "num_inference_steps": 2,
}


def bench_config(tenant_limits: str) -> tuple[str, PipelineConfig]:
    """An API key for tenant `bench` and the services' settings, with limits out of the measured path."""
    key = "rs_bench_" + uuid.uuid4().hex
    config = PipelineConfig(
        api_keys={key: "bench"},
        webhook_secret=generate_secret(),
        http_port=free_port(),
        app_prefix=f"bench-{uuid.uuid4().hex[:6]}",
        extra_env={"PYTHONPATH": str(ROOT), "REELSTREAM_TENANT_LIMITS": tenant_limits},
    )
    return key, config


@contextlib.contextmanager
def throwaway_stack(kafka_auth: bool | None = None) -> Iterator[tuple[Endpoints, Path]]:
    """Kafka, the registry and MinIO on free ports with topics and bucket ready; their log folder.
    `kafka_auth`: the broker secured (SASL SCRAM over TLS, ACLs) or open; None: REELSTREAM_DEV_KAFKA_AUTH."""
    with tempfile.TemporaryDirectory() as tmp:
        layout = StackLayout.ephemeral(Path(tmp), os.environ)
        if kafka_auth is not None:
            layout = dataclasses.replace(layout, kafka_auth=kafka_auth)
        with LocalStack(layout, os.environ, ExternalServices.from_env(os.environ)) as endpoints:
            asyncio.run(prepare_infrastructure(endpoints))
            yield endpoints, layout.log_dir


async def follow(
    endpoints: Endpoints,
    serde: AvroSerde,
    topics: Sequence[Topic[Any]],
    on_value: Callable[[Any, float], None],
    stop: asyncio.Event,
) -> None:
    """Every record of `topics` from their beginning until `stop` is set: its decoded value and its record
    timestamp (epoch seconds) to `on_value`."""
    by_name = {topic.name: topic for topic in topics}
    consumer = AIOKafkaConsumer(
        *by_name,
        bootstrap_servers=endpoints.kafka_bootstrap,
        **endpoints.kafka_security.aiokafka(),
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        group_id=None,
    )
    await consumer.start()
    try:
        while not stop.is_set():
            for tp, records in (await consumer.getmany(timeout_ms=200, max_records=2000)).items():
                for record in records:
                    on_value(
                        await serde.deserialize(by_name[tp.topic], record.value), record.timestamp / 1000
                    )
    finally:
        await consumer.stop()


async def wait_until(predicate: Callable[[], bool], seconds: float) -> bool:
    """Whether `predicate` held within `seconds` (looked at five times a second)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        await asyncio.sleep(0.2)
    return predicate()


def cpu_seconds(pid: int | None) -> float:
    """User + system CPU time of process `pid` so far, all its threads (Linux /proc): contention from other
    processes on the machine changes rates a lot, CPU time per unit of work much less."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
