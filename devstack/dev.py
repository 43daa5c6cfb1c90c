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
import time
from collections.abc import Iterator, Mapping
from contextlib import ExitStack, contextmanager
from dataclasses import replace
from pathlib import Path

from devstack.manager import ExternalServices, LocalStack, StackLayout
from devstack.oidc import OidcProviderService, running_provider
from devstack.prereqs import MissingPrerequisite
from devstack.process import ServiceStartError, free_port
from devstack.prometheus import PrometheusService, find_prometheus
from devstack.services import Pipeline, PipelineConfig, prepare_infrastructure, service_commands
from devstack.steps import ConsoleSteps
from devstack.supervisor import Supervisor
from reelstream.config import load_config
from reelstream.endpoints import Endpoints
from reelstream.models import DEFAULT_MODEL, DEV_MODEL

logger = logging.getLogger(__name__)

RULE_FILES = tuple(  # the alert and recording rules (the burn-rate ones generated: devstack/slo_rules.py)
    Path(__file__).resolve().parents[1] / "dashboards" / name for name in ("alerts.yml", "slo_rules.yml")
)
SCRAPE_INTERVAL_SECONDS = 5.0
SUPERVISE_INTERVAL_SECONDS = 0.5
DEV_TENANT = "dev"
DEV_TENANT_LIMITS = f"{DEV_TENANT}=rate:10,burst:20,queued:20"  # one developer: 10 jobs/s, 20 waiting
RECEIVER_PORT = 8787  # devstack.receiver's default


