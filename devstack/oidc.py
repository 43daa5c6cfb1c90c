"""The development OpenID Connect provider: panva's `oidc-provider` (devstack/oidc_provider/, Node 20) with
one public client for the console and a few users whose JWT access tokens carry the tenant and roles claims
ingest reads. `reelstream dev` starts it when asked (REELSTREAM_DEV_OIDC), the browser tests always do.

Its `node_modules` is installed from the committed package-lock.json (`npm ci`, offline from npm's cache
when the cache has it) the first time it is needed.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from devstack.prereqs import MissingPrerequisite
from devstack.process import ManagedProcess

PACKAGE = Path(__file__).parent / "oidc_provider"
CONSOLE_CLIENT_ID = "reelstream-console"
AUDIENCE = "reelstream-api"
RESOURCE = "urn:reelstream:api"
CONSOLE_SCOPE = "openid profile api"  # `api`: the resource scope that makes the access token a JWT for ingest


@dataclass(frozen=True)
class OidcUser:
    tenant: str
    roles: tuple[str, ...]
    name: str = ""


DEV_USERS: Mapping[str, OidcUser] = {
    "dev": OidcUser("dev", ("admin",), "Dev Admin"),
    "operator": OidcUser("dev", ("operator",), "Platform Operator"),
}


def install_package(npm: str | None = None) -> None:
    """`npm ci` in the provider's folder unless its node_modules is installed already."""
    if (PACKAGE / "node_modules" / "oidc-provider" / "package.json").is_file():
        return
    npm = npm or shutil.which("npm")
    if npm is None:
        raise MissingPrerequisite("npm", "the development OIDC provider (Node 20)")
    subprocess.run(
        [npm, "ci", "--no-audit", "--no-fund", "--prefer-offline", "--loglevel=error"],
        cwd=PACKAGE,
        check=True,
    )


@dataclass(frozen=True)
class OidcProviderService:
    """The provider on loopback `port`; the console of `console_urls` (ingest's base URLs) may sign in."""

    data_dir: Path
    log_dir: Path
    port: int
    console_urls: tuple[str, ...]
    users: Mapping[str, OidcUser] = field(default_factory=lambda: dict(DEV_USERS))
    access_token_ttl_seconds: int = 600
    tenant_claim: str = "tenant"
    roles_claim: str = "roles"

    name = "oidc"

    @property
    def issuer(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def jwks_url(self) -> str:
        return f"{self.issuer}/jwks"

    def ingest_env(self) -> dict[str, str]:
        """The REELSTREAM_OIDC_* settings of an ingest that accepts this provider's tokens and whose console
        signs in with it."""
        return {
            "REELSTREAM_OIDC_ISSUER": self.issuer,
            "REELSTREAM_OIDC_AUDIENCE": AUDIENCE,
            "REELSTREAM_OIDC_JWKS_URL": self.jwks_url,
            "REELSTREAM_OIDC_TENANT_CLAIM": self.tenant_claim,
            "REELSTREAM_OIDC_ROLES_CLAIM": self.roles_claim,
            "REELSTREAM_OIDC_CONSOLE_CLIENT_ID": CONSOLE_CLIENT_ID,
            "REELSTREAM_OIDC_CONSOLE_SCOPE": CONSOLE_SCOPE,
        }

    def config(self) -> dict[str, object]:
        """provider.mjs's configuration (see its header)."""
        redirects = [f"{url.rstrip('/')}/console/" for url in self.console_urls]
        return {
            "port": self.port,
            "issuer": self.issuer,
            "audience": AUDIENCE,
            "resource": RESOURCE,
            "access_token_ttl": self.access_token_ttl_seconds,
            "tenant_claim": self.tenant_claim,
            "roles_claim": self.roles_claim,
            "clients": [
                {
                    "client_id": CONSOLE_CLIENT_ID,
                    "redirect_uris": redirects,
                    "post_logout_redirect_uris": redirects,
                }
            ],
            "users": {
                login: {"tenant": u.tenant, "roles": list(u.roles), "name": u.name or login}
                for login, u in self.users.items()
            },
        }

    def is_ready(self) -> bool:
        try:
            response = httpx.get(f"{self.issuer}/.well-known/openid-configuration", timeout=2)
        except httpx.HTTPError:
            return False
        return response.status_code == 200 and response.json().get("issuer") == self.issuer

    def process(self, env: Mapping[str, str], node: str | None = None) -> ManagedProcess:
        node = node or shutil.which("node", path=env.get("PATH"))
        if node is None:
            raise MissingPrerequisite("node", "the development OIDC provider (Node 20)")
        install_package()
        self.data_dir.mkdir(parents=True, exist_ok=True)
        config = self.data_dir / "oidc-provider.json"
        config.write_text(json.dumps(self.config(), indent=2))
        argv = [node, str(PACKAGE / "provider.mjs"), str(config)]
        return ManagedProcess(
            self.name,
            argv,
            self.log_dir / "oidc.log",
            {**env, "NODE_ENV": "development"},
            cwd=PACKAGE,
            die_with_parent=True,
        )


@contextmanager
def running_provider(service: OidcProviderService, env: Mapping[str, str]) -> Iterator[OidcProviderService]:
    """The provider, serving its discovery document, until the block ends."""
    process = service.process(env)
    process.start()
    try:
        process.wait_ready(service.is_ready, 60, "serving its discovery document")
        yield service
    finally:
        process.stop(10)
