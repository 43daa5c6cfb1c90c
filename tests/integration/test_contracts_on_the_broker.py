"""Every record through the real registry and broker, interop with plain Confluent clients, and the errors."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from confluent_kafka.admin import AdminClient
from confluent_kafka.schema_registry import SchemaRegistryClient
from confluent_kafka.schema_registry.avro import AvroDeserializer, AvroSerializer
from confluent_kafka.serialization import MessageField, SerializationContext

from devstack.registry import service_registry_auth
from reelstream.endpoints import Endpoints
from reelstream.kafka.admin import CompactedTopic, ensure_topics, topic_configs
from reelstream.kafka.registry import ConfluentRegistry
from schemas.codec import to_datum
from schemas.errors import SchemaIncompatibleError, SerializationError, UnknownSchemaError
from schemas.events import WebhookDelivery
from schemas.serde import AvroSerde
from schemas.topics import (
    ALL_TOPICS,
    API_KEYS,
    COMMANDS,
    JOB_EVENTS,
    JOB_STATUS,
    POOL_STATE,
    RENDER_DISPATCH,
    SCHEDULER_INBOX,
    TENANT_LIMIT_SETTINGS,
    TENANTS,
    WEBHOOK_DELIVERIES,
    WEBHOOK_ENDPOINTS,
    WEBHOOK_SECRETS,
    Topic,
)
from tests.samples import every_record, job_status


async def assert_evolves_compatibly(stack: Endpoints, topic: Topic[Any], older: Callable[[Any], Any]) -> None:
    """`topic`'s schema is a BACKWARD-compatible evolution of `older(schema)` (its schema before a change):
    on a scratch subject set to BACKWARD, the registry takes the older schema, then the current one."""
    registry = ConfluentRegistry.of(stack)
    try:
        scratch = dataclasses.replace(topic, name=f"test.scratch.{uuid.uuid4().hex}")
        before = json.dumps(older(json.loads(scratch.schema)))
        assert before != scratch.schema
        await registry.register(scratch.subject, before)
        await registry.set_backward_compatibility(scratch.subject)
        assert await registry.register(scratch.subject, scratch.schema) > 0  # refused if incompatible
    finally:
        await registry.aclose()


def topic_of(record: object) -> Topic[Any]:
    return next(t for t in ALL_TOPICS if isinstance(record, t.value_types))


async def produce_and_read_back(stack: Endpoints, topic: str, partition: int, value: bytes) -> bytes:
    producer = AIOKafkaProducer(
        bootstrap_servers=stack.kafka_bootstrap,
        **stack.kafka_security.aiokafka(),
        acks="all",
        enable_idempotence=True,
    )
    await producer.start()
    try:
        meta = await producer.send_and_wait(topic, value, key=b"k", partition=partition)
    finally:
        await producer.stop()
    consumer = AIOKafkaConsumer(
        bootstrap_servers=stack.kafka_bootstrap, **stack.kafka_security.aiokafka(), enable_auto_commit=False
    )
    await consumer.start()
    try:
        tp = TopicPartition(topic, partition)
        consumer.assign([tp])
        consumer.seek(tp, meta.offset)
        record = await consumer.getone()
    finally:
        await consumer.stop()
    assert record.offset == meta.offset
    return bytes(record.value)


@pytest.mark.parametrize("record", every_record(), ids=lambda r: type(r).__name__)
async def test_every_record_round_trips_through_registry_and_broker(
    record: object, serde: AvroSerde, stack: Endpoints
) -> None:
    topic = topic_of(record)
    raw = await produce_and_read_back(stack, topic.name, 0, serde.serialize(topic, record))
    assert raw[0] == 0  # Confluent wire format: magic byte, then a 4-byte schema id
    assert await serde.deserialize(topic, raw) == record


@pytest.fixture(scope="module")
def plain_client(stack: Endpoints) -> Iterator[SchemaRegistryClient]:
    """What an internal team uses: confluent-kafka's own registry client, nothing of ours, with the read-only
    internal-team user of the local stack's registry."""
    auth = service_registry_auth(stack.registry_auth, "internal-team").confluent()
    with SchemaRegistryClient({"url": stack.schema_registry_url, "timeout": 10, **auth}) as client:
        yield client


@pytest.mark.parametrize("record", every_record(), ids=lambda r: type(r).__name__)
async def test_a_plain_confluent_deserializer_reads_our_records(
    record: object, serde: AvroSerde, plain_client: SchemaRegistryClient
) -> None:
    topic = topic_of(record)
    deserializer = AvroDeserializer(plain_client)
    datum = deserializer(serde.serialize(topic, record), SerializationContext(topic.name, MessageField.VALUE))
    expected = to_datum(record)
    assert _normalize(datum) == _normalize(expected)


