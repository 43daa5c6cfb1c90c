"""One table maps every route to a scope; roles grant scopes; API keys may name roles."""

from __future__ import annotations

import pytest
from starlette.routing import Route

from ingest.app import create_app
from ingest.auth import DEFAULT_ROLES, Principal, StaticApiKeys
from ingest.policy import ADMIN, READ, ROUTE_SCOPES, SUBMIT, required_scope, scopes_of
from reelstream.errors import ConfigurationError
from reelstream.settings import IngestSettings, PipelineSettings, parse_api_key_roles, parse_api_keys
from reelstream.stack.manager import Endpoints

ENDPOINTS = Endpoints("127.0.0.1:1", "http://127.0.0.1:1", "http://127.0.0.1:1", "a", "s", "b")


def test_every_route_of_the_app_is_in_the_policy_table_and_nothing_else_is() -> None:
    app = create_app(IngestSettings(pipeline=PipelineSettings(endpoints=ENDPOINTS)))
    routed = {
        (m, r.path) for r in app.routes if isinstance(r, Route) for m in (r.methods or ()) if m != "HEAD"
    }
    assert routed == set(ROUTE_SCOPES)
    assert required_scope("PUT", "/v1/admin/tenants/{tenant}/limits") == (True, ADMIN)
    assert required_scope("DELETE", "/v1/admin/tenants/{tenant}/limits") == (False, None)


def test_roles_grant_scopes() -> None:
    assert scopes_of(DEFAULT_ROLES) == {READ, SUBMIT}
    assert scopes_of(frozenset({"viewer"})) == {READ}
    assert ADMIN in scopes_of(frozenset({"admin"}))
    assert scopes_of(frozenset({"nobody"})) == frozenset()


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
