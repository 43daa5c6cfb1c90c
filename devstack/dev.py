"""`reelstream dev`: the whole system on this machine, in the foreground, until Ctrl-C.

Every service serves /metrics on a port of its own, and a Prometheus (Debian's `prometheus`, or
REELSTREAM_PROMETHEUS_BIN) scrapes them all with the project's alert rules loaded, on
REELSTREAM_PROMETHEUS_PORT (9090); without the binary, dev runs on and says so.
"""

from __future__ import annotations

import asyncio
import base64
import logging
import secrets
import signal
import threading
from collections.abc import Iterator, Mapping
from contextlib import ExitStack, contextmanager
from dataclasses import replace
from pathlib import Path

from devstack.manager import ExternalServices, LocalStack, StackLayout
from devstack.prereqs import MissingPrerequisite
from devstack.process import ServiceStartError, free_port
from devstack.prometheus import PrometheusService, find_prometheus
from devstack.services import Pipeline, PipelineConfig, prepare_infrastructure, service_commands
from reelstream.config import load_config
from reelstream.models import DEFAULT_MODEL, DEV_MODEL

logger = logging.getLogger(__name__)

ALERT_RULES = Path(__file__).resolve().parents[1] / "dashboards" / "alerts.yml"
SCRAPE_INTERVAL_SECONDS = 5.0


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


def with_metrics_ports(config: PipelineConfig) -> PipelineConfig:
    """`config` with a free /metrics port for each of its services."""
    return replace(config, metrics_ports={name: free_port() for name in service_commands(config)})


@contextmanager
def prometheus(
    layout: StackLayout, targets: Mapping[str, int], env: Mapping[str, str]
) -> Iterator[str | None]:
    """Prometheus scraping `targets` (service → /metrics port) with the alert rules loaded, until the block
    ends; its URL, or None (and a log line that says why) when it is not installed or does not start."""
    try:
        binary = find_prometheus(env)
    except MissingPrerequisite as exc:
        logger.warning("Prometheus not started, metrics are not scraped: %s", exc.message)
        yield None
        return
    rules = (ALERT_RULES,) if ALERT_RULES.exists() else ()
    if not rules:
        logger.warning("alert rules not loaded: %s is missing", ALERT_RULES)
    port = load_config(env).values.prometheus_port
    service = PrometheusService(
        layout.data_dir / "prometheus", layout.log_dir, port, targets, SCRAPE_INTERVAL_SECONDS, rules
    )
    process = service.process(binary, env)
    process.start()
    try:
        try:
            process.wait_ready(service.is_ready, 60, "ready (GET /-/ready)")
        except ServiceStartError as exc:
            logger.warning("Prometheus not started, metrics are not scraped: %s", exc.message)
            yield None
        else:
            yield service.url
    finally:
        process.stop(10)


def run_dev(env: Mapping[str, str]) -> int:
    layout = StackLayout.dev(env)
    stack = LocalStack(layout, env, ExternalServices.from_env(env))
    api_key = _persistent_secret(layout.data_dir / "dev-api-key", "rs_dev_" + secrets.token_urlsafe(24))
    webhook_secret = _persistent_secret(
        layout.data_dir / "webhook-secret", "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode()
    )
    settings = load_config(env).values
    model = DEFAULT_MODEL if settings.model_dir else DEV_MODEL
    config = with_metrics_ports(
        PipelineConfig(
            api_keys={api_key: "dev:submitter+admin"},  # admin too: `reelstream keys create` works locally
            webhook_secret=webhook_secret,
            http_port=settings.http_port,
            default_model=model,
        )
    )
    with stack as endpoints, ExitStack() as running:
        asyncio.run(prepare_infrastructure(endpoints))
        pipeline = Pipeline(config, layout.log_dir)
        running.callback(pipeline.stop)  # unwound last: Prometheus stops first
        pipeline.start(endpoints, env)
        prometheus_url = running.enter_context(prometheus(layout, config.metrics_ports, env))
        ports = ", ".join(f"{name} {port}" for name, port in config.metrics_ports.items())
        print("reelstream is running" + (" (on a stack that was already up)" if stack.reused else ""))
        print(f"  API               {config.api_url}   (OpenAPI: {config.api_url}/openapi.json)")
        print(f"  console           {config.api_url}/console/   (API reference: {config.api_url}/docs)")
        print(f"  API key           {api_key}   (tenant 'dev', roles submitter+admin)")
        print(f"  renderer          {model} on 1 slot")
        print(f"  Kafka bootstrap   {endpoints.kafka_bootstrap}")
        print(f"  schema registry   {endpoints.schema_registry_url}")
        print(f"  S3 (MinIO)        {endpoints.s3_endpoint}  bucket {endpoints.s3_bucket}")
        print(f"  /metrics ports    {ports}")
        if prometheus_url is not None:
            print(f"  Prometheus        {prometheus_url}   (alerts: {prometheus_url}/alerts)")
        else:
            print("  Prometheus        not running (see the warning above)")
        print(f"  logs              {layout.log_dir}")
        print(f"Try:  REELSTREAM_API_URL={config.api_url} REELSTREAM_API_KEY={api_key} \\")
        print('         .venv/bin/reelstream submit "a red fox in snow" --wait')
        print("Ctrl-C stops what this command started.")
        wait_for_stop_signal()
        print("stopping…")
    return 0
