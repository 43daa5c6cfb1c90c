"""Run reelstream's own services as processes, exactly as `reelstream dev` does (and the e2e tests too).

Each service is its console entry point's module run with this interpreter; configuration travels in the
environment (REELSTREAM_*), which each service reads once in its `__main__`.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from devstack.fetch import default_cache_dir
from devstack.kafka_principals import grant_app_prefix, service_security
from devstack.keys import ensure_key_dir, issue_webhook_secret, tenants_of
from devstack.process import ManagedProcess, ServiceStartError, free_port
from devstack.registry import service_registry_auth
from devstack.storage_users import ServiceCredentials, storage_users
from devstack.tenants import ensure_tenants
from reelstream.endpoints import Endpoints
from reelstream.kafka.admin import ensure_topics
from reelstream.kafka.registry import ConfluentRegistry
from reelstream.models import DEV_MODEL
from schemas.serde import AvroSerde
from schemas.topics import ALL_TOPICS


async def prepare_infrastructure(endpoints: Endpoints) -> None:
    """Create the declared topics and register every topic's schema (both idempotent)."""
    await ensure_topics(endpoints.kafka_bootstrap, ALL_TOPICS, security=endpoints.kafka_security)
    registry = ConfluentRegistry.of(endpoints)
    try:
        await AvroSerde(registry).register(*ALL_TOPICS)
    finally:
        await registry.aclose()


@dataclass(frozen=True)
class PipelineConfig:
    """What differs between the dev command and a test run."""

    api_keys: Mapping[str, str]  # key → `tenant` or `tenant:role+role` (REELSTREAM_API_KEYS entries)
    webhook_secret: str  # every configured tenant's own secret `whsk_dev` (devstack.keys), not a global one
    http_port: int
    app_prefix: str = "reelstream"
    default_model: str = DEV_MODEL
    worker_slots: tuple[int, ...] = (0,)
    slot_models: Mapping[int, str] = field(default_factory=dict)  # slot → its model, if not default_model
    slot_env: Mapping[int, Mapping[str, str]] = field(default_factory=dict)  # slot → settings of its own
    extra_env: Mapping[str, str] = field(default_factory=dict)
    metrics_ports: Mapping[str, int] = field(default_factory=dict)  # service name → its /metrics port
    key_dir: str | None = (
        None  # the key-encryption keys; None: `keys` in the pipeline's log directory (tests)
    )
    # the most slots one job takes (streams.gang): one unless a test or the developer asks for gangs, so
    # that a job's slot is the one it was dispatched to; the gang's rendezvous ports start at a free port
    gang_max_slots: int = 1
    gang_port_base: int = field(default_factory=free_port)

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    def tenants(self) -> list[str]:
        """The tenants the configured keys act for (each must exist in the tenant registry)."""
        return [owner.partition(":")[0] for owner in self.api_keys.values()]

    def env(self, endpoints: Endpoints, key_dir: Path) -> dict[str, str]:
        return {
            **endpoints.as_env(),
            "REELSTREAM_API_KEYS": ",".join(f"{k}={t}" for k, t in self.api_keys.items()),
            "REELSTREAM_KEY_DIR": str(key_dir),
            "REELSTREAM_WEBHOOK_ALLOW_NETWORKS": "127.0.0.0/8,::1/128",  # dev/tests: receivers on loopback
            "REELSTREAM_WEBHOOK_ALLOW_HTTP": "true",  # dev/tests: receivers speak plain http
            "REELSTREAM_HTTP_HOST": "127.0.0.1",
            "REELSTREAM_HTTP_PORT": str(self.http_port),
            "REELSTREAM_APP_PREFIX": self.app_prefix,
            "REELSTREAM_DEFAULT_MODEL": self.default_model,
            "REELSTREAM_RENDERER": self.default_model,
            "HF_HUB_OFFLINE": "1",
            "PYTHONUNBUFFERED": "1",  # logs reach their files as they happen
            "REELSTREAM_SCHEDULER_INSTANCE_ID": f"{self.app_prefix}-scheduler",  # one scheduler process
            "REELSTREAM_GANG_MAX_SLOTS": str(self.gang_max_slots),
            "REELSTREAM_GANG_PORT_BASE": str(self.gang_port_base),
            **self.extra_env,
        }


def service_commands(config: PipelineConfig) -> dict[str, list[str]]:
    py = sys.executable
    commands = {
        "ingest": [py, "-m", "ingest"],
        "admission": [py, "-m", "streams.admission"],
        "scheduler": [py, "-m", "streams.scheduler"],
        "notifier": [py, "-m", "streams.notifier"],
    }
    for slot in config.worker_slots:
        commands[f"worker-{slot}"] = [py, "-m", "gpu_consumers", "--slot", str(slot)]
    return commands


