"""The broker takes only SASL SCRAM-SHA-512 over TLS and authorizes by the ACLs generated from the topic
contracts: clients without credentials or with a wrong password are refused, and every cell of the
principal × declared topic × (read, write) matrix is allowed exactly when reelstream.kafka.acls says so.

A broker of its own (the session's registry and MinIO): the matrix writes a record to every topic."""

from __future__ import annotations

import asyncio
import os
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka import TopicPartition as AioTopicPartition
from aiokafka.errors import GroupAuthorizationFailedError, KafkaConnectionError, TopicAuthorizationFailedError
from confluent_kafka import KafkaError, KafkaException, Producer

from devstack.manager import ExternalServices, LocalStack, StackLayout
from reelstream.endpoints import Endpoints
from reelstream.kafka.acls import PRINCIPALS, all_grants, allows
from reelstream.kafka.admin import ensure_topics
from reelstream.kafka.librdkafka import LibrdkafkaProducer
from reelstream.kafka.security import KafkaSecurity
from schemas.topics import ALL_TOPICS

DEADLINE_S = 30.0
REFUSED = {KafkaError.TOPIC_AUTHORIZATION_FAILED}


@dataclass(frozen=True)
class SecuredBroker:
    endpoints: Endpoints  # the admin's credentials
    principals: dict[str, KafkaSecurity]


@pytest.fixture(scope="module")
def secured(stack: Endpoints, tmp_path_factory: pytest.TempPathFactory) -> Iterator[SecuredBroker]:
    others = ExternalServices(
        schema_registry_url=stack.schema_registry_url,
        registry_auth=stack.registry_auth,
        s3_endpoint=stack.s3_endpoint,
        s3_access_key=stack.s3_access_key,
        s3_secret_key=stack.s3_secret_key,
    )
    layout = StackLayout.ephemeral(tmp_path_factory.mktemp("secured-kafka"), os.environ)
    local = LocalStack(layout, os.environ, others)
    assert layout.kafka_auth, "the local stack's broker is secured by default (REELSTREAM_DEV_KAFKA_AUTH)"
    with local as endpoints:
        yield SecuredBroker(endpoints, local.service_credentials())


@pytest.fixture(scope="module")
async def seeded(secured: SecuredBroker) -> SecuredBroker:
    """Every declared topic, holding one record on partition 0 (so an allowed read has something to read)."""
    ep = secured.endpoints
    await ensure_topics(ep.kafka_bootstrap, ALL_TOPICS, security=ep.kafka_security)
    producer = Producer({"bootstrap.servers": ep.kafka_bootstrap, **ep.kafka_security.librdkafka()})
    for topic in ALL_TOPICS:
        producer.produce(topic.name, b"seed", b"seed", partition=0)
    assert producer.flush(DEADLINE_S) == 0
    return secured


def _librdkafka(ep: Endpoints, security: KafkaSecurity, **extra: object) -> dict[str, object]:
    return {"bootstrap.servers": ep.kafka_bootstrap, **security.librdkafka(), **extra}


async def test_a_client_without_credentials_is_refused(secured: SecuredBroker) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=secured.endpoints.kafka_bootstrap, request_timeout_ms=3000)
    with pytest.raises(KafkaConnectionError):
        await producer.start()
    await producer.stop()


async def test_a_wrong_password_is_refused_by_every_client_kind(secured: SecuredBroker) -> None:
    ep = secured.endpoints
    wrong = secured.principals["ingest"].as_user("ingest", "not-the-password")

    librdkafka = LibrdkafkaProducer(
        ep.kafka_bootstrap, "test-wrong-password", connect_timeout=3, security=wrong
    )
    with pytest.raises(KafkaException) as refused:
        await librdkafka.start()
    assert refused.value.args[0].code() == KafkaError._AUTHENTICATION  # readiness fails, and says why

    aiokafka = AIOKafkaProducer(
        bootstrap_servers=ep.kafka_bootstrap, request_timeout_ms=3000, **wrong.aiokafka()
    )
    with pytest.raises(KafkaConnectionError):
        await aiokafka.start()
    await aiokafka.stop()


def test_the_right_password_is_taken(seeded: SecuredBroker) -> None:
    ep = seeded.endpoints
    producer = Producer(_librdkafka(ep, seeded.principals["ingest"]))
    assert producer.list_topics(timeout=DEADLINE_S).brokers


