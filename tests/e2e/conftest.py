"""The whole system, started as `reelstream dev` starts it, on the session's real stack."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from reelstream_client import Client

from devstack.oidc import OidcProviderService, OidcUser, running_provider
from devstack.process import free_port
from devstack.services import Pipeline, PipelineConfig, prepare_infrastructure
from reelstream.endpoints import Endpoints
from reelstream.webhooks.messages import generate_secret
from tests.otlp_receiver import TraceReceiver, trace_receiver

TENANT_A_KEY = "rs_test_" + uuid.uuid4().hex
TENANT_B_KEY = "rs_test_" + uuid.uuid4().hex
SERIAL_KEY = "rs_test_" + uuid.uuid4().hex
CONSOLE_ADMIN_KEY = "rs_test_" + uuid.uuid4().hex  # the console's API keys page (tests/e2e/test_console.py)
OPERATOR_KEY = "rs_test_" + uuid.uuid4().hex  # the platform operator (every tenant's usage: test_usage.py)
OIDC_TENANT, OIDC_TENANT_KEY = "tenant-oidc", "rs_test_" + uuid.uuid4().hex  # the OIDC users' tenant
OIDC_USERS = {  # the test provider's users (devstack.oidc): their access tokens carry these claims
    "ada": OidcUser(OIDC_TENANT, ("admin",), "Ada"),
    "otto": OidcUser("tenant-ops", ("operator",), "Otto Operator"),
}
USAGE_KEY, USAGE_OTHER_KEY = "rs_test_" + uuid.uuid4().hex, "rs_test_" + uuid.uuid4().hex  # test_usage.py
USAGE_TENANT, USAGE_CLASS = "tenant-usage", "metered"  # the only tenant of its class: its metric is its own
FLOOD_TENANT, CAPPED_TENANT, SERIAL_TENANT = "tenant-flood", "tenant-capped", "tenant-serial"
ONE_AT_A_TIME_TENANT = "tenant-one-at-a-time"
FLOOD_RATE, FLOOD_BURST = 0.5, 3.0
TENANT_LIMITS = (  # generous for everyone but the tenants the rate-limit tests drive
    f"{FLOOD_TENANT}=rate:{FLOOD_RATE},burst:{FLOOD_BURST:g};{CAPPED_TENANT}=rate:100,burst:100,queued:2;"
    f"{SERIAL_TENANT}=rate:100,burst:100,running:1;{ONE_AT_A_TIME_TENANT}=rate:100,burst:100,queued:1;"
    "*=rate:100,burst:1000,queued:10000"
)
METRICS_SCRAPED = ("ingest", "admission", "scheduler", "notifier", "worker-0", "worker-1")
# a second model family, loaded by name as a deployment would load its own (tests/fake_model.py), served by
# slot 2 alone. The pool is configured for mochi-1 too (no slot of it is up: its jobs wait queued), but not
# for fake-clip-hd, which is refused at submit.
EXTRA_MODELS, FAKE_MODEL, FAKE_SLOT, UNSERVED_MODEL = "tests.fake_model", "fake-clip", 2, "fake-clip-hd"
# a model whose renderer hangs on request (tests/hanging_model.py), on slot 3 with short render deadlines
HANGING_MODEL, HANGING_SLOT = "fake-hang", 3
POOL_MODELS = ("fake-clip", "fake-hang", "mochi-1", "tiny-mochi")


@pytest.fixture(scope="package")
def otlp_traces() -> Iterator[TraceReceiver]:
    """Where every service of the session's pipeline exports its spans (OTLP/HTTP, standard OTEL_* vars)."""
    with trace_receiver() as receiver:
        yield receiver


@pytest.fixture(scope="package")
def http_port() -> int:
    """The pipeline's ingest port, known before it starts: the OIDC provider's client redirects there."""
    return free_port()


@pytest.fixture(scope="package")
def oidc_provider(http_port: int, tmp_path_factory: pytest.TempPathFactory) -> Iterator[OidcProviderService]:
    """The development OIDC provider (panva's oidc-provider on Node), whose tokens the pipeline's ingest
    accepts and whose sign-in its console offers."""
    folder = tmp_path_factory.mktemp("oidc")
    service = OidcProviderService(folder, folder, free_port(), (f"http://127.0.0.1:{http_port}",), OIDC_USERS)
    with running_provider(service, os.environ) as running:
        yield running