@dataclass
class Pipeline:
    """The running services; `stop()` ends them (SIGTERM, then SIGKILL after a grace period)."""

    config: PipelineConfig
    log_dir: Path
    processes: list[ManagedProcess] = field(default_factory=list)
    storage: dict[str, ServiceCredentials] = field(default_factory=dict)  # service kind → its S3 user

    @property
    def key_dir(self) -> Path:
        return Path(self.config.key_dir) if self.config.key_dir else self.log_dir / "keys"

    def start(self, endpoints: Endpoints, base_env: Mapping[str, str], timeout: float = 90.0) -> None:
        """Record the tenants of the configured keys (devstack.tenants), give each its webhook secret (sealed,
        on its topic) and each service its own object storage user (devstack.storage_users), then start every
        service."""
        asyncio.run(ensure_tenants(endpoints, self.config.tenants()))
        self.storage = storage_users(endpoints, self.config.app_prefix)
        ensure_key_dir(self.key_dir)
        tenants = tenants_of(self.config.api_keys.values())
        asyncio.run(issue_webhook_secret(endpoints, self.key_dir, tenants, self.config.webhook_secret))
        grant_app_prefix(endpoints.kafka_bootstrap, endpoints.kafka_security, self.config.app_prefix)
        for name in service_commands(self.config):
            self._spawn(name, endpoints, base_env)
        ingest = self.processes[0]
        ingest.wait_ready(self._ingest_ready, timeout, "ready (GET /readyz)")
        self._check_alive()

    def _spawn(self, name: str, endpoints: Endpoints, base_env: Mapping[str, str]) -> ManagedProcess:
        env = {**base_env, **self.config.env(endpoints, self.key_dir)}
        kind = "ingest" if name == "ingest" else "worker" if name.startswith("worker-") else "streams"
        if kind in self.storage:
            env.update(self.storage[kind].env())
        principal = "worker" if name.startswith("worker-") else name  # each service its own Kafka principal
        env.update(service_security(endpoints.kafka_security, principal).as_env())
        env.update(service_registry_auth(endpoints.registry_auth, principal).as_env())
        if kind == "worker":  # compiled code kept across restarts, as a node's hostPath keeps it (the chart)
            env.setdefault("REELSTREAM_COMPILE_CACHE_DIR", str(default_cache_dir(env) / "compile"))
        if name in self.config.metrics_ports:
            env["REELSTREAM_METRICS_PORT"] = str(self.config.metrics_ports[name])
        for slot, model in self.config.slot_models.items():
            if name == f"worker-{slot}":
                env["REELSTREAM_RENDERER"] = model
        for slot, own in self.config.slot_env.items():
            if name == f"worker-{slot}":
                env.update(own)
        argv = service_commands(self.config)[name]
        proc = ManagedProcess(name, argv, self.log_dir / f"{name}.log", env, die_with_parent=True)
        proc.start()
        self.processes.append(proc)
        return proc

    def kill(self, name: str) -> None:
        """SIGKILL one service, as a crash would (for failover tests and drills)."""
        proc = next(p for p in self.processes if p.name == name)
        proc.kill()
        self.processes.remove(proc)

    def respawn(self, name: str, endpoints: Endpoints, base_env: Mapping[str, str]) -> ManagedProcess:
        return self._spawn(name, endpoints, base_env)

    def exited(self) -> list[ManagedProcess]:
        """The services that exited on their own (not one `kill` stopped), reaped."""
        return [p for p in self.processes if p.exited()]

    def forget(self, proc: ManagedProcess) -> None:
        """Stop tracking a service that exited (reaping it), so that it can be started again."""
        proc.stop()
        self.processes.remove(proc)

    def restart_exited(self, endpoints: Endpoints, base_env: Mapping[str, str]) -> list[str]:
        """Start again every service that exited on its own (not one `kill` stopped), as an orchestrator's
        restart policy would; the names restarted."""
        exited = self.exited()
        for proc in exited:
            self.forget(proc)
            self._spawn(proc.name, endpoints, base_env)
        return [p.name for p in exited]

    @contextlib.asynccontextmanager
    async def supervised(
        self, endpoints: Endpoints, base_env: Mapping[str, str], interval: float = 0.5
    ) -> AsyncIterator[list[str]]:
        """Within the block, a service that exits is started again within `interval` seconds (for drills
        in which a fault may crash a service); yields the list of names restarted, appended as they are.

        The watch runs in the caller's event loop, not in a thread of its own: Linux signals a child started
        with `die_with_parent` when the *thread* that started it ends."""
        restarted: list[str] = []

        async def watch() -> None:
            while True:
                await asyncio.sleep(interval)  # a watchdog's period, not a wait for some other work
                restarted.extend(self.restart_exited(endpoints, base_env))

        watcher = asyncio.create_task(watch(), name="pipeline-supervisor")
        try:
            yield restarted
        finally:
            watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await watcher

    def _ingest_ready(self) -> bool:
        self._check_alive()
        try:
            return httpx.get(f"{self.config.api_url}/readyz", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    def _check_alive(self) -> None:
        for proc in self.processes:
            if proc.exited():
                raise ServiceStartError(f"{proc.name} exited; see {proc.log_path}")

    def stop(self, grace: float = 30.0) -> None:
        while self.processes:
            self.processes.pop().stop(grace)
