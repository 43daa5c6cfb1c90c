"""The chart's schema registry is authenticated (HTTPS only, a user per service with its role, generated
from reelstream/kafka/acls.py as the dev stack's are, passwords from a referenced Secret), keeps its kafkasql
storage as its own KafkaUser over SASL/TLS, and KEDA's Kafka-lag triggers use SCRAM over TLS from Secrets."""

from __future__ import annotations

from typing import Any

import pytest

from devstack.deploy import REGISTRY_USERS_FILE, registry_users_json
from reelstream.config import load_config
from reelstream.kafka.acls import REGISTRY_ROLES
from reelstream.settings import registry_auth_from_config
from tests.deploy.conftest import REPO, SCENARIOS
from tests.deploy.manifests import (
    PRODUCTION,
    Render,
    container_env,
    containers,
    named,
    of_kind,
    pod_spec,
    service_containers,
)


def _properties(manifest: list[dict[str, Any]]) -> dict[str, str]:
    text = named(manifest, "ConfigMap", "-registry-config")["data"]["application.properties"]
    return dict(line.split("=", 1) for line in text.splitlines() if line.strip())


def test_the_chart_registry_users_file_is_generated_from_the_code() -> None:
    assert (REPO / REGISTRY_USERS_FILE).read_text() == registry_users_json(), (
        "regenerate it: python -m devstack.deploy registry-users > " + str(REGISTRY_USERS_FILE)
    )


def test_each_registry_user_has_its_role_and_its_password_from_the_users_secret(render: Render) -> None:
    manifest = render(PRODUCTION)
    properties = _properties(manifest)
    (container,) = containers(named(manifest, "Deployment", "-registry"))
    refs = {e["name"]: e["valueFrom"]["secretKeyRef"] for e in container["env"] if "valueFrom" in e}
    for name, role in REGISTRY_ROLES.items():
        variable = properties[f"quarkus.security.users.embedded.users.{name}"]
        assert variable.startswith("${REGISTRY_PASSWORD_")
        assert variable.endswith("}")
        assert refs[variable[2:-1]] == {"name": "reelstream-registry-users", "key": name}
        assert properties[f"quarkus.security.users.embedded.roles.{name}"] == role
    assert properties["quarkus.http.auth.policy.registry-writers.roles-allowed"] == "writer"
    assert properties["quarkus.http.auth.permission.registry-write.methods"] == "POST,PUT,PATCH,DELETE"
    assert properties["quarkus.http.auth.permission.registry-write.paths"] == "/apis/*"


def test_the_registry_serves_only_https_and_stores_schemas_as_its_own_kafka_user(render: Render) -> None:
    manifest = render(PRODUCTION)
    registry = named(manifest, "Deployment", "-registry")
    (container,) = containers(registry)
    env = container_env(container, {}, {})
    assert env["QUARKUS_HTTP_INSECURE_REQUESTS"] == "disabled"
    assert {p["containerPort"] for p in container["ports"]} == {8443, 9000}
    assert env["QUARKUS_CONFIG_LOCATIONS"] == "/etc/registry-config/application.properties"
    (jaas,) = [e for e in container["env"] if e["name"] == "REGISTRY_KAFKA_JAAS_CONFIG"]
    assert jaas["valueFrom"]["secretKeyRef"] == {
        "name": "reelstream-kafka-schema-registry",
        "key": "sasl.jaas.config",
    }
    users = {u["metadata"]["name"] for u in of_kind(manifest, "KafkaUser")}
    assert "reelstream-kafka-schema-registry" in users
    properties = _properties(manifest)
    for client in ("producer", "consumer", "admin"):
        assert properties[f"apicurio.kafkasql.{client}.security.protocol"] == "SASL_SSL"
        assert properties[f"apicurio.kafkasql.{client}.sasl.mechanism"] == "SCRAM-SHA-512"
        assert properties[f"apicurio.kafkasql.{client}.sasl.jaas.config"] == "${REGISTRY_KAFKA_JAAS_CONFIG}"
    assert properties["apicurio.kafkasql.consumer.group-prefix"] == "apicurio-registry-"
    (service,) = [s for s in of_kind(manifest, "Service") if s["metadata"]["name"].endswith("-registry")]
    assert [p["port"] for p in service["spec"]["ports"]] == [8443]
    volumes = {v["name"]: v for v in pod_spec(registry)["volumes"]}
    assert volumes["registry-tls"]["secret"]["secretName"] == "reelstream-registry-tls"


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_each_service_reaches_the_registry_as_its_own_user(render: Render, scenario: str) -> None:
    manifest = render(scenario)
    deployments = of_kind(manifest, "Deployment")
    apicurio = any(d["metadata"]["name"].endswith("-registry") for d in deployments)
    services = list(service_containers(manifest))
    assert services
    for service in services:
        if not apicurio:  # an external registry: the operator's
            assert "REELSTREAM_SCHEMA_REGISTRY_USERNAME" not in service.env
            continue
        assert service.env["REELSTREAM_SCHEMA_REGISTRY_URL"].startswith("https://")
        ref = service.secret_ref("REELSTREAM_SCHEMA_REGISTRY_PASSWORD")
        assert ref == {"name": "reelstream-registry-users", "key": service.principal}
        assert service.mounted("REELSTREAM_SCHEMA_REGISTRY_CA_FILE")
        registry_env = {k: v for k, v in service.env.items() if k.startswith("REELSTREAM_SCHEMA_REGISTRY_")}
        auth = registry_auth_from_config(load_config(registry_env))
        assert auth.username == service.principal


def test_keda_reads_the_lag_with_scram_over_tls_from_secrets(render: Render) -> None:
    manifest = render(PRODUCTION)
    (auth,) = of_kind(manifest, "TriggerAuthentication")
    refs = {r["parameter"]: r for r in auth["spec"]["secretTargetRef"]}
    assert set(refs) == {"password", "ca"}  # the secrets from Secrets
    plain = {r["parameter"]: r for r in auth["spec"]["configMapTargetRef"]}
    assert set(plain) == {"sasl", "tls", "username"}
    secret = named(manifest, "ConfigMap", "-keda-kafka")["data"]
    assert secret["sasl"] == "scram_sha512"
    assert secret["tls"] == "enable"
    assert secret["username"] == "reelstream-kafka-keda"
    assert refs["password"]["name"] == "reelstream-kafka-keda"  # the keda KafkaUser's own Secret
    assert refs["ca"] == {"parameter": "ca", "name": "reelstream-kafka-cluster-ca-cert", "key": "ca.crt"}
    users = {u["metadata"]["name"] for u in of_kind(manifest, "KafkaUser")}
    assert "reelstream-kafka-keda" in users
    triggers = [t for o in of_kind(manifest, "ScaledObject") for t in o["spec"]["triggers"]]
    kafka = [t for t in triggers if t["type"] == "kafka"]
    assert kafka
    assert all(t["authenticationRef"] == {"name": auth["metadata"]["name"]} for t in kafka)
