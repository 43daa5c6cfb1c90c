"""Bearer JWTs verified against a JWKS the test serves on loopback with keys it generates: the refusal
matrix (expired, not yet valid, wrong audience, wrong issuer, unknown kid after a refresh, alg=none, HS/RS
confusion, no tenant claim), key rotation, the refresh rate limit and an unreachable provider."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace

import pytest

from devstack.tenants import tenant_record
from ingest.auth import Principal
from ingest.errors import IdentityProviderUnavailable, Unauthenticated
from ingest.jwt_auth import JwksCache, JwtAuthenticator
from ingest.tenant_registry import TenantTable
from reelstream.settings import OidcSettings
from tests.integration.ingest.jwks import AUDIENCE, ISSUER, Jwks
from tests.integration.ingest.support import serve, shutdown


@dataclass
class Provider:
    jwks: Jwks
    settings: OidcSettings


@dataclass
class FakeClock:
    now: float = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture(scope="module")
async def provider() -> AsyncIterator[Provider]:
    jwks = Jwks()
    jwks.add("rsa-1", "RS256")
    jwks.add("ec-1", "ES256")
    served = await serve(jwks.app())
    settings = OidcSettings(
        issuer=ISSUER,
        audience=AUDIENCE,
        jwks_url=f"{served.base_url}/jwks.json",
        leeway_seconds=30,
        jwks_refresh_seconds=30,
    )
    try:
        yield Provider(jwks, settings)
    finally:
        await shutdown(served)


def authenticator(provider: Provider, clock: FakeClock | None = None) -> JwtAuthenticator:
    return JwtAuthenticator(provider.settings, JwksCache(provider.settings, clock or FakeClock()))


async def test_valid_rs256_and_es256_tokens_map_to_tenant_and_roles(provider: Provider) -> None:
    auth = authenticator(provider)
    jwks = provider.jwks
    assert await auth.authenticate(jwks.token("rsa-1")) == Principal("acme", frozenset({"submitter"}))
    es = jwks.token("ec-1", tenant="globex", roles=["viewer", "admin", "root"])
    assert await auth.authenticate(es) == Principal("globex", frozenset({"viewer", "admin"}))
    spaced = jwks.token("rsa-1", roles="viewer submitter")
    assert await auth.authenticate(spaced) == Principal("acme", frozenset({"viewer", "submitter"}))
    assert await auth.authenticate(jwks.token("rsa-1", roles=None)) == Principal("acme", frozenset())
    assert auth.keys.fetches == 1  # one fetch served them all


async def test_a_little_clock_skew_is_allowed(provider: Provider) -> None:
    now = int(time.time())
    auth, jwks = authenticator(provider), provider.jwks
    assert await auth.authenticate(jwks.token("rsa-1", exp=now - 10)) is not None
    assert await auth.authenticate(jwks.token("rsa-1", nbf=now + 10, iat=now + 10)) is not None


async def test_lifetime_tenant_syntax_and_the_registry_are_checked(provider: Provider) -> None:
    now, jwks = int(time.time()), provider.jwks
    tenants = TenantTable()
    tenants.apply(tenant_record("acme"))
    auth = JwtAuthenticator(provider.settings, JwksCache(provider.settings, FakeClock()), tenants=tenants)
    assert await auth.authenticate(jwks.token("rsa-1", iat=now, exp=now + 3600)) is not None  # 1 h: the max
    refusals = [
        (jwks.token("rsa-1", iat=now, exp=now + 3601), "lives longer"),
        (jwks.token("rsa-1", iat=None, exp=now + 3700), "lives longer"),  # no iat: measured from now
        (jwks.token("rsa-1", tenant="globex"), "names no tenant"),  # well formed, never created
        (jwks.token("rsa-1", tenant="../etc"), "not a tenant id"),
    ]
    for token, reason in refusals:
        with pytest.raises(Unauthenticated, match=reason):
            await auth.authenticate(token)
    shorter = replace(provider.settings, max_lifetime_seconds=60)
    short = JwtAuthenticator(shorter, JwksCache(shorter, FakeClock()), tenants=tenants)
    with pytest.raises(Unauthenticated, match="lives longer"):
        await short.authenticate(jwks.token("rsa-1", iat=now, exp=now + 300))


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("expired", "expired"),
        ("not yet valid", "not valid yet"),
        ("wrong audience", "another audience"),
        ("wrong issuer", "another issuer"),
        ("no audience", "invalid token"),
        ("no expiry", "invalid token"),
        ("no tenant claim", "no tenant claim"),
        ("empty tenant claim", "no tenant claim"),
        ("alg none", "algorithm not allowed"),
        ("HS256 with the public key", "algorithm not allowed"),
        ("RS256 header over an EC key", "does not match"),
        ("tampered payload", "invalid token"),
        ("signed by another key under a known kid", "invalid token"),
        ("no kid", "no signing key"),
        ("not a JWT", "malformed"),
    ],
)
async def test_refused_tokens(provider: Provider, name: str, reason: str) -> None:
    jwks, now = provider.jwks, int(time.time())
    if "rogue" not in jwks.keys:
        jwks.add("rogue", "RS256", publish=False)
    valid = jwks.token("rsa-1")
    header, _, signature = valid.split(".")
    tokens = {
        "expired": jwks.token("rsa-1", exp=now - 120, iat=now - 400, nbf=now - 400),
        "not yet valid": jwks.token("rsa-1", nbf=now + 120),
        "wrong audience": jwks.token("rsa-1", aud="someone-else"),
        "wrong issuer": jwks.token("rsa-1", iss="https://evil.test/"),
        "no audience": jwks.token("rsa-1", aud=None),
        "no expiry": jwks.token("rsa-1", exp=None),
        "no tenant claim": jwks.token("rsa-1", tenant=None),
        "empty tenant claim": jwks.token("rsa-1", tenant=""),
        "alg none": jwks.unsigned("rsa-1"),
        "HS256 with the public key": jwks.hs256_with_public_key("rsa-1"),
        "RS256 header over an EC key": jwks.token("rogue", header_kid="ec-1"),
        "tampered payload": f"{header}.{jwks.token('rsa-1', tenant='other').split('.')[1]}.{signature}",
        "signed by another key under a known kid": jwks.token("rogue", header_kid="rsa-1"),
        "no kid": jwks.token("rsa-1", header_kid=""),
        "not a JWT": "a.b.c",
    }
    with pytest.raises(Unauthenticated, match=reason):
        await authenticator(provider).authenticate(tokens[name])


async def test_an_unknown_kid_is_refused_after_one_refresh_and_refreshes_are_rate_limited(
    provider: Provider,
) -> None:
    clock = FakeClock()
    auth, jwks = authenticator(provider, clock), provider.jwks
    assert await auth.authenticate(jwks.token("rsa-1")) is not None
    assert auth.keys.fetches == 1
    jwks.add("unlisted", "RS256", publish=False)
    clock.now += 31
    with pytest.raises(Unauthenticated, match="unknown key"):
        await auth.authenticate(jwks.token("unlisted"))
    assert auth.keys.fetches == 2  # the JWKS was fetched again before refusing
    clock.now += 5
    for _ in range(5):  # a stream of unknown kids within the interval costs the provider nothing
        with pytest.raises(Unauthenticated, match="unknown key"):
            await auth.authenticate(jwks.token("unlisted"))
    assert auth.keys.fetches == 2


async def test_a_rotated_in_key_is_picked_up_by_the_refresh_on_its_unknown_kid(provider: Provider) -> None:
    clock = FakeClock()
    auth, jwks = authenticator(provider, clock), provider.jwks
    assert await auth.authenticate(jwks.token("rsa-1")) is not None
    jwks.add("rsa-2", "RS256")
    clock.now += 31
    fetched = jwks.requests
    assert await auth.authenticate(jwks.token("rsa-2")) == Principal("acme", frozenset({"submitter"}))
    assert jwks.requests == fetched + 1


async def test_an_unreachable_provider_is_a_503_not_a_401(provider: Provider) -> None:
    settings = replace(provider.settings, jwks_url="http://127.0.0.1:9/jwks.json", jwks_timeout_seconds=2)
    auth = JwtAuthenticator(settings)
    with pytest.raises(IdentityProviderUnavailable):
        await auth.authenticate(provider.jwks.token("rsa-1"))
