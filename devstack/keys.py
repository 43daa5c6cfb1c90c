"""The dev stack's secrets at rest: a key-encryption key directory (what a Kubernetes Secret mounts in a
cluster) and each dev tenant's webhook signing secret, issued the way ingest issues one (a data key for the
tenant on reelstream.keys.tenants, the secret sealed under it on reelstream.webhooks.secrets), so that the
printed secret verifies the webhooks a dev tenant receives. There is no shared global secret."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from reelstream.crypto.keyring import Keyring
from reelstream.crypto.keyring import record_key as key_record_key
from reelstream.crypto.provider import CURRENT_FILE, FileKeyProvider, write_key
from reelstream.endpoints import Endpoints
from reelstream.kafka.clients import Publisher, sender_of
from reelstream.kafka.librdkafka import LibrdkafkaProducer
from reelstream.kafka.registry import ConfluentRegistry
from reelstream.webhooks.sealing import sealed
from reelstream.webhooks.tenants import record_key
from schemas.events import WebhookSecretIssued
from schemas.serde import AvroSerde
from schemas.topics import TENANT_KEYS, WEBHOOK_SECRETS

DEV_SECRET_ID = "whsk_dev"  # noqa: S105 (an id, not a secret)
FIRST_KEK = "kek-1"
PRODUCE_TIMEOUT_SECONDS = 30.0


def ensure_key_dir(directory: Path) -> Path:
    """A key directory with a current key-encryption key (made on first use, kept afterwards)."""
    if not (directory / CURRENT_FILE).exists():
        write_key(directory, FIRST_KEK)
    return directory


def tenants_of(api_keys: Iterable[str]) -> list[str]:
    """The tenants of REELSTREAM_API_KEYS entries (`tenant` or `tenant:role+role`), each once."""
    return sorted({entry.partition(":")[0] for entry in api_keys})


async def issue_webhook_secret(
    endpoints: Endpoints, key_dir: Path, tenants: Iterable[str], secret: str, secret_id: str = DEV_SECRET_ID
) -> None:
    """Give each tenant `secret` as its webhook secret `secret_id`, sealed under a new data key of its own."""
    keyring = Keyring(FileKeyProvider.load(key_dir))
    registry = ConfluentRegistry.of(endpoints)
    producer = LibrdkafkaProducer(
        endpoints.kafka_bootstrap,
        "reelstream-devstack",
        delivery_timeout=PRODUCE_TIMEOUT_SECONDS,
        security=endpoints.kafka_security,
    )
    try:
        serde = AvroSerde(registry)
        await serde.register(TENANT_KEYS, WEBHOOK_SECRETS)
        await producer.start()
        publisher = Publisher(sender_of(producer), serde, timeout=PRODUCE_TIMEOUT_SECONDS)
        for tenant in tenants:
            data_key = keyring.issue(tenant)
            await publisher.publish(TENANT_KEYS, key_record_key(tenant, data_key.key_id), data_key)
            keyring.put(data_key)
            record = sealed(keyring, WebhookSecretIssued(tenant, secret_id, created_by="devstack"), secret)
            await publisher.publish(WEBHOOK_SECRETS, record_key(tenant, secret_id), record)
    finally:
        await producer.stop()
        await registry.aclose()