def _normalize(datum: Any) -> Any:
    """Datetimes compare as epoch millis (a plain client may hand back another tz object)."""
    if isinstance(datum, dict):
        return {k: _normalize(v) for k, v in datum.items()}
    if hasattr(datum, "timestamp"):
        return round(datum.timestamp() * 1000)
    return datum


async def test_we_read_what_a_plain_confluent_serializer_wrote(
    serde: AvroSerde, plain_client: SchemaRegistryClient
) -> None:
    serializer = AvroSerializer(
        plain_client, JOB_STATUS.schema, conf={"auto.register.schemas": False, "use.latest.version": True}
    )
    status = job_status(job_id=f"j-{uuid.uuid4().hex}", progress=0.25)
    raw = serializer(to_datum(status), SerializationContext(JOB_STATUS.name, MessageField.VALUE))
    assert await serde.deserialize(JOB_STATUS, raw) == status


async def test_incompatible_schema_change_is_refused_and_a_compatible_one_accepted(stack: Endpoints) -> None:
    registry = ConfluentRegistry.of(stack)
    try:
        scratch = dataclasses.replace(JOB_STATUS, name=f"test.scratch.{uuid.uuid4().hex}")
        await AvroSerde(registry).register(scratch)
        schema = json.loads(scratch.schema)
        required = {**schema, "fields": [*schema["fields"], {"name": "gpu_seconds", "type": "double"}]}
        with pytest.raises(SchemaIncompatibleError):
            await registry.register(scratch.subject, json.dumps(required))
        optional = {
            **schema,
            "fields": [
                *schema["fields"],
                {"name": "gpu_seconds", "type": ["null", "double"], "default": None},
            ],
        }
        assert await registry.register(scratch.subject, json.dumps(optional)) > 0
    finally:
        await registry.aclose()


# the long-job estimator's fields (issue 25), added to records already on the topics
ESTIMATOR_FIELDS = {
    "JobAdmitted": {"predicted_long", "long_probability"},
    "JobStatus": {"predicted_long", "long_probability"},
    "JobFinished": {"model", "predicted_long", "render_seconds"},
}


def without_estimator_fields(node: Any) -> Any:
    """The schema as it was before the estimator's fields."""
    if isinstance(node, list):
        return [without_estimator_fields(item) for item in node]
    if not isinstance(node, dict):
        return node
    out = {key: without_estimator_fields(value) for key, value in node.items()}
    if node.get("type") == "record" and node.get("name") in ESTIMATOR_FIELDS:
        out["fields"] = [f for f in out["fields"] if f["name"] not in ESTIMATOR_FIELDS[node["name"]]]
    return out


@pytest.mark.parametrize("topic", [COMMANDS, SCHEDULER_INBOX, JOB_STATUS, JOB_EVENTS], ids=lambda t: t.name)
async def test_the_estimators_fields_evolve_each_topics_schema_compatibly(
    topic: Topic[Any], stack: Endpoints
) -> None:
    await assert_evolves_compatibly(stack, topic, without_estimator_fields)


def without_tier(node: Any) -> Any:
    """A schema as it was before the job tier (issue 24): RenderParams and RequestedParams without `tier`."""
    if isinstance(node, list):
        return [without_tier(item) for item in node]
    if not isinstance(node, dict):
        return node
    out = {key: without_tier(value) for key, value in node.items()}
    if node.get("type") == "record" and node.get("name") in ("RenderParams", "RequestedParams"):
        out["fields"] = [f for f in out["fields"] if f["name"] != "tier"]
    return out


@pytest.mark.parametrize(
    "topic", [COMMANDS, SCHEDULER_INBOX, RENDER_DISPATCH, JOB_STATUS, JOB_EVENTS], ids=lambda t: t.name
)
async def test_the_tier_evolves_each_topics_schema_compatibly(topic: Topic[Any], stack: Endpoints) -> None:
    await assert_evolves_compatibly(stack, topic, without_tier)


def without_sealing_fields(schema: Any) -> Any:
    """A topic's schema as it was before secrets were sealed and key records MACed (issue #20)."""
    fields = [f for f in schema["fields"] if f["name"] not in ("sealed_secret", "mac")]
    for f in fields:
        if schema["name"] == "WebhookSecretIssued" and f["name"] == "secret":
            f.pop("default")
            f["type"] = "string"
    return {**schema, "fields": fields}


@pytest.mark.parametrize("topic", [WEBHOOK_SECRETS, API_KEYS], ids=lambda t: t.name)
async def test_sealed_secrets_and_key_macs_evolve_the_schemas_compatibly(
    topic: Topic[Any], stack: Endpoints
) -> None:
    await assert_evolves_compatibly(stack, topic, without_sealing_fields)


