"""Bring the local stack up and down: fetch, start, wait until really ready, record, stop what we started."""

from __future__ import annotations

import contextlib
import json
import logging
import math
import os
import time
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from confluent_kafka import KafkaException
from minio import Minio
from minio.commonconfig import ENABLED, Filter
from minio.lifecycleconfig import Expiration, LifecycleConfig, Rule

from devstack.fetch import default_cache_dir
from devstack.kafka import KAFKA_VERSION, KafkaService, fetch_kafka
from devstack.kafka_principals import admin_client, create_principals, principal_credentials
from devstack.minio import MinioService, fetch_minio
from devstack.prereqs import find_java, jvm_dirs_from, require_tool
from devstack.process import ManagedProcess, free_port, pid_alive, port_is_open
from devstack.registry import APICURIO_VERSION, RegistryService, fetch_registry
from devstack.steps import QUIET, Steps
from reelstream.config import load_config
from reelstream.endpoints import Endpoints as Endpoints  # its old home: callers still import it here
from reelstream.errors import ReelstreamError
from reelstream.kafka.security import PLAINTEXT, KafkaSecurity
from reelstream.registry_auth import OPEN_REGISTRY, RegistryAuth
from reelstream.settings import kafka_security_from_config, registry_auth_from_config

logger = logging.getLogger(__name__)

STATE_FILE = "stack.json"
SERVICES = ("kafka", "schema-registry", "minio")  # in start order


class StackError(ReelstreamError):
    """The stack cannot be brought up as asked (a port taken, a half-running earlier stack, …)."""

    code = "stack"


@dataclass(frozen=True)
class ExternalServices:
    """Services that already run elsewhere and must not be started here (all optional)."""

    kafka_bootstrap: str | None = None
    schema_registry_url: str | None = None
    s3_endpoint: str | None = None
    s3_access_key: str | None = None
    s3_secret_key: str | None = None
    kafka_security: KafkaSecurity = PLAINTEXT  # the credentials the external broker takes
    registry_auth: RegistryAuth = OPEN_REGISTRY  # those the external schema registry takes

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> ExternalServices:
        config = load_config(env)
        credentials = ("kafka_security", "registry_auth")
        given = {k: config.given(k) for k in cls.__dataclass_fields__ if k not in credentials}
        return cls(
            **given,
            kafka_security=kafka_security_from_config(config),
            registry_auth=registry_auth_from_config(config),
        )


@dataclass(frozen=True)
class StackLayout:
    data_dir: Path
    cache_dir: Path
    kafka_port: int = 9092
    kafka_controller_port: int = 9093
    registry_port: int = 8081
    registry_management_port: int = 8082
    minio_port: int = 9000
    minio_console_port: int = 9001
    s3_access_key: str = "reelstream"
    s3_secret_key: str = "reelstream-dev-secret"  # noqa: S105 - local development stack only
    s3_bucket: str = "reelstream-artifacts"
    start_timeout: float = 120.0
    kafka_auth: bool = True  # SASL SCRAM-SHA-512 over TLS, one principal per service, ACLs; and the
    # schema registry on HTTPS with a user per service (devstack.registry)

    @classmethod
    def dev(cls, env: Mapping[str, str]) -> StackLayout:
        """Fixed well-known ports; data kept between restarts under the user's data folder."""
        data_home = Path(env["XDG_DATA_HOME"]) if env.get("XDG_DATA_HOME") else Path.home() / ".local/share"
        return cls(
            data_dir=data_home / "reelstream" / "dev",
            cache_dir=default_cache_dir(env),
            kafka_auth=load_config(env).values.dev_kafka_auth,
        )

    @classmethod
    def ephemeral(cls, data_dir: Path, env: Mapping[str, str]) -> StackLayout:
        """Free ports and a throw-away data folder, for tests."""
        return cls(
            data_dir=data_dir,
            cache_dir=default_cache_dir(env),
            kafka_port=free_port(),
            kafka_controller_port=free_port(),
            registry_port=free_port(),
            registry_management_port=free_port(),
            minio_port=free_port(),
            minio_console_port=free_port(),
            kafka_auth=load_config(env).values.dev_kafka_auth,
        )

    @property
    def log_dir(self) -> Path:
        return self.data_dir / "logs"


