"""One table maps every route to a scope; roles grant scopes; API keys may name roles."""

from __future__ import annotations

import pytest
from starlette.routing import Route

from ingest.app import create_app
from ingest.auth import DEFAULT_ROLES, Principal, StaticApiKeys
from ingest.console import is_static
from ingest.errors import Forbidden, TenantNotFound
from ingest.policy import (
    ADMIN,
    PLATFORM,
    READ,
    ROUTE_POLICY,
    ROUTE_SCOPES,
    SUBMIT,
    Tenant,
    may_act_for,
    required_scope,
    rule_of,
    scopes_of,
    verdict,
)
from reelstream.endpoints import Endpoints
from reelstream.errors import ConfigurationError
from reelstream.settings import (
    IngestSettings,
    OidcSettings,
    PipelineSettings,
    parse_api_key_roles,
    parse_api_keys,
)

ENDPOINTS = Endpoints("127.0.0.1:1", "http://127.0.0.1:1", "http://127.0.0.1:1", "a", "s", "b")


def test_every_route_of_the_app_is_in_the_policy_table_and_nothing_else_is() -> None:
    app = create_app(IngestSettings(pipeline=PipelineSettings(endpoints=ENDPOINTS)))
    routed = {
        (m, r.path)
        for r in app.routes
        if isinstance(r, Route) and not is_static(r)  # the console's files are public (test_console.py)
        for m in (r.methods or ())
        if m != "HEAD"
    }
    assert routed == set(ROUTE_SCOPES)
    assert required_scope("PUT", "/v1/admin/tenants/{tenant}/limits") == (True, ADMIN)
    assert required_scope("DELETE", "/v1/admin/tenants/{tenant}/limits") == (False, None)
    for method, path in (
        ("GET", "/v1/admin/keys"),
        ("POST", "/v1/admin/keys"),
        ("DELETE", "/v1/admin/keys/{key_id}"),
    ):
        assert required_scope(method, path) == (True, ADMIN)
    assert required_scope("POST", "/v1/admin/tenants") == (True, PLATFORM)


def test_roles_grant_scopes() -> None:
    assert scopes_of(DEFAULT_ROLES) == {READ, SUBMIT}
    assert scopes_of(frozenset({"viewer"})) == {READ}
    assert ADMIN in scopes_of(frozenset({"admin"}))
    assert scopes_of(frozenset({"nobody"})) == frozenset()
    assert PLATFORM in scopes_of(frozenset({"operator"}))
    assert PLATFORM not in scopes_of(frozenset({"admin", "submitter", "viewer"}))


def test_every_tenant_path_route_binds_the_path_tenant_and_platform_routes_are_the_operators() -> None:
    for (method, template), rule in ROUTE_POLICY.items():
        if "{tenant}" in template:
            assert rule.tenant is Tenant.PATH, f"{method} {template}"
    assert rule_of("POST", "/v1/admin/tenants") == rule_of("POST", "/v1/admin/webhooks/enable")
    assert rule_of("HEAD", "/v1/jobs") == rule_of("GET", "/v1/jobs")


def test_the_verdict_refuses_by_scope_then_by_tenant() -> None:
    limits = rule_of("PUT", "/v1/admin/tenants/{tenant}/limits")
    admin, operator = Principal("acme", frozenset({"admin"})), Principal("ops", frozenset({"operator"}))
    assert verdict(limits, admin, "acme") is None
    assert isinstance(verdict(limits, admin, "globex"), TenantNotFound)  # answered like a missing tenant
    assert verdict(limits, operator, "globex") is None
    assert isinstance(verdict(limits, Principal("acme", frozenset({"viewer"})), "acme"), Forbidden)
    assert isinstance(verdict(rule_of("POST", "/v1/admin/tenants"), admin, None), Forbidden)
    assert isinstance(verdict(None, operator, None), Forbidden)  # not in the table: closed
    assert verdict(rule_of("GET", "/healthz"), None, None) is None
    assert may_act_for(operator, "anyone")
    assert not may_act_for(admin, "globex")


async def test_api_keys_may_name_roles_and_default_to_submitter() -> None:
    spec = "k1=alice,k2=ops:admin,k3=bob:viewer+submitter"
    keys, roles = parse_api_keys(spec), parse_api_key_roles(spec)
    assert keys == {"k1": "alice", "k2": "ops", "k3": "bob"}
    assert roles == {"k2": frozenset({"admin"}), "k3": frozenset({"viewer", "submitter"})}
    table = StaticApiKeys(keys, roles)
    assert await table.authenticate("k1") == Principal("alice", DEFAULT_ROLES)
    assert await table.authenticate("k2") == Principal("ops", frozenset({"admin"}))


@pytest.mark.parametrize("spec", ["k=alice:", "k=alice:root", "k=:admin", "k=alice:admin+"])
def test_unknown_or_empty_roles_are_configuration_errors(spec: str) -> None:
    with pytest.raises(ConfigurationError):
        parse_api_keys(spec)


def test_oidc_settings_come_from_the_environment_and_allow_only_asymmetric_algorithms() -> None:
    assert OidcSettings.from_env({}) is None
    env = {
        "REELSTREAM_OIDC_ISSUER": "https://idp.test/",
        "REELSTREAM_OIDC_AUDIENCE": "reelstream",
        "REELSTREAM_OIDC_JWKS_URL": "https://idp.test/jwks.json",
        "REELSTREAM_OIDC_TENANT_CLAIM": "org",
        "REELSTREAM_OIDC_ALGORITHMS": "ES256",
    }
    oidc = OidcSettings.from_env(env)
    assert oidc is not None
    assert (oidc.tenant_claim, oidc.roles_claim, oidc.algorithms) == ("org", "roles", ("ES256",))
    for algorithms in ("HS256", "none", "RS256,HS256", ","):
        with pytest.raises(ConfigurationError):
            OidcSettings.from_env({**env, "REELSTREAM_OIDC_ALGORITHMS": algorithms})
    # an empty variable is an unset one (every setting): the asymmetric defaults
    empty = OidcSettings.from_env({**env, "REELSTREAM_OIDC_ALGORITHMS": ""})
    assert empty is not None
    assert empty.algorithms == ("RS256", "ES256")
    with pytest.raises(ConfigurationError):
        OidcSettings.from_env({k: v for k, v in env.items() if k != "REELSTREAM_OIDC_JWKS_URL"})
    for url in ("http://idp.test/jwks.json", "ftp://idp.test/jwks.json", "idp.test/jwks.json"):
        with pytest.raises(ConfigurationError):  # a JWKS fetched in clear text could be swapped in transit
            OidcSettings.from_env({**env, "REELSTREAM_OIDC_JWKS_URL": url})
    assert OidcSettings.from_env({**env, "REELSTREAM_OIDC_JWKS_URL": "http://127.0.0.1:8080/jwks"})
