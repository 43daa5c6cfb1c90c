"""Apicurio Registry 3.x (its `-all` Quarkus distribution from Maven Central), serving the Confluent API.

Clients use `<url>` = `http(s)://127.0.0.1:<port>/apis/ccompat/v7`. Storage is H2 in a file under the stack's
data folder, so schema ids survive a restart of the dev stack (records in Kafka refer to them).

Secured (`tls` given, the stack's default): HTTPS only, with a certificate from the stack's own CA
(devstack.kafka_tls), and HTTP basic users, one per service principal (reelstream.kafka.acls) plus the stack's
`admin`, whose passwords are kept beside the CA. The users, salted into SHA-512 digests, and the rules lie in
`config/application.properties` of the registry's working folder, where Quarkus reads them at start: every
/apis call needs a user; writes (POST, PUT, DELETE) need the writer role, which every service has (each
registers its topics' schemas at start); the readers (internal-team) only read. The roles come from
reelstream.kafka.acls (REGISTRY_ROLES), as the chart's registry users do (files/registry_users.json).
Apicurio cannot require client certificates without being rebuilt (reelstream.registry_auth says why).
"""

from __future__ import annotations

import hashlib
import os
import tarfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import httpx

from devstack.fetch import fetch_once, run_client
from devstack.kafka_tls import BrokerTls
from devstack.prereqs import find_java, jvm_dirs_from, require_tool
from devstack.process import ManagedProcess
from devstack.steps import QUIET, StepProgress, Steps
from reelstream.kafka.acls import REGISTRY_ROLES, RegistryRole
from reelstream.registry_auth import OPEN_REGISTRY, RegistryAuth

APICURIO_VERSION = "3.3.3"
CCOMPAT_PATH = "/apis/ccompat/v7"
ADMIN_USER = "admin"  # the stack's own user: it registers every schema before the services start
REALM = "Quarkus"  # the embedded users' realm, part of each password digest


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
    tls: BrokerTls | None = None  # None: an open registry on plain HTTP

    name = "schema-registry"

    @property
    def url(self) -> str:
        scheme = "https" if self.tls else "http"
        return f"{scheme}://127.0.0.1:{self.port}{CCOMPAT_PATH}"

    def admin_auth(self) -> RegistryAuth:
        """The stack's own credentials (OPEN_REGISTRY when the registry is open)."""
        if self.tls is None:
            return OPEN_REGISTRY
        stack_ca = RegistryAuth(ca_file=str(self.tls.ca_file))
        return stack_ca.as_user(ADMIN_USER, _password(self.tls, ADMIN_USER))

    def is_ready(self) -> bool:
        try:
            answer = httpx.get(f"{self.url}/subjects", timeout=2, **self.admin_auth().httpx())
            return answer.status_code == 200
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
        if self.tls is not None:
            self.write_security_config(self.tls)
            cert, key = self.tls.server_cert("registry")
            props |= {
                "quarkus.http.ssl-port": str(self.port),
                "quarkus.http.insecure-requests": "disabled",
                "quarkus.http.ssl.certificate.files": str(cert),
                "quarkus.http.ssl.certificate.key-files": str(key),
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

    def write_security_config(self, tls: BrokerTls) -> None:
        """`config/application.properties` in the working folder (owner-only): the users and the rules."""
        folder = self.data_dir / "config"
        folder.mkdir(parents=True, exist_ok=True)
        users: dict[str, tuple[str, RegistryRole]] = {ADMIN_USER: (_password(tls, ADMIN_USER), "writer")}
        users |= {name: (_password(tls, name), role) for name, role in REGISTRY_ROLES.items()}
        text = security_properties(users)
        fd = os.open(folder / "application.properties", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as out:
            out.write(text)


def security_properties(users: Mapping[str, tuple[str, RegistryRole]]) -> str:
    """Quarkus properties: HTTP basic with embedded users (`users`: name → its password, stored as a digest,
    and its role),
    every /apis call authenticated, writes for the writer role only. (`quarkus.http.auth.basic` is a
    build-time property unset in Apicurio's build: Quarkus warns that it is given at run time, and honours
    it.)"""
    lines = [
        "quarkus.http.auth.basic=true",
        "quarkus.security.users.embedded.enabled=true",
        "quarkus.security.users.embedded.plain-text=false",
        "quarkus.security.users.embedded.algorithm=digest-sha-512",
        "quarkus.http.auth.permission.registry-write.paths=/apis/*",
        "quarkus.http.auth.permission.registry-write.methods=POST,PUT,PATCH,DELETE",
        "quarkus.http.auth.permission.registry-write.policy=registry-writers",
        "quarkus.http.auth.policy.registry-writers.roles-allowed=writer",
        "quarkus.http.auth.permission.registry-read.paths=/apis/*",
        "quarkus.http.auth.permission.registry-read.methods=GET,HEAD,OPTIONS",
        "quarkus.http.auth.permission.registry-read.policy=registry-readers",
        "quarkus.http.auth.policy.registry-readers.roles-allowed=writer,reader",
    ]
    for name, (password, role) in users.items():
        digest = hashlib.sha512(f"{name}:{REALM}:{password}".encode()).hexdigest()
        lines += [
            f"quarkus.security.users.embedded.users.{name}={digest}",
            f"quarkus.security.users.embedded.roles.{name}={role}",
        ]
    return "\n".join(lines) + "\n"


def _password(tls: BrokerTls, user: str) -> str:
    return tls.secret(f"registry-{user}")


def service_registry_auth(endpoints_auth: RegistryAuth, principal: str) -> RegistryAuth:
    """The registry credentials a service started on the local stack runs with: its own user's when the
    stack's secured registry made one (its password lies beside the CA file), else the endpoints' own."""
    if not endpoints_auth.authenticated or endpoints_auth.ca_file is None:
        return endpoints_auth
    tls = BrokerTls(Path(endpoints_auth.ca_file).parent)
    if principal not in REGISTRY_ROLES or not tls.has_secret(f"registry-{principal}"):
        return endpoints_auth
    return endpoints_auth.as_user(principal, _password(tls, principal))
