"""Bearer authentication: who is calling, behind a small interface.

`Authenticator` turns a bearer token into a `Principal`, or None when the token is not one it knows; it
raises `Unauthenticated` when the token is its kind but refused (revoked, expired, bad signature), so the
401 says why. Three implementations: the key store (`rs_live_…`, `KeyStoreKeys`), OIDC bearer JWTs
(`ingest.jwt_auth`) and the configured keys (`StaticApiKeys`, the bootstrap/admin keys); `FirstOf` asks
each in turn. `BearerAuthMiddleware` guards every path except the public ones and hands the principal on.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Protocol

from starlette.requests import HTTPConnection
from starlette.types import ASGIApp, Receive, Scope, Send

from ingest.api_keys import KeyTable, Verdict, check, parse
from ingest.errors import IdentityProviderUnavailable, TenantSuspended, Unauthenticated
from ingest.problems import problem_response
from ingest.tenant_registry import DELETED, SUSPENDED, TenantTable
from schemas.events import utc_now

logger = logging.getLogger(__name__)

PRINCIPAL_KEY = "principal"


DEFAULT_ROLES = frozenset({"submitter"})
OPERATOR_ROLE = "operator"  # the platform operator (ingest.policy)


@dataclass(frozen=True)
class Principal:
    """The authenticated caller. Everything it may see is scoped by `tenant_id`; what it may do by its
    roles (`ingest.policy` maps them to the scopes routes need)."""

    tenant_id: str
    roles: frozenset[str] = DEFAULT_ROLES


class Authenticator(Protocol):
    async def authenticate(self, token: str) -> Principal | None: ...


def _digest(secret: str) -> bytes:
    return hashlib.sha256(secret.encode()).digest()


class StaticApiKeys:
    """API keys from configuration ({key: tenant}, {key: roles} where not submitter). Keys are kept only as
    SHA-256 digests and compared in constant time against every entry, so timing reveals neither a key's
    prefix nor its position."""

    def __init__(self, keys: Mapping[str, str], roles: Mapping[str, frozenset[str]] | None = None) -> None:
        roles = roles or {}
        self._entries = [
            (_digest(key), Principal(tenant, roles.get(key, DEFAULT_ROLES))) for key, tenant in keys.items()
        ]

    async def authenticate(self, token: str) -> Principal | None:
        digest = _digest(token)
        found: Principal | None = None
        for candidate, principal in self._entries:
            if hmac.compare_digest(candidate, digest):
                found = principal
        return found


class KeyStoreKeys:
    """Keys of the key store, found by their key_id in the table the store's view keeps (no scan)."""

    def __init__(self, table: KeyTable) -> None:
        self._table = table

    async def authenticate(self, token: str) -> Principal | None:
        parsed = parse(token)
        if parsed is None:
            return None
        key_id, secret = parsed
        record = self._table.get(key_id)
        verdict = check(record, secret, utc_now())
        if verdict is Verdict.UNKNOWN:
            return None
        if verdict is not Verdict.VALID or record is None:
            raise Unauthenticated(verdict.value)
        self._table.touch(key_id, utc_now())  # its last use (GET /v1/admin/keys): memory, per minute
        return Principal(record.tenant_id, frozenset(record.roles))


class FirstOf:
    """The first principal any authenticator finds; a refusal (Unauthenticated) ends the search."""

    def __init__(self, *authenticators: Authenticator) -> None:
        self._authenticators = authenticators

    async def authenticate(self, token: str) -> Principal | None:
        for authenticator in self._authenticators:
            principal = await authenticator.authenticate(token)
            if principal is not None:
                return principal
        return None


def bearer_token(authorization: str | None) -> str | None:
    """The token of an `Authorization: Bearer <token>` header (scheme case-insensitive)."""
    if not authorization:
        return None
    scheme, _, token = authorization.strip().partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        return None
    return token


class BearerAuthMiddleware:
    """Answers 401 problem+json unless the request carries a valid bearer token; public paths pass."""

    def __init__(
        self,
        app: ASGIApp,
        authenticator: Authenticator,
        public_paths: Collection[str],
        public_prefixes: tuple[str, ...] = (),
        tenants: TenantTable | None = None,
    ) -> None:
        self.app = app
        self.authenticator = authenticator
        self.tenants = tenants  # the registry whose statuses gate every credential (None: no gate)
        self.public_paths = frozenset(public_paths)
        self.public_prefixes = public_prefixes  # static files: the console and the API reference

    def _public(self, path: str) -> bool:
        return path in self.public_paths or path.startswith(self.public_prefixes)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or self._public(scope["path"]):
            await self.app(scope, receive, send)
            return
        conn = HTTPConnection(scope)
        token = bearer_token(conn.headers.get("authorization"))
        reason = "missing bearer token" if token is None else "unknown API key"
        try:
            principal = await self.authenticator.authenticate(token) if token is not None else None
            if principal is not None:
                self._check_tenant(principal)
        except Unauthenticated as refused:
            principal, reason = None, refused.message
        except (IdentityProviderUnavailable, TenantSuspended) as refused:
            await problem_response(refused, scope["path"])(scope, receive, send)
            return
        if principal is None:
            logger.info("unauthenticated %s %s: %s", scope["method"], scope["path"], reason)
            response = problem_response(
                Unauthenticated(f"{reason}; send Authorization: Bearer <key or token>"), scope["path"]
            )
            await response(scope, receive, send)
            return
        scope.setdefault("state", {})[PRINCIPAL_KEY] = principal
        await self.app(scope, receive, send)

    def _check_tenant(self, principal: Principal) -> None:
        """A suspended tenant's credentials are refused (403 tenant-suspended), a deleted tenant's are not
        credentials (401); an operator's pass, so that an operator can always resume its own tenant."""
        record = self.tenants.get(principal.tenant_id) if self.tenants is not None else None
        if record is None or OPERATOR_ROLE in principal.roles:
            return
        if record.status == SUSPENDED:
            raise TenantSuspended(f"tenant {principal.tenant_id} is suspended; ask the platform operator")
        if record.status == DELETED:
            raise Unauthenticated(f"tenant {principal.tenant_id} was deleted")


def principal_of(conn: HTTPConnection) -> Principal:
    """The caller of an authenticated route (set by the middleware)."""
    principal = conn.scope.get("state", {}).get(PRINCIPAL_KEY)
    if not isinstance(principal, Principal):
        raise Unauthenticated("no authenticated caller")
    return principal
