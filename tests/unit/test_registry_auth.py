"""The registry credentials, spelled for each client, and the local registry's generated users and rules."""

from __future__ import annotations

import hashlib
import ssl
from pathlib import Path

import pytest
from pydantic import SecretStr

from devstack.kafka_tls import BrokerTls
from devstack.registry import REALM, RegistryService, security_properties, service_registry_auth
from reelstream.config import load_config
from reelstream.endpoints import Endpoints
from reelstream.registry_auth import OPEN_REGISTRY, RegistryAuth, RegistryAuthError
from reelstream.settings import endpoints_from_config

AUTH = RegistryAuth("ingest", SecretStr("s3cret"), "/ca.pem")


def test_an_open_registry_adds_nothing() -> None:
    assert OPEN_REGISTRY.confluent() == {}
    assert OPEN_REGISTRY.httpx() == {}
    assert OPEN_REGISTRY.as_env() == {}


def test_the_confluent_client_gets_basic_auth_and_the_ca() -> None:
    assert AUTH.confluent() == {
        "basic.auth.user.info": "ingest:s3cret",
        "ssl.ca.location": "/ca.pem",
    }


def test_the_password_is_never_shown() -> None:
    assert "s3cret" not in repr(AUTH)
    assert "s3cret" not in str(AUTH)


@pytest.mark.parametrize(("user", "password"), [("ingest", None), (None, "s3cret")])
def test_a_user_and_a_password_go_together(user: str | None, password: str | None) -> None:
    with pytest.raises(RegistryAuthError, match="REELSTREAM_SCHEMA_REGISTRY_"):
        RegistryAuth(user, SecretStr(password) if password else None)


def test_the_settings_registry_gives_every_service_its_registry_user() -> None:
    env = {
        "REELSTREAM_S3_ACCESS_KEY": "a",
        "REELSTREAM_S3_SECRET_KEY": "b",
        **AUTH.as_env(),
    }
    endpoints = endpoints_from_config(load_config(env))
    assert endpoints.registry_auth == AUTH
    assert Endpoints.from_record(endpoints.to_record()) == endpoints
    assert endpoints.as_env()["REELSTREAM_SCHEMA_REGISTRY_PASSWORD"] == "s3cret"


def test_the_registry_stores_salted_digests_and_one_role_each() -> None:
    text = security_properties({"ingest": ("pw1", "writer"), "internal-team": ("pw2", "reader")})
    digest = hashlib.sha512(f"ingest:{REALM}:pw1".encode()).hexdigest()
    assert f"quarkus.security.users.embedded.users.ingest={digest}" in text
    assert "quarkus.security.users.embedded.roles.ingest=writer" in text
    assert "quarkus.security.users.embedded.roles.internal-team=reader" in text
    assert "pw1" not in text
    assert "pw2" not in text
    assert "quarkus.http.auth.policy.registry-writers.roles-allowed=writer" in text


def test_a_secured_registry_serves_https_with_a_certificate_of_the_stack_ca(tmp_path: Path) -> None:
    tls = BrokerTls(tmp_path / "tls").ensure()
    service = RegistryService(tmp_path / "registry", tmp_path, 8443, 8444, tls)
    assert service.url.startswith("https://127.0.0.1:8443/")
    cert, key = tls.server_cert("registry")
    context = ssl.create_default_context(cafile=str(tls.ca_file))
    context.load_cert_chain(cert, key)  # the key matches, the CA file loads
    service.write_security_config(tls)
    properties = tmp_path / "registry" / "config" / "application.properties"
    assert properties.stat().st_mode & 0o777 == 0o600
    auth = service.admin_auth()
    assert auth.username == "admin"
    assert auth.ca_file == str(tls.ca_file)
    ingest = service_registry_auth(auth, "ingest")
    assert ingest.username == "ingest"
    assert ingest.password != auth.password
    assert service_registry_auth(auth, "nobody") is auth
    assert service_registry_auth(OPEN_REGISTRY, "ingest") is OPEN_REGISTRY
