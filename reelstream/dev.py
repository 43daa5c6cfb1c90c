"""`reelstream dev`: the whole system on this machine, in the foreground, until Ctrl-C."""

from __future__ import annotations

import asyncio
import base64
import secrets
import signal
import threading
from collections.abc import Mapping
from pathlib import Path

from reelstream.services import Pipeline, PipelineConfig, prepare_infrastructure
from reelstream.stack.manager import ExternalServices, LocalStack, StackLayout


def _persistent_secret(path: Path, make: str) -> str:
    """A dev credential generated once and kept with the dev stack's data (so clients keep working)."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(make)
        path.chmod(0o600)
    return path.read_text().strip()


def wait_for_stop_signal() -> None:
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    stop.wait()


def run_dev(env: Mapping[str, str]) -> int:
    layout = StackLayout.dev(env)
    stack = LocalStack(layout, env, ExternalServices.from_env(env))
    api_key = _persistent_secret(layout.data_dir / "dev-api-key", "rs_dev_" + secrets.token_urlsafe(24))
    webhook_secret = _persistent_secret(
        layout.data_dir / "webhook-secret", "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode()
    )
    model = "mochi-1" if env.get("REELSTREAM_MODEL_DIR") else "tiny-mochi"
    config = PipelineConfig(
        api_keys={api_key: "dev"},
        webhook_secret=webhook_secret,
        http_port=int(env.get("REELSTREAM_HTTP_PORT", "8000")),
        default_model=model,
    )
    with stack as endpoints:
        asyncio.run(prepare_infrastructure(endpoints))
        pipeline = Pipeline(config, layout.log_dir)
        try:
            pipeline.start(endpoints, env)
            print("reelstream is running" + (" (on a stack that was already up)" if stack.reused else ""))
            print(f"  API               {config.api_url}   (OpenAPI: {config.api_url}/openapi.json)")
            print(f"  API key           {api_key}   (tenant 'dev')")
            print(f"  renderer          {model} on 1 slot")
            print(f"  Kafka bootstrap   {endpoints.kafka_bootstrap}")
            print(f"  schema registry   {endpoints.schema_registry_url}")
            print(f"  S3 (MinIO)        {endpoints.s3_endpoint}  bucket {endpoints.s3_bucket}")
            print(f"  logs              {layout.log_dir}")
            print(f"Try:  REELSTREAM_API_URL={config.api_url} REELSTREAM_API_KEY={api_key} \\")
            print('         .venv/bin/reelstream submit "a red fox in snow" --wait')
            print("Ctrl-C stops what this command started.")
            wait_for_stop_signal()
            print("stopping…")
        finally:
            pipeline.stop()
    return 0
