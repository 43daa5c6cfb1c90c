"""The schema registry of the local stack is authenticated: HTTPS only, a user per service, writes only for
the writer role (devstack.registry). Asserted on the real Apicurio the session stack started."""

from __future__ import annotations

import json
import uuid

import httpx
import pytest
from pydantic import SecretStr

from devstack.registry import service_registry_auth
from reelstream.endpoints import Endpoints
from reelstream.kafka.acls import REGISTRY_ROLES
from reelstream.kafka.registry import ConfluentRegistry
from reelstream.registry_auth import RegistryAuth
from schemas.errors import RegistryAccessDeniedError

SCHEMA = json.dumps({"type": "record", "name": "Probe", "fields": [{"name": "n", "type": "long"}]})
WRITERS = [p for p, role in REGISTRY_ROLES.items() if role == "writer"]
READERS = [p for p, role in REGISTRY_ROLES.items() if role == "reader"]


@pytest.fixture
def secured(stack: Endpoints) -> Endpoints:
    if not stack.registry_auth.authenticated:
        pytest.skip("the session stack's registry is open (REELSTREAM_DEV_KAFKA_AUTH=false, or external)")
    return stack


def _subjects(stack: Endpoints, auth: RegistryAuth) -> httpx.Response:
    return httpx.get(f"{stack.schema_registry_url}/subjects", timeout=10, **auth.httpx())


def test_the_registry_speaks_only_https(secured: Endpoints) -> None:
    assert secured.schema_registry_url.startswith("https://")
    plain = secured.schema_registry_url.replace("https://", "http://", 1)
    try:
        answer = httpx.get(f"{plain}/subjects", timeout=10, **secured.registry_auth.httpx())
    except httpx.HTTPError:
        return  # the TLS listener drops a plain-HTTP request: refused
    assert answer.status_code != 200


def test_no_credentials_are_refused(secured: Endpoints) -> None:
    anonymous = RegistryAuth(ca_file=secured.registry_auth.ca_file)
    assert _subjects(secured, anonymous).status_code == 401


def test_a_wrong_password_is_refused(secured: Endpoints) -> None:
    wrong = RegistryAuth("ingest", SecretStr("not-the-password"), secured.registry_auth.ca_file)
    assert _subjects(secured, wrong).status_code == 401


@pytest.mark.parametrize("principal", REGISTRY_ROLES)
def test_every_principal_reads(secured: Endpoints, principal: str) -> None:
    auth = service_registry_auth(secured.registry_auth, principal)
    assert auth.username == principal
    assert _subjects(secured, auth).status_code == 200


@pytest.mark.parametrize("principal", WRITERS)
async def test_every_service_registers_schemas(secured: Endpoints, principal: str) -> None:
    registry = ConfluentRegistry(
        secured.schema_registry_url, service_registry_auth(secured.registry_auth, principal)
    )
    try:
        schema_id = await registry.register(f"probe-{principal}-{uuid.uuid4().hex[:8]}", SCHEMA)
        assert await registry.schema_by_id(schema_id)
    finally:
        await registry.aclose()


@pytest.mark.parametrize("principal", READERS)
async def test_a_read_only_principal_may_not_register(secured: Endpoints, principal: str) -> None:
    registry = ConfluentRegistry(
        secured.schema_registry_url, service_registry_auth(secured.registry_auth, principal)
    )
    try:
        with pytest.raises(RegistryAccessDeniedError, match="403"):
            await registry.register(f"probe-{principal}-{uuid.uuid4().hex[:8]}", SCHEMA)
    finally:
        await registry.aclose()