def without_retention_overrides(schema: Any) -> Any:
    """The tenant record as it was before its retention overrides (issue #23): retention_days a plain int."""
    fields = [dict(f) for f in schema["fields"] if f["name"] != "video_retention_days"]
    for f in fields:
        if f["name"] == "retention_days":
            f.pop("default")
            f["type"] = "int"
    return {**schema, "fields": fields}


async def test_the_tenants_retention_overrides_evolve_the_schema_compatibly(stack: Endpoints) -> None:
    await assert_evolves_compatibly(stack, TENANTS, without_retention_overrides)


def with_a_required_target_host(schema: Any) -> Any:
    """Delivery records as they were before `target_host` stopped being written (issue #23): required."""
    fields = [dict(f) for f in schema["fields"]]
    for f in fields:
        if f["name"] == "target_host":
            f.pop("default")
    return {**schema, "fields": fields}


@pytest.mark.parametrize("topic", [WEBHOOK_DELIVERIES, WEBHOOK_ENDPOINTS], ids=lambda t: t.name)
async def test_the_target_host_left_empty_evolves_the_schemas_compatibly(
    stack: Endpoints, topic: Topic[Any]
) -> None:
    await assert_evolves_compatibly(stack, topic, with_a_required_target_host)


@pytest.mark.parametrize(
    "raw",
    [b"", b"\x00\x00", b"\x07\x00\x00\x00\x01abc", b"\x00" + b"\xff" * 40],
    ids=["empty", "short", "bad-magic", "garbage-body"],
)
async def test_malformed_bytes_raise_a_named_serialization_error(raw: bytes, serde: AvroSerde) -> None:
    with pytest.raises(SerializationError):
        await serde.deserialize(SCHEDULER_INBOX, raw)


async def test_a_record_written_with_another_topics_schema_is_a_serialization_error(serde: AvroSerde) -> None:
    delivery = next(r for r in every_record() if isinstance(r, WebhookDelivery))
    foreign = serde.serialize(WEBHOOK_DELIVERIES, delivery)  # read as a JobEvent below
    with pytest.raises(SerializationError, match="cannot be read as"):
        await serde.deserialize(JOB_EVENTS, foreign)


async def test_a_record_naming_an_unknown_schema_id_raises_unknown_schema(serde: AvroSerde) -> None:
    with pytest.raises(UnknownSchemaError):
        await serde.deserialize(JOB_STATUS, b"\x00\x7f\xff\xff\xf0" + b"\x00" * 8)


async def test_a_value_of_the_wrong_type_is_refused_before_it_reaches_the_broker(serde: AvroSerde) -> None:
    with pytest.raises(SerializationError):
        serde.serialize(JOB_STATUS, every_record()[0])


async def test_topic_declarations_applied_twice_change_nothing(stack: Endpoints, topics: None) -> None:
    before = {
        t.name: await topic_configs(stack.kafka_bootstrap, t.name, security=stack.kafka_security)
        for t in ALL_TOPICS
    }
    assert await ensure_topics(stack.kafka_bootstrap, ALL_TOPICS, security=stack.kafka_security) == []
    after = {
        t.name: await topic_configs(stack.kafka_bootstrap, t.name, security=stack.kafka_security)
        for t in ALL_TOPICS
    }
    assert after == before
    assert after[JOB_STATUS.name]["cleanup.policy"] == "compact"
    assert after[SCHEDULER_INBOX.name]["cleanup.policy"] == "delete"


async def test_a_changelog_rolls_segments_so_compaction_bounds_a_restore(stack: Endpoints) -> None:
    """Kafka compacts closed segments only: a Faust changelog created by the services rolls one every few
    minutes, so a restarted stage replays about one record per key, not every write since creation."""
    changelog = CompactedTopic(f"t-{uuid.uuid4().hex[:8]}-pool-state-changelog", 1)
    assert await ensure_topics(stack.kafka_bootstrap, [changelog], security=stack.kafka_security) == [
        changelog.name
    ]
    deadline = time.monotonic() + 30
    config = await topic_configs(stack.kafka_bootstrap, changelog.name, security=stack.kafka_security)
    while not config and time.monotonic() < deadline:  # a topic created just now: metadata may lag
        await asyncio.sleep(0.1)
        config = await topic_configs(stack.kafka_bootstrap, changelog.name, security=stack.kafka_security)
    assert config["cleanup.policy"] == "compact"
    assert int(config["segment.ms"]) <= 600_000
    assert float(config["min.cleanable.dirty.ratio"]) <= 0.1


