"""Bearer authentication: who is calling, behind a small interface.

`Authenticator` turns a bearer token into a `Principal` (or None). Today the only implementation is a
static table of API keys from the settings; a key store, JWTs and roles plug in behind the same interface.
`BearerAuthMiddleware` guards every path except the public ones and hands the principal to routes.
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

from ingest.errors import Unauthenticated
from ingest.problems import problem_response

logger = logging.getLogger(__name__)

PRINCIPAL_KEY = "principal"


DEFAULT_ROLES = frozenset({"submitter"})


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

    def __init__(self, app: ASGIApp, authenticator: Authenticator, public_paths: Collection[str]) -> None:
        self.app = app
        self.authenticator = authenticator
        self.public_paths = frozenset(public_paths)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in self.public_paths:
            await self.app(scope, receive, send)
            return
        conn = HTTPConnection(scope)
        token = bearer_token(conn.headers.get("authorization"))
        principal = await self.authenticator.authenticate(token) if token is not None else None
        if principal is None:
            reason = "missing bearer token" if token is None else "unknown API key"
            logger.info("unauthenticated %s %s: %s", scope["method"], scope["path"], reason)
            response = problem_response(
                Unauthenticated(f"{reason}; send Authorization: Bearer <key>"), scope["path"]
            )
            await response(scope, receive, send)
            return
        scope.setdefault("state", {})[PRINCIPAL_KEY] = principal
        await self.app(scope, receive, send)


def principal_of(conn: HTTPConnection) -> Principal:
    """The caller of an authenticated route (set by the middleware)."""
    principal = conn.scope.get("state", {}).get(PRINCIPAL_KEY)
    if not isinstance(principal, Principal):
        raise Unauthenticated("no authenticated caller")
    return principal
