"""`reelstream dev`: the whole system on this machine, in the foreground, until Ctrl-C."""

from __future__ import annotations

import asyncio
import logging
import signal
import threading
from collections.abc import Mapping

from reelstream.kafka.admin import ensure_topics
from reelstream.kafka.registry import ConfluentRegistry
from reelstream.stack.manager import Endpoints, ExternalServices, LocalStack, StackLayout
from schemas.serde import AvroSerde
from schemas.topics import ALL_TOPICS

logger = logging.getLogger(__name__)


async def prepare_infrastructure(endpoints: Endpoints) -> None:
    """Create the declared topics and register every topic's schema (both idempotent)."""
    await ensure_topics(endpoints.kafka_bootstrap, ALL_TOPICS)
    registry = ConfluentRegistry(endpoints.schema_registry_url)
    try:
        await AvroSerde(registry).register(*ALL_TOPICS)
    finally:
        await registry.aclose()


def wait_for_stop_signal() -> None:
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    stop.wait()


def run_dev(env: Mapping[str, str]) -> int:
    layout = StackLayout.dev(env)
    stack = LocalStack(layout, env, ExternalServices.from_env(env))
    with stack as endpoints:
        asyncio.run(prepare_infrastructure(endpoints))
        print("reelstream dev stack is up" + (" (reused a running stack)" if stack.reused else ""))
        print(f"  Kafka bootstrap   {endpoints.kafka_bootstrap}")
        print(f"  Schema registry   {endpoints.schema_registry_url}")
        print(f"  S3 (MinIO)        {endpoints.s3_endpoint}  bucket {endpoints.s3_bucket}")
        print(f"  logs              {layout.log_dir}")
        print("Ctrl-C stops what this command started.")
        wait_for_stop_signal()
        print("stopping…")
    return 0