def kafka_is_ready(bootstrap: str, security: KafkaSecurity) -> bool:
    """The broker answers a metadata request and lists itself."""
    admin = admin_client(bootstrap, security)
    try:
        return len(admin.list_topics(timeout=2).brokers) > 0
    except KafkaException:
        return False


def ensure_bucket(endpoints: Endpoints, expire_after_days: int | None = None) -> None:
    """Create the artifact bucket if missing. New MinIO buckets are private (no anonymous policy).
    `expire_after_days`: the bucket's lifecycle rule, replaced on every call: objects are expired by the store
    itself that long after they were written, the second line behind ingest's retention sweep."""
    secure = endpoints.s3_endpoint.startswith("https://")
    host = endpoints.s3_endpoint.split("://", 1)[-1]
    client = Minio(
        host, access_key=endpoints.s3_access_key, secret_key=endpoints.s3_secret_key, secure=secure
    )
    if not client.bucket_exists(endpoints.s3_bucket):
        client.make_bucket(endpoints.s3_bucket)
    if expire_after_days is not None:
        rule = Rule(
            ENABLED,
            rule_filter=Filter(prefix=""),
            rule_id=LIFECYCLE_RULE,
            expiration=Expiration(days=expire_after_days),
        )
        client.set_bucket_lifecycle(endpoints.s3_bucket, LifecycleConfig([rule]))


LIFECYCLE_RULE = "reelstream-artifact-expiry"


def lifecycle_days(video_retention_seconds: float) -> int:
    """The object store's own expiry: a day past the video retention (whole days, as S3 counts them), so it
    only catches what the sweep missed."""
    return math.ceil(video_retention_seconds / 86400) + 1