@pytest.mark.parametrize("principal", PRINCIPALS)
def test_each_principal_writes_exactly_the_topics_its_acls_allow(
    seeded: SecuredBroker, principal: str
) -> None:
    grants = all_grants()
    expected = {t.name: allows(grants, principal, "topic", t.name, "write") for t in ALL_TOPICS}
    producer = Producer(
        _librdkafka(seeded.endpoints, seeded.principals[principal], **{"message.timeout.ms": 10000})
    )
    outcome: dict[str, bool] = {}
    deadline = time.monotonic() + DEADLINE_S
    waiting = set(expected)
    while waiting and time.monotonic() < deadline:
        for name in sorted(waiting):
            producer.produce(name, b"matrix", b"k", partition=0, on_delivery=_record(outcome, name))
        producer.flush(DEADLINE_S)
        # an ACL may take a moment to reach the authorizer: an allowed cell refused is tried again
        waiting = {name for name in waiting if expected[name] and not outcome.get(name)}
    assert outcome == expected, _diff(principal, "write", outcome, expected)


def _record(outcome: dict[str, bool], name: str):  # type: ignore[no-untyped-def]
    def report(error: KafkaError | None, _message: object) -> None:
        if error is not None and error.code() not in REFUSED:
            raise AssertionError(f"writing {name}: {error}")
        outcome[name] = error is None

    return report


@pytest.mark.parametrize("principal", PRINCIPALS)
async def test_each_principal_reads_exactly_the_topics_its_acls_allow(
    seeded: SecuredBroker, principal: str
) -> None:
    grants = all_grants()
    expected = {t.name: allows(grants, principal, "topic", t.name, "read") for t in ALL_TOPICS}
    security = seeded.principals[principal]
    metadata = Producer(_librdkafka(seeded.endpoints, security))
    outcome = {name: _describable(metadata, name) for name in expected}
    if any(outcome.values()):  # a principal that sees no topic (schema-registry) reads none: no consumer
        consumer = AIOKafkaConsumer(  # (aiokafka's stop of a consumer never assigned raises CancelledError)
            bootstrap_servers=seeded.endpoints.kafka_bootstrap,
            group_id=None,
            enable_auto_commit=False,
            **security.aiokafka(),
        )
        await consumer.start()
        try:
            for name in expected:  # assigned, no group: only the topic's own ACLs decide
                outcome[name] = outcome[name] and await _reads(consumer, name)
        finally:
            await consumer.stop()
    assert outcome == expected, _diff(principal, "read", outcome, expected)


def _describable(client: Producer, name: str) -> bool:
    """Whether the broker shows the topic to the client: a principal with no ACL on it does not see it."""
    error = client.list_topics(name, timeout=DEADLINE_S).topics[name].error
    if error is not None and error.code() not in REFUSED:
        raise AssertionError(f"metadata of {name}: {error}")
    return error is None


async def _reads(consumer: AIOKafkaConsumer, name: str) -> bool:
    """Whether the seeded record of `name` comes back (False: the broker refused the fetch)."""
    tp = AioTopicPartition(name, 0)
    consumer.assign([tp])
    try:
        async with asyncio.timeout(DEADLINE_S):
            await consumer.seek_to_beginning(tp)
            while not (await consumer.getmany(tp, timeout_ms=500)).get(tp):
                pass
    except TopicAuthorizationFailedError:
        return False
    return True


def _diff(principal: str, op: str, outcome: dict[str, bool], expected: dict[str, bool]) -> str:
    wrong = {
        name: outcome.get(name, "no answer")
        for name, allowed in expected.items()
        if outcome.get(name) != allowed
    }
    return f"{principal} may {op} {sorted(n for n, a in expected.items() if a)}; differs on {wrong}"


def test_the_internal_team_principal_is_read_only(seeded: SecuredBroker) -> None:
    grants = [g for g in all_grants() if g.principal == "internal-team"]
    assert {g.operation for g in grants} <= {"read", "describe"}
    assert {g.name for g in grants if g.resource == "topic"} >= {
        "reelstream.jobs.events",
        "reelstream.jobs.status",
    }


async def test_a_consumer_group_is_allowed_only_under_the_principal_s_prefix(seeded: SecuredBroker) -> None:
    own, others = f"internal-team-{uuid.uuid4().hex[:6]}", f"reelstream-notifier-{uuid.uuid4().hex[:6]}"
    assert await _commit(seeded, "internal-team", own) is None
    assert await _commit(seeded, "internal-team", others) is GroupAuthorizationFailedError


async def _commit(broker: SecuredBroker, principal: str, group: str) -> type[Exception] | None:
    """Commit an offset of jobs.events in `group` as `principal`: None, or the error's type."""
    security = broker.principals[principal]
    consumer = AIOKafkaConsumer(
        bootstrap_servers=broker.endpoints.kafka_bootstrap,
        group_id=group,
        enable_auto_commit=False,
        **security.aiokafka(),
    )
    await consumer.start()
    tp = AioTopicPartition("reelstream.jobs.events", 0)
    consumer.assign([tp])
    try:
        await consumer.commit({tp: 1})
    except GroupAuthorizationFailedError as exc:
        return type(exc)
    finally:
        await consumer.stop()
    return None
