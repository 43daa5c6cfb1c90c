"""Bearer JWTs from an OIDC provider, verified against the provider's JWKS.

`JwksCache` fetches the key set on first use, again once it is older than its maximum age, and again when a
token names a `kid` it does not hold (a key rotation), at most once per refresh interval so a stream of
forged `kid`s cannot turn ingest into a load generator against the provider. `JwtAuthenticator` accepts only
the configured asymmetric algorithms (the header's `alg` is checked against the allow-list before any key
is chosen, so `none` and HS256-signed-with-the-public-key never reach a verifier), then checks signature,
issuer, audience, exp/nbf/iat with a small leeway (`exp` required; a token may live at most the configured
maximum lifetime, measured from `iat`, or from now when it has none), and reads the tenant and the roles from
the configured claims. The tenant must be a tenant id (syntax) of the registry (`ingest.tenant_registry`).
Tokens are never logged.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import Any

import httpx
import jwt

from ingest.auth import Principal
from ingest.errors import IdentityProviderUnavailable, Unauthenticated
from ingest.tenant_registry import TenantTable, valid_tenant_id
from reelstream.settings import ROLES, OidcSettings

logger = logging.getLogger(__name__)


class JwksCache:
    """The provider's signing keys by `kid`. Construct freely (no I/O); keys are fetched when asked for."""

    def __init__(self, settings: OidcSettings, clock: Callable[[], float] = time.monotonic) -> None:
        self._settings = settings
        self._clock = clock
        self._keys: dict[str, jwt.PyJWK] = {}
        self._fetched_at: float | None = None
        self._lock = asyncio.Lock()
        self.fetches = 0

    async def key(self, kid: str) -> jwt.PyJWK | None:
        now = self._clock()
        stale = self._fetched_at is None or now - self._fetched_at >= self._settings.jwks_max_age_seconds
        may_refresh = (
            self._fetched_at is None or now - self._fetched_at >= self._settings.jwks_refresh_seconds
        )
        if stale or (kid not in self._keys and may_refresh):
            async with self._lock:  # one fetch for a crowd of requests that all found the cache stale
                if self._fetched_at is None or self._fetched_at <= now:
                    await self._refresh()
        if not self._keys:
            raise IdentityProviderUnavailable("no signing keys from the identity provider")
        return self._keys.get(kid)

    async def _refresh(self) -> None:
        self.fetches += 1
        try:
            async with httpx.AsyncClient(timeout=self._settings.jwks_timeout_seconds) as http:
                response = await http.get(self._settings.jwks_url, follow_redirects=False)
                response.raise_for_status()
                document = response.json()
            self.load(document)
        except (httpx.HTTPError, ValueError, jwt.PyJWKSetError, jwt.PyJWKError) as exc:
            self._fetched_at = self._clock()  # a failing provider is asked again after the interval only
            logger.warning("JWKS fetch failed: %s", type(exc).__name__)
            return  # the keys fetched before (if any) stay in use
        logger.info("JWKS fetched: %d signing keys", len(self._keys))

    def load(self, document: Any) -> None:
        """Take the signing keys of a JWKS document (as fetched) as the current set."""
        keys = jwt.PyJWKSet.from_dict(document).keys
        self._keys = {k.key_id: k for k in keys if k.key_id and k.public_key_use in (None, "sig")}
        self._fetched_at = self._clock()


class JwtAuthenticator:
    """`Authorization: Bearer <jwt>` → Principal(tenant claim, roles claim ∩ known roles)."""

    def __init__(
        self,
        settings: OidcSettings,
        keys: JwksCache | None = None,
        *,
        tenants: TenantTable | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        """`tenants`: the registry a tenant claim must name (None: the syntax is checked only)."""
        self._settings = settings
        self.keys = keys or JwksCache(settings)
        self._tenants = tenants
        self._clock = clock

    async def authenticate(self, token: str) -> Principal | None:
        if token.count(".") != 2:
            return None  # not a JWS compact serialization: someone else's kind of token
        header = _header(token)
        alg = header.get("alg")
        if alg not in self._settings.algorithms:
            raise Unauthenticated("token algorithm not allowed")
        kid = header.get("kid")
        if not isinstance(kid, str) or not kid:
            raise Unauthenticated("token names no signing key (kid)")
        jwk = await self.keys.key(kid)
        if jwk is None:
            raise Unauthenticated("token signed by an unknown key")
        if jwk.algorithm_name != alg:  # an RS256 header over an EC key (or the other way round)
            raise Unauthenticated("token algorithm does not match its key")
        claims = self._verified_claims(token, jwk, alg)
        self._check_lifetime(claims)
        tenant = claims.get(self._settings.tenant_claim)
        if not isinstance(tenant, str) or not tenant:
            raise Unauthenticated(f"token has no {self._settings.tenant_claim} claim")
        if not valid_tenant_id(tenant):
            raise Unauthenticated(f"token's {self._settings.tenant_claim} claim is not a tenant id")
        if self._tenants is not None and self._tenants.live(tenant) is None:
            raise Unauthenticated(f"token's {self._settings.tenant_claim} claim names no tenant")
        return Principal(tenant, _roles(claims.get(self._settings.roles_claim)))

    def _check_lifetime(self, claims: dict[str, Any]) -> None:
        """At most `max_lifetime_seconds` from `iat` to `exp` (from now, within the leeway, without `iat`)."""
        exp, iat = claims["exp"], claims.get("iat")
        start = iat if isinstance(iat, int | float) else self._clock()
        slack = 0.0 if isinstance(iat, int | float) else self._settings.leeway_seconds
        if float(exp) - float(start) > self._settings.max_lifetime_seconds + slack:
            raise Unauthenticated(f"token lives longer than {self._settings.max_lifetime_seconds:g} s")

    def _verified_claims(self, token: str, jwk: jwt.PyJWK, alg: str) -> dict[str, Any]:
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                key=jwk,
                algorithms=[alg],
                audience=self._settings.audience,
                issuer=self._settings.issuer,
                leeway=self._settings.leeway_seconds,
                options={"require": ["exp", "iss", "aud"]},
            )
        except jwt.ExpiredSignatureError:
            raise Unauthenticated("token expired") from None
        except jwt.ImmatureSignatureError:
            raise Unauthenticated("token not valid yet") from None
        except jwt.InvalidAudienceError:
            raise Unauthenticated("token is for another audience") from None
        except jwt.InvalidIssuerError:
            raise Unauthenticated("token from another issuer") from None
        except jwt.InvalidTokenError:
            raise Unauthenticated("invalid token") from None
        return claims


def _header(token: str) -> dict[str, Any]:
    try:
        header: dict[str, Any] = jwt.get_unverified_header(token)
    except jwt.InvalidTokenError:
        raise Unauthenticated("malformed token") from None
    return header


def _roles(claim: object) -> frozenset[str]:
    """Known roles named by the claim (a list, or a space-separated string as OAuth scopes are); an absent
    or unrecognized claim grants none: such a caller is authenticated but may call nothing (403)."""
    names = claim.split() if isinstance(claim, str) else claim if isinstance(claim, list) else []
    return frozenset(n for n in names if isinstance(n, str)) & ROLES