@dataclass
class LocalStack:
    """Starts the services that are not external; `stop()` stops only those this object started."""

    layout: StackLayout
    env: Mapping[str, str]
    external: ExternalServices = field(default_factory=ExternalServices)
    detached: bool = False  # True: the services outlive this process (`reelstream stack up`)
    started: list[ManagedProcess] = field(default_factory=list)
    reused: bool = False
    steps: Steps = QUIET  # who hears of each fetch and start as it happens (the CLI: the console)

    def _kafka(self) -> KafkaService:
        lay = self.layout
        return KafkaService(
            lay.data_dir / "kafka", lay.log_dir, lay.kafka_port, lay.kafka_controller_port, lay.kafka_auth
        )

    def _registry(self) -> RegistryService:
        lay = self.layout
        tls = self._kafka().tls if lay.kafka_auth else None  # the stack's one CA, beside the broker's
        return RegistryService(
            lay.data_dir / "registry", lay.log_dir, lay.registry_port, lay.registry_management_port, tls
        )

    def _minio(self) -> MinioService:
        lay = self.layout
        return MinioService(
            lay.data_dir / "minio",
            lay.log_dir,
            lay.minio_port,
            lay.minio_console_port,
            lay.s3_access_key,
            lay.s3_secret_key,
        )

    def check_prerequisites(self) -> None:
        """Fail before any download or start if a tool a local service needs is missing."""
        env, ext = self.env, self.external
        dirs = jvm_dirs_from(env)
        if ext.kafka_bootstrap is None:
            find_java(17, "Apache Kafka", env, dirs)
        if ext.schema_registry_url is None:
            find_java(21, "Apicurio Registry 3.x", env, dirs)
        needs_mvn = any(
            not (self.layout.cache_dir / name / ".complete").exists()
            for name, external in (
                (f"kafka-{KAFKA_VERSION}", ext.kafka_bootstrap),
                (f"apicurio-registry-{APICURIO_VERSION}", ext.schema_registry_url),
            )
            if external is None
        )
        if needs_mvn:
            require_tool("mvn", "fetching Apache Kafka and Apicurio Registry", env)

    def fetch(self) -> None:
        """Fetch (or find cached) every binary the non-external services need; no process is started."""
        self.check_prerequisites()
        self._fetched()

    def _fetched(self) -> dict[str, Path]:
        """Each non-external service's binaries, fetched or found cached. MinIO's `go install` (compiling,
        minutes on a first run) runs beside the Maven fetches (downloading), which run one after the other
        (they share the local Maven repository)."""
        cache, ext = self.layout.cache_dir, self.external
        paths: dict[str, Path] = {}
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="fetch-minio") as pool:
            minio = pool.submit(fetch_minio, cache, self.env, self.steps) if ext.s3_endpoint is None else None
            if ext.kafka_bootstrap is None:
                paths["kafka"] = fetch_kafka(cache, self.env, self.steps)
            if ext.schema_registry_url is None:
                paths["schema-registry"] = fetch_registry(cache, self.env, self.steps)
            if minio is not None:
                paths["minio"] = minio.result()
        return paths

    def endpoints(self) -> Endpoints:
        ext, lay = self.external, self.layout
        return Endpoints(
            kafka_bootstrap=ext.kafka_bootstrap or self._kafka().bootstrap,
            schema_registry_url=ext.schema_registry_url or self._registry().url,
            s3_endpoint=ext.s3_endpoint or self._minio().endpoint,
            s3_access_key=ext.s3_access_key or lay.s3_access_key,
            s3_secret_key=ext.s3_secret_key or lay.s3_secret_key,
            s3_bucket=lay.s3_bucket,
            kafka_security=ext.kafka_security if ext.kafka_bootstrap else self._kafka().admin_security(),
            registry_auth=ext.registry_auth if ext.schema_registry_url else self._registry().admin_auth(),
        )

    def service_credentials(self) -> dict[str, KafkaSecurity]:
        """Each service principal's credentials on this stack's secured broker ({} when it is not secured or
        the broker is external: then every service uses the endpoints' credentials)."""
        kafka = self._kafka()
        if self.external.kafka_bootstrap or not kafka.secured:
            return {}
        return principal_credentials(kafka.tls, kafka.admin_security())

    def up(self) -> Endpoints:
        """Reuse a running stack recorded in the data folder, or start one; return its endpoints."""
        recorded = read_state(self.layout.data_dir)
        if recorded is not None:
            return self._reuse(recorded)
        self.check_prerequisites()
        paths = self._fetched()
        endpoints = self.endpoints()
        try:
            self._start_all(paths)
            retention = load_config(self.env).values.video_retention_seconds
            ensure_bucket(endpoints, lifecycle_days(retention))
        except BaseException:
            self.stop()
            raise
        write_state(self.layout.data_dir, endpoints, self.started)
        return endpoints

    def _reuse(self, recorded: dict[str, Any]) -> Endpoints:
        alive = {name: pid for name, pid in recorded["pids"].items() if pid_alive(pid)}
        if len(alive) == len(recorded["pids"]):
            self.reused = True
            logger.info("reusing the stack recorded in %s", self.layout.data_dir)
            return Endpoints.from_record(recorded["endpoints"])
        if alive:
            raise StackError(
                f"the stack recorded in {self.layout.data_dir / STATE_FILE} is only partly running "
                f"({', '.join(f'{n} pid {p}' for n, p in alive.items())} alive); "
                "run `reelstream stack down` first"
            )
        (self.layout.data_dir / STATE_FILE).unlink()
        return self.up()

    def _start_all(self, paths: Mapping[str, Path]) -> None:
        """Start every fetched service, then wait for each (MinIO first: it is ready soonest)."""
        started = {name: self._start_one(name, paths[name]) for name in SERVICES if name in paths}
        for name in ("minio", "kafka", "schema-registry"):
            if name in started:
                self._wait_ready(name, started[name])

    def _service(self, name: str) -> KafkaService | RegistryService | MinioService:
        if name == "kafka":
            return self._kafka()
        if name == "schema-registry":
            return self._registry()
        if name == "minio":
            return self._minio()
        raise StackError(f"no stack service named {name!r} (one of {', '.join(SERVICES)})")

    def _start_one(self, name: str, path: Path) -> ManagedProcess:
        service = self._service(name)
        if isinstance(service, KafkaService):
            self._check_ports_free(name, service.port, service.controller_port)
        elif isinstance(service, RegistryService):
            self._check_ports_free(name, service.port, service.management_port)
        else:
            self._check_ports_free(name, service.port, service.console_port)
        return self._spawn(service.process(path, self.env))

    def _wait_ready(self, name: str, proc: ManagedProcess) -> None:
        with self.steps.step(f"waiting for {name} to be ready", f"log {proc.log_path}"):
            self._await_ready(name, proc)

    def _await_ready(self, name: str, proc: ManagedProcess) -> None:
        service, timeout = self._service(name), self.layout.start_timeout
        if isinstance(service, KafkaService):
            kafka = service
            security = kafka.admin_security()
            proc.wait_ready(
                lambda: port_is_open(kafka.port) and kafka_is_ready(kafka.bootstrap, security),
                timeout,
                "serving metadata",
            )
            if kafka.secured:
                create_principals(kafka.bootstrap, security, self.service_credentials())
        elif isinstance(service, RegistryService):
            proc.wait_ready(service.is_ready, timeout, "answering /subjects")
        else:
            proc.wait_ready(service.is_ready, timeout, "ready")

    def stop_service(self, name: str, *, kill: bool = False) -> None:
        """Stop one service this object started (SIGTERM, or SIGKILL as a crash would), keeping its ports
        and data folder for `start_service`: for fault drills (a broker restart, an object store outage)."""
        proc = next((p for p in self.started if p.name == name), None)
        if proc is None:
            raise StackError(f"{name} is not running as part of this stack")
        if kill:
            proc.kill()
        else:
            proc.stop()
        self.started.remove(proc)

    def start_service(self, name: str) -> None:
        """Start again a service stopped with `stop_service`, on the same ports and data folder, so that
        clients reconnect to where it was; returns once it is ready."""
        self._service(name)  # a known name
        if any(p.name == name for p in self.started):
            raise StackError(f"{name} is already running")
        paths = self._fetched()
        if name not in paths:
            raise StackError(f"{name} is external to this stack; it cannot be started here")
        proc = self._start_one(name, paths[name])
        self._wait_ready(name, proc)
        write_state(self.layout.data_dir, self.endpoints(), self.started)

    def _spawn(self, proc: ManagedProcess) -> ManagedProcess:
        proc.die_with_parent = not self.detached
        proc.start()
        self.started.append(proc)
        logger.info("started %s (pid %s), log %s", proc.name, proc.pid, proc.log_path)
        return proc

    def _check_ports_free(self, service: str, *ports: int) -> None:
        for port in ports:
            if port_is_open(port):
                raise StackError(
                    f"port {port} that {service} needs is already in use by another process; free it, or "
                    f"point reelstream at that service (REELSTREAM_KAFKA_BOOTSTRAP, "
                    f"REELSTREAM_SCHEMA_REGISTRY_URL, REELSTREAM_S3_ENDPOINT)"
                )

    def stop(self) -> None:
        """Stop, in reverse order, only the processes this object started."""
        while self.started:
            proc = self.started.pop()
            proc.stop()
        if not self.reused:
            with contextlib.suppress(FileNotFoundError):
                (self.layout.data_dir / STATE_FILE).unlink()

    def __enter__(self) -> Endpoints:
        return self.up()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def read_state(data_dir: Path) -> dict[str, Any] | None:
    try:
        state: dict[str, Any] = json.loads((data_dir / STATE_FILE).read_text())
    except FileNotFoundError:
        return None
    return state


def write_state(data_dir: Path, endpoints: Endpoints, procs: list[ManagedProcess]) -> None:
    state = {
        "endpoints": endpoints.to_record(),
        "pids": {p.name: p.pid for p in procs},
        "started_at": time.time(),
    }
    tmp = data_dir / f".{STATE_FILE}.tmp"
    tmp.write_text(json.dumps(state, indent=2))
    os.replace(tmp, data_dir / STATE_FILE)


def stop_recorded(data_dir: Path, grace: float = 20.0) -> list[str]:
    """Stop the stack that an earlier `up()` recorded in `data_dir` (for `reelstream stack down`)."""
    state = read_state(data_dir)
    if state is None:
        return []
    stopped = []
    for name, pid in reversed(list(state["pids"].items())):
        if pid_alive(pid):
            ManagedProcess(name, [], Path(os.devnull), {}, pid=pid).stop(grace)
            stopped.append(name)
    (data_dir / STATE_FILE).unlink()
    return stopped
