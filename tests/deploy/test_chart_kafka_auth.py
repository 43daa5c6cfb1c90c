"""The chart's Kafka is authenticated and authorized: a SCRAM-SHA-512 listener over TLS, simple authorization,
one KafkaUser per service principal with exactly the ACLs of reelstream.kafka.acls (the dev stack's too), and
each service given its own user's password from that user's Secret and the cluster CA."""

from __future__ import annotations

import pytest

from devstack.deploy import USERS_FILE, kafka_users_json
from reelstream.config import load_config
from reelstream.kafka.acls import PRINCIPALS, service_access
from reelstream.settings import kafka_security_from_config
from tests.deploy.conftest import REPO, SCENARIOS
from tests.deploy.manifests import PRODUCTION, Render, of_kind, service_containers


def test_the_chart_users_file_is_generated_from_the_code() -> None:
    assert (REPO / USERS_FILE).read_text() == kafka_users_json(), (
        "regenerate it: python -m devstack.deploy users > charts/reelstream/files/kafka_users.json"
    )


def test_the_listener_takes_only_scram_over_tls_and_authorizes(render: Render) -> None:
    (kafka,) = of_kind(render(PRODUCTION), "Kafka")
    (listener,) = kafka["spec"]["kafka"]["listeners"]
    assert listener["tls"] is True
    assert listener["authentication"] == {"type": "scram-sha-512"}
    assert kafka["spec"]["kafka"]["authorization"]["type"] == "simple"
    assert kafka["spec"]["kafka"]["config"]["allow.everyone.if.no.acl.found"] is False
    assert "userOperator" in kafka["spec"]["entityOperator"]


def test_each_principal_is_a_kafka_user_with_exactly_the_generated_acls(render: Render) -> None:
    users = {u["metadata"]["name"]: u["spec"] for u in of_kind(render(PRODUCTION), "KafkaUser")}
    assert set(users) == {f"reelstream-kafka-{p}" for p in PRINCIPALS}
    for access in service_access("reelstream"):  # the chart's default pipeline.appPrefix
        spec = users[f"reelstream-kafka-{access.principal}"]
        assert spec["authentication"] == {"type": "scram-sha-512"}
        assert spec["authorization"]["acls"] == [g.as_strimzi() for g in access.grants()]


def test_the_acls_follow_the_app_prefix(render: Render) -> None:
    users = of_kind(render(PRODUCTION, sets=("pipeline.appPrefix=video",)), "KafkaUser")
    names = {acl["resource"]["name"] for u in users for acl in u["spec"]["authorization"]["acls"]}
    assert "video-admission" in names
    assert not any(n.startswith("reelstream-") for n in names)


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_each_service_connects_as_its_own_principal(render: Render, scenario: str) -> None:
    manifest = render(scenario)
    strimzi = bool(of_kind(manifest, "Kafka"))
    services = list(service_containers(manifest))
    assert services
    for service in services:
        if not strimzi:  # an external broker: its credentials are the operator's
            assert "REELSTREAM_KAFKA_USERNAME" not in service.env
            continue
        user = f"reelstream-kafka-{service.principal}"
        assert service.env["REELSTREAM_KAFKA_USERNAME"] == user
        assert service.secret_ref("REELSTREAM_KAFKA_PASSWORD") == {"name": user, "key": "password"}
        assert service.mounted("REELSTREAM_KAFKA_CA_FILE")
        kafka_env = {k: v for k, v in service.env.items() if k.startswith("REELSTREAM_KAFKA_")}
        security = kafka_security_from_config(load_config(kafka_env))
        assert security.secured
        assert security.username == user
