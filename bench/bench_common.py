"""What the pipeline benchmarks share: the job they submit, their pipeline settings and a throw-away stack."""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from reelstream.services import PipelineConfig, prepare_infrastructure  # noqa: E402
from reelstream.stack.manager import Endpoints, ExternalServices, LocalStack, StackLayout  # noqa: E402
from reelstream.stack.process import free_port  # noqa: E402
from streams.webhooks import generate_secret  # noqa: E402

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
def throwaway_stack() -> Iterator[tuple[Endpoints, Path]]:
    """Kafka, the registry and MinIO on free ports with topics and bucket ready; their log folder."""
    with tempfile.TemporaryDirectory() as tmp:
        layout = StackLayout.ephemeral(Path(tmp), os.environ)
        with LocalStack(layout, os.environ, ExternalServices.from_env(os.environ)) as endpoints:
            asyncio.run(prepare_infrastructure(endpoints))
            yield endpoints, layout.log_dir