async def test_a_topic_just_created_is_in_the_metadata_of_the_next_client(stack: Endpoints) -> None:
    """A stream stage starts its Faust app right after creating its changelogs: a client that found the
    changelog missing then crashed its agent on every table write (PartitionsMismatch, 0 partitions)."""
    changelogs = [CompactedTopic(f"t-{uuid.uuid4().hex[:8]}-{n}-changelog", 3) for n in range(4)]
    assert await ensure_topics(stack.kafka_bootstrap, changelogs, security=stack.kafka_security) == [
        c.name for c in changelogs
    ]
    # another client, one metadata request, no retry: what a stage's Faust app does as it starts
    metadata = AdminClient(
        {"bootstrap.servers": stack.kafka_bootstrap, **stack.kafka_security.librdkafka()}
    ).list_topics(timeout=10)
    for changelog in changelogs:
        assert changelog.name in metadata.topics
        assert sorted(metadata.topics[changelog.name].partitions) == [0, 1, 2]


def without_deletion(node: Any) -> Any:
    """The schema as it was before deletions (#23): no `delete` on the cancel records, no `deleted` event."""
    if isinstance(node, list):
        return [without_deletion(item) for item in node]
    if not isinstance(node, dict):
        return node
    out = {key: without_deletion(value) for key, value in node.items()}
    if node.get("type") == "record" and node.get("name") in ("CancelJob", "CancelRequested"):
        out["fields"] = [f for f in out["fields"] if f["name"] != "delete"]
    if node.get("type") == "enum" and node.get("name") == "JobEventType":
        out["symbols"] = [s for s in node["symbols"] if s != "deleted"]
    return out


@pytest.mark.parametrize("topic", [COMMANDS, SCHEDULER_INBOX, JOB_EVENTS], ids=lambda t: t.name)
async def test_the_deletion_fields_evolve_each_topics_schema_compatibly(
    topic: Topic[Any], stack: Endpoints
) -> None:
    await assert_evolves_compatibly(stack, topic, without_deletion)


# crypto-shredding's fields (issue #23): the job key a record's prompt, negative prompt and webhook URL are
# sealed with, and the prompt's word count admission takes before they travel sealed
SHREDDING_FIELDS = {
    "SubmitJob": {"job_key_id"},
    "JobAdmitted": {"job_key_id", "prompt_words"},
    "DispatchRender": {"job_key_id"},
    "JobStatus": {"job_key_id", "prompt_words"},
}


def without_shredding_fields(node: Any) -> Any:
    """The schema as it was before jobs' fields were sealed."""
    if isinstance(node, list):
        return [without_shredding_fields(item) for item in node]
    if not isinstance(node, dict):
        return node
    out = {key: without_shredding_fields(value) for key, value in node.items()}
    if node.get("type") == "record" and node.get("name") in SHREDDING_FIELDS:
        out["fields"] = [f for f in out["fields"] if f["name"] not in SHREDDING_FIELDS[node["name"]]]
    return out


@pytest.mark.parametrize(
    "topic", [COMMANDS, SCHEDULER_INBOX, RENDER_DISPATCH, JOB_STATUS, JOB_EVENTS], ids=lambda t: t.name
)
async def test_the_shredding_fields_evolve_each_topics_schema_compatibly(
    topic: Topic[Any], stack: Endpoints
) -> None:
    await assert_evolves_compatibly(stack, topic, without_shredding_fields)


def without_fields(fields: dict[str, set[str]]) -> Callable[[Any], Any]:
    """The schema as it was before `fields` ({record name: field names}) were added."""

    def older(node: Any) -> Any:
        if isinstance(node, list):
            return [older(item) for item in node]
        if not isinstance(node, dict):
            return node
        out = {key: older(value) for key, value in node.items()}
        if node.get("type") == "record" and node.get("name") in fields:
            out["fields"] = [f for f in out["fields"] if f["name"] not in fields[node["name"]]]
        return out

    return older


# gangs (issue #24): a tenant's low-latency limit (its record, the admin-set limits, its admitted jobs), each
# member's place in a gang, and a busy slot's gang in the pool's state
GANG_FIELDS = {
    "JobAdmitted": {"max_gang_slots"},
    "DispatchRender": {"gang_size", "gang_rank", "gang_leader_slot"},
    "TenantRecord": {"gang"},
    "TenantLimitsSet": {"gang"},
    "PoolSlotJob": {"gang"},
}


@pytest.mark.parametrize(
    "topic",
    [SCHEDULER_INBOX, RENDER_DISPATCH, TENANTS, TENANT_LIMIT_SETTINGS, POOL_STATE],
    ids=lambda t: t.name,
)
async def test_the_gang_fields_evolve_each_topics_schema_compatibly(
    topic: Topic[Any], stack: Endpoints
) -> None:
    await assert_evolves_compatibly(stack, topic, without_fields(GANG_FIELDS))
