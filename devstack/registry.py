"""Apicurio Registry 3.x (its `-all` Quarkus distribution from Maven Central), serving the Confluent API.

Clients use `<url>` = `http://127.0.0.1:<port>/apis/ccompat/v7`. Storage is H2 in a file under the stack's
data folder, so schema ids survive a restart of the dev stack (records in Kafka refer to them).
"""

from __future__ import annotations

import tarfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import httpx

from devstack.fetch import fetch_once, run_client
from devstack.prereqs import find_java, jvm_dirs_from, require_tool
from devstack.process import ManagedProcess
from devstack.steps import QUIET, StepProgress, Steps

APICURIO_VERSION = "3.3.3"
CCOMPAT_PATH = "/apis/ccompat/v7"


def fetch_registry(cache_dir: Path, env: Mapping[str, str], steps: Steps = QUIET) -> Path:
    """The unpacked Quarkus application folder (holding quarkus-run.jar)."""
    mvn = require_tool("mvn", "fetching Apicurio Registry", env)

    def build(staging: Path, progress: StepProgress) -> None:
        run_client(
            [
                str(mvn),
                "-B",  # not quiet: each "Downloaded from …" line feeds the progress
                "dependency:copy",
                f"-Dartifact=io.apicurio:apicurio-registry-app:{APICURIO_VERSION}:tar.gz:all",
                f"-DoutputDirectory={staging}",
            ],
            f"Apicurio Registry {APICURIO_VERSION}",
            env,
            cwd=staging,
            on_line=progress.maven_line,
        )
        archive = staging / f"apicurio-registry-app-{APICURIO_VERSION}-all.tar.gz"
        with tarfile.open(archive) as tar:
            tar.extractall(staging / "app", filter="data")
        archive.unlink()

    what, hint = f"Apicurio Registry {APICURIO_VERSION} (Maven)", "~160 MB download, once"
    target = cache_dir / f"apicurio-registry-{APICURIO_VERSION}"
    return fetch_once(target, build, what, steps, hint) / "app"


@dataclass(frozen=True)
class RegistryService:
    data_dir: Path
    log_dir: Path
    port: int
    management_port: int

    name = "schema-registry"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}{CCOMPAT_PATH}"

    def is_ready(self) -> bool:
        try:
            return httpx.get(f"{self.url}/subjects", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    def process(self, app: Path, env: Mapping[str, str]) -> ManagedProcess:
        java = find_java(21, "Apicurio Registry 3.x", env, jvm_dirs_from(env))
        self.data_dir.mkdir(parents=True, exist_ok=True)
        props = {
            "quarkus.http.host": "127.0.0.1",
            "quarkus.http.port": str(self.port),
            # the Quarkus management interface (health, metrics) is built in; by default it takes 0.0.0.0:9000
            "quarkus.management.host": "127.0.0.1",
            "quarkus.management.port": str(self.management_port),
            "apicurio.storage.kind": "sql",
            "apicurio.storage.sql.kind": "h2",
            "apicurio.datasource.url": f"jdbc:h2:file:{self.data_dir / 'registry'}",
            "apicurio.datasource.jdbc.initial-size": "2",
            "apicurio.datasource.jdbc.min-size": "2",
            "apicurio.datasource.jdbc.max-size": "16",
            'quarkus.log.category."io.quarkus.vertx.http.runtime.filters.accesslog".level': "WARN",
        }
        argv = [
            str(java),
            "-Xms128m",
            "-Xmx512m",
            *(f"-D{k}={v}" for k, v in props.items()),
            "-jar",
            str(app / "quarkus-run.jar"),
        ]
        return ManagedProcess(self.name, argv, self.log_dir / "schema-registry.log", env, cwd=self.data_dir)
