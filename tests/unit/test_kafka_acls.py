"""The generated ACLs (reelstream.kafka.acls) and the Kafka credentials (reelstream.kafka.security)."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import SecretStr

from devstack.kafka_tls import BrokerTls
from reelstream.config import load_config
from reelstream.kafka.acls import PRINCIPALS, REGISTRY_ROLES, Grant, all_grants, allows, service_access
from reelstream.kafka.security import PLAINTEXT, KafkaSecurity, KafkaSecurityError
from reelstream.settings import kafka_security_from_config
from schemas.topics import ALL_TOPICS, DEAD_LETTERS, JOB_EVENTS, RENDER_DISPATCH, retry_topic

GRANTS = all_grants()


def test_there_is_one_principal_per_service_and_the_internal_team() -> None:
    assert set(PRINCIPALS) == {
        "ingest",
        "admission",
        "scheduler",
        "notifier",
        "worker",
        "internal-team",
        "keda",  # the chart's lag triggers
        "schema-registry",  # Apicurio's kafkasql storage (the chart)
    }


@pytest.mark.parametrize("topic", ALL_TOPICS, ids=lambda t: t.name)
def test_every_declared_topic_has_a_writer_and_a_reader(topic: object) -> None:
    name = topic.name  # type: ignore[attr-defined]
    writers = {p for p in PRINCIPALS if allows(GRANTS, p, "topic", name, "write")}
    readers = {p for p in PRINCIPALS if allows(GRANTS, p, "topic", name, "read")}
    assert writers, f"nobody may write {name}"
    if not name.startswith("reelstream.dlq."):  # dead letters are read by the operator's `reelstream dlq`
        assert readers, f"nobody may read {name}"


def test_each_stage_writes_its_own_dead_letters_only() -> None:
    for stage, topic in DEAD_LETTERS.items():
        writers = {p for p in PRINCIPALS if allows(GRANTS, p, "topic", topic.name, "write")}
        assert writers == {stage}


def test_only_workers_read_the_dispatch_topic_and_only_the_scheduler_writes_it() -> None:
    assert {p for p in PRINCIPALS if allows(GRANTS, p, "topic", RENDER_DISPATCH.name, "read")} == {"worker"}
    assert {p for p in PRINCIPALS if allows(GRANTS, p, "topic", RENDER_DISPATCH.name, "write")} == {
        "scheduler"
    }


def test_the_internal_team_reads_job_events_and_writes_nothing() -> None:
    assert allows(GRANTS, "internal-team", "topic", JOB_EVENTS.name, "read")
    assert not any(allows(GRANTS, "internal-team", "topic", t.name, "write") for t in ALL_TOPICS)
    assert allows(GRANTS, "internal-team", "group", "internal-team-dashboards", "read")
    assert not allows(GRANTS, "internal-team", "group", "reelstream-admission", "read")


def test_retry_tiers_not_declared_are_covered_by_the_notifier_s_prefix() -> None:
    tier = retry_topic(42).name  # a schedule may name a delay no declared tier has
    for op in ("read", "write", "create"):
        assert allows(GRANTS, "notifier", "topic", tier, op)
    assert not allows(GRANTS, "admission", "topic", tier, "write")


def test_authorizer_semantics() -> None:
    grants = [
        Grant("a", "topic", "t.", "prefixed", "read"),
        Grant("a", "topic", "x", "literal", "all"),
    ]
    assert allows(grants, "a", "topic", "t.one", "read")
    assert allows(grants, "a", "topic", "t.one", "describe")  # READ implies DESCRIBE
    assert not allows(grants, "a", "topic", "t.one", "write")
    assert not allows(grants, "a", "topic", "xy", "write")  # a literal name is not a prefix
    assert allows(grants, "a", "topic", "x", "create")  # ALL covers every operation
    assert not allows(grants, "b", "topic", "x", "read")


def test_faust_apps_own_their_prefix_and_group_under_the_app_prefix() -> None:
    grants = all_grants(service_access("video"))
    assert allows(grants, "scheduler", "topic", "video-scheduler-pool-state-changelog", "write")
    assert allows(grants, "scheduler", "group", "video-scheduler", "read")
    assert not allows(grants, "scheduler", "group", "reelstream-scheduler", "read")
    assert allows(grants, "worker", "group", "video-worker-default-slot3", "read")


def test_sasl_ssl_needs_user_password_and_ca_and_says_which_is_missing() -> None:
    with pytest.raises(KafkaSecurityError, match=r"REELSTREAM_KAFKA_PASSWORD.*REELSTREAM_KAFKA_CA_FILE"):
        KafkaSecurity("SASL_SSL", "ingest")


def test_the_password_never_shows_and_travels_through_the_environment(tmp_path: Path) -> None:
    ca = str(BrokerTls(tmp_path).ensure().ca_file)  # the dev stack's CA: a TLS context needs a real one
    security = KafkaSecurity("SASL_SSL", "ingest", SecretStr("s3cret-pw"), ca)
    assert "s3cret-pw" not in repr(security)
    assert "s3cret-pw" not in str(security)
    assert kafka_security_from_config(load_config(security.as_env())) == security
    assert security.librdkafka()["sasl.password"] == "s3cret-pw"
    assert security.aiokafka()["sasl_mechanism"] == "SCRAM-SHA-512"
    assert PLAINTEXT.aiokafka() == {}
    assert PLAINTEXT.librdkafka() == {}
    assert kafka_security_from_config(load_config({})) == PLAINTEXT


def test_keda_and_the_registry_read_nothing_of_ours() -> None:
    """KEDA only describes (lag: the groups' offsets, the topics' ends); Apicurio owns its kafkasql topics."""
    for topic in ALL_TOPICS:
        for principal in ("keda", "schema-registry"):
            assert not allows(GRANTS, principal, "topic", topic.name, "read")
            assert not allows(GRANTS, principal, "topic", topic.name, "write")
        assert allows(GRANTS, "keda", "topic", topic.name, "describe")
    assert allows(GRANTS, "keda", "group", "reelstream-admission", "describe")
    assert not allows(GRANTS, "keda", "group", "reelstream-admission", "read")
    assert allows(GRANTS, "schema-registry", "topic", "kafkasql-journal", "write")
    assert allows(GRANTS, "schema-registry", "topic", "kafkasql-snapshots", "create")
    assert allows(GRANTS, "schema-registry", "group", "apicurio-registry-1f2e", "read")


def test_every_service_writes_schemas_and_the_internal_team_only_reads_them() -> None:
    assert REGISTRY_ROLES == {
        "ingest": "writer",
        "admission": "writer",
        "scheduler": "writer",
        "notifier": "writer",
        "worker": "writer",
        "internal-team": "reader",
    }