def _persistent_secret(path: Path, make: str) -> str:
    """A dev credential generated once and kept with the dev stack's data (so clients keep working)."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(make)
        path.chmod(0o600)
    return path.read_text().strip()


def stop_requested() -> threading.Event:
    """An event set by SIGINT or SIGTERM."""
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    return stop


def supervise_until_stopped(supervisor: Supervisor, stop: threading.Event) -> None:
    """Restart what crashes (with backoff, said on the console) until Ctrl-C or SIGTERM."""
    supervisor.watch_from(time.monotonic())
    while not stop.wait(SUPERVISE_INTERVAL_SECONDS):  # a watchdog's period
        supervisor.check(time.monotonic())


def say(line: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {line}", flush=True)


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
    rules = tuple(path for path in RULE_FILES if path.exists())
    for missing in sorted(set(RULE_FILES) - set(rules)):
        logger.warning("alert rules not loaded: %s is missing", missing)
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


ROLES = "submitter+admin+operator"  # the dev key's


def dev_config(env: Mapping[str, str], api_key: str, webhook_secret: str, key_dir: Path) -> PipelineConfig:
    """The dev pipeline: one slot of the dev model (mochi-1 with REELSTREAM_MODEL_DIR), the tenant `dev`
    (recorded in the tenant registry at start) as submitter, admin and platform operator, and generous
    limits for it unless REELSTREAM_TENANT_LIMITS says otherwise."""
    config = load_config(env)
    settings = config.values
    extra = {} if config.given("tenant_limits") else {"REELSTREAM_TENANT_LIMITS": DEV_TENANT_LIMITS}
    return with_metrics_ports(
        PipelineConfig(
            # operator too: `reelstream tenants create` and `reelstream keys create --tenant …` work
            api_keys={api_key: f"{DEV_TENANT}:{ROLES}"},
            webhook_secret=webhook_secret,
            key_dir=str(key_dir),
            http_port=settings.http_port,
            default_model=DEFAULT_MODEL if settings.model_dir else DEV_MODEL,
            extra_env=extra,
        )
    )


def dev_provider(layout: StackLayout, config: PipelineConfig, env: Mapping[str, str]) -> OidcProviderService:
    """The development OIDC provider (REELSTREAM_DEV_OIDC): the console of this pipeline signs in there."""
    port = load_config(env).values.dev_oidc_port
    return OidcProviderService(layout.data_dir / "oidc", layout.log_dir, port, (config.api_url,))


def summary(
    config: PipelineConfig, endpoints: Endpoints, layout: StackLayout, prometheus_url: str | None
) -> list[tuple[str, str]]:
    """What `reelstream dev` prints once everything serves: (label, value) rows."""
    api_key = next(iter(config.api_keys))
    limits = config.extra_env.get("REELSTREAM_TENANT_LIMITS", "as REELSTREAM_TENANT_LIMITS says")
    rows = [
        ("API", f"{config.api_url}   (OpenAPI: {config.api_url}/openapi.json)"),
        ("console", f"{config.api_url}/console/   (API reference: {config.api_url}/docs)"),
        ("API key", f"{api_key}   (tenant '{DEV_TENANT}', roles {ROLES}; limits {limits})"),
        (
            "webhook secret",
            f"{config.webhook_secret}   (tenant '{DEV_TENANT}''s webhook secret; kept in {layout.data_dir})",
        ),
        ("renderer", f"{config.default_model} on 1 slot"),
        ("Kafka bootstrap", endpoints.kafka_bootstrap),
        ("schema registry", endpoints.schema_registry_url + _registry_users(endpoints)),
        ("S3 (MinIO)", f"{endpoints.s3_endpoint}  bucket {endpoints.s3_bucket}"),
        ("/metrics ports", ", ".join(f"{name} {port}" for name, port in config.metrics_ports.items())),
        (
            "Prometheus",
            f"{prometheus_url}   (alerts: {prometheus_url}/alerts)"
            if prometheus_url
            else "not running (see the warning above)",
        ),
        ("logs", str(layout.log_dir)),
    ]
    issuer = config.extra_env.get("REELSTREAM_OIDC_ISSUER")
    if issuer:
        rows.insert(2, ("OIDC sign-in", f"{issuer}   (users 'dev' and 'operator', any password)"))
    return rows


def _registry_users(endpoints: Endpoints) -> str:
    """How to reach the registry as a user: each principal's password beside the stack's CA."""
    ca = endpoints.registry_auth.ca_file
    if not endpoints.registry_auth.authenticated or ca is None:
        return ""
    folder = ca.rsplit("/", 1)[0]
    return f"   (HTTP basic: user <principal>, password {folder}/registry-<principal>.password, CA {ca})"


def print_summary(rows: list[tuple[str, str]], config: PipelineConfig, reused: bool) -> None:
    api_key = next(iter(config.api_keys))
    print("reelstream is running" + (" (on a stack that was already up)" if reused else ""))
    for label, value in rows:
        print(f"  {label:<17} {value}")
    print(f"Try:  export REELSTREAM_API_URL={config.api_url} REELSTREAM_API_KEY={api_key}")
    print('      .venv/bin/reelstream submit "a red fox in snow" --wait --output fox.mp4')
    receiver = f"http://127.0.0.1:{RECEIVER_PORT}/"
    print(f"Webhooks:  .venv/bin/python -m devstack.receiver --port {RECEIVER_PORT}   (in another terminal;")
    print(f"      submit with --webhook-url {receiver} and it prints each signed event)")
    print("A service that exits is restarted, and said so here. Ctrl-C stops what this command started.")


def run_dev(env: Mapping[str, str]) -> int:
    steps = ConsoleSteps()
    layout = StackLayout.dev(env)
    stack = LocalStack(layout, env, ExternalServices.from_env(env), steps=steps)
    api_key = _persistent_secret(layout.data_dir / "dev-api-key", "rs_dev_" + secrets.token_urlsafe(24))
    webhook_secret = _persistent_secret(
        layout.data_dir / "webhook-secret", "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode()
    )
    config = dev_config(env, api_key, webhook_secret, layout.data_dir / "keys")
    with stack as endpoints, ExitStack() as running:
        with steps.step("topics and schemas"):
            asyncio.run(prepare_infrastructure(endpoints))
        if load_config(env).values.dev_oidc:
            with steps.step("starting the OIDC provider", "npm ci the first time"):
                provider = running.enter_context(running_provider(dev_provider(layout, config, env), env))
            config = replace(config, extra_env={**config.extra_env, **provider.ingest_env()})
        pipeline = Pipeline(config, layout.log_dir)
        running.callback(pipeline.stop)  # unwound last: Prometheus stops first
        names = ", ".join(service_commands(config))
        with steps.step(f"starting {names}", "until the API answers /readyz"):
            pipeline.start(endpoints, env)
        with steps.step("starting Prometheus"):
            prometheus_url = running.enter_context(prometheus(layout, config.metrics_ports, env))
        stop = stop_requested()  # from here on; before, Ctrl-C interrupts the start-up at once
        print_summary(summary(config, endpoints, layout, prometheus_url), config, stack.reused)
        print(steps.timeline(), flush=True)  # where the start-up's time went, one step after the other
        supervise_until_stopped(Supervisor(pipeline, endpoints, env, say), stop)
        print("stopping…")
    return 0