@pytest.fixture(scope="package")
def running_pipeline(
    stack: Endpoints,
    tmp_path_factory: pytest.TempPathFactory,
    otlp_traces: TraceReceiver,
    http_port: int,
    oidc_provider: OidcProviderService,
) -> Iterator[Pipeline]:
    """One pipeline for the e2e package, stopped when it is done: several pipelines on one broker would each
    act on the others' records (a lingering one admits, renders and notifies the integration tests' jobs).
    Two tiny-mochi worker slots and one of the fake second model, leases short enough for failover tests to
    finish quickly, and tracing on."""
    asyncio.run(prepare_infrastructure(stack))
    config = PipelineConfig(
        api_keys={
            TENANT_A_KEY: "tenant-a",
            TENANT_B_KEY: "tenant-b",
            SERIAL_KEY: SERIAL_TENANT,
            CONSOLE_ADMIN_KEY: "tenant-console:admin",
            USAGE_KEY: USAGE_TENANT,
            USAGE_OTHER_KEY: "tenant-usage-other",
            OPERATOR_KEY: "tenant-ops:operator",
            OIDC_TENANT_KEY: OIDC_TENANT,  # records the tenant the OIDC user's token names
        },
        webhook_secret=generate_secret(),
        http_port=http_port,
        app_prefix=f"e2e-{uuid.uuid4().hex[:8]}",
        worker_slots=(0, 1, FAKE_SLOT, HANGING_SLOT),
        slot_models={FAKE_SLOT: FAKE_MODEL, HANGING_SLOT: HANGING_MODEL},
        slot_env={
            HANGING_SLOT: {  # deadline ≈ 1.2 s for its default clip, 1 s more to stop
                "REELSTREAM_RENDER_DEADLINE_MULTIPLE": "1",
                "REELSTREAM_RENDER_DEADLINE_MARGIN_SECONDS": "1",
                "REELSTREAM_RENDER_STOP_GRACE_SECONDS": "1",
            }
        },
        metrics_ports={name: free_port() for name in METRICS_SCRAPED},
        extra_env={
            "PYTHONPATH": str(Path(__file__).parents[2]),
            "REELSTREAM_LEASE_SECONDS": "6",
            "REELSTREAM_HEARTBEAT_SECONDS": "1",
            "REELSTREAM_TENANT_CLASSES": f"tenant-a=premium,tenant-b=standard,{USAGE_TENANT}={USAGE_CLASS}",
            "REELSTREAM_LAG_INTERVAL_SECONDS": "1",
            # the integration tests' snapshots finished on a fixed past day: this ingest must not sweep them
            "REELSTREAM_JOB_RETENTION_SECONDS": str(100 * 365 * 86400),
            "REELSTREAM_VIDEO_RETENTION_SECONDS": str(100 * 365 * 86400),
            "REELSTREAM_TENANT_LIMITS": TENANT_LIMITS,
            "REELSTREAM_EXTRA_MODELS": f"{EXTRA_MODELS},tests.hanging_model",
            "REELSTREAM_POOL_MODELS": ",".join(POOL_MODELS),
            "OTEL_EXPORTER_OTLP_ENDPOINT": otlp_traces.url,
            "OTEL_BSP_SCHEDULE_DELAY": "200",  # ms: spans reach the receiver soon after they end
            **oidc_provider.ingest_env(),
        },
    )
    running = Pipeline(config, tmp_path_factory.mktemp("pipeline-logs"))
    try:
        running.start(stack, os.environ, timeout=120)
        yield running
    finally:
        running.stop()


@pytest.fixture(scope="package")
def pipeline(running_pipeline: Pipeline) -> PipelineConfig:
    return running_pipeline.config


@pytest.fixture
def client_a(pipeline: PipelineConfig) -> Iterator[Client]:
    with Client(pipeline.api_url, TENANT_A_KEY) as client:
        yield client
