"""A pipeline whose jobs take gangs: two simulated worker slots (an all-reduce over the gang per step, so
a member's death breaks the others at once, as on GPUs), REELSTREAM_GANG_MAX_SLOTS=2, short leases. Its own
package, with its own stack (tests/own_stack.py): the e2e package's pipeline serves one slot per job, and on
the session's broker this pipeline's fresh scheduler would first replay the other pipelines' jobs and
heartbeats (a third slot that no worker here serves took part in a gang)."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from devstack.process import free_port
from devstack.services import Pipeline, PipelineConfig, prepare_infrastructure
from reelstream.endpoints import Endpoints
from reelstream.webhooks.messages import generate_secret
from tests import own_stack

TENANT_KEY = "rs_test_" + uuid.uuid4().hex
OPERATOR_KEY = "rs_test_" + uuid.uuid4().hex
SIMULATED_SCALE = (
    8.0  # the tiny model's prior × 8: a 20-step 64×48×13 render ≈ 20 s alone, ≈ 10 s as a gang of 2
)

# the package's own Kafka, registry and MinIO (tests/own_stack.py)
stack, topics, serde = own_stack.stack, own_stack.topics, own_stack.serde


@pytest.fixture(scope="package")
def gang_pipeline(stack: Endpoints, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pipeline]:
    asyncio.run(prepare_infrastructure(stack))
    config = PipelineConfig(
        api_keys={TENANT_KEY: "tenant-gang", OPERATOR_KEY: "tenant-ops:operator"},
        webhook_secret=generate_secret(),
        http_port=free_port(),
        app_prefix=f"gang-{uuid.uuid4().hex[:8]}",
        worker_slots=(0, 1),
        gang_max_slots=2,
        extra_env={
            "PYTHONPATH": str(Path(__file__).parents[2]),
            "REELSTREAM_LEASE_SECONDS": "6",
            "REELSTREAM_HEARTBEAT_SECONDS": "1",
            "REELSTREAM_MAX_ATTEMPTS": "6",
            "REELSTREAM_RETRY_BACKOFF_SECONDS": "0.5",
            "REELSTREAM_GANG_TIMEOUT_SECONDS": "15",
            "REELSTREAM_SIMULATED_RENDER_SCALE": str(SIMULATED_SCALE),
            # tenant-gang asks for low latency: its jobs may take two slots even while others wait
            "REELSTREAM_TENANT_LIMITS": "tenant-gang=rate:100,burst:1000,gang:2;*=rate:100,burst:1000",
        },
    )
    running = Pipeline(config, tmp_path_factory.mktemp("gang-pipeline-logs"))
    try:
        running.start(stack, os.environ, timeout=120)
        yield running
    finally:
        running.stop()
