"""The tooling's bootstrap of the tenant registry: the dev stack and the test fixtures create the tenants
they use, as the platform operator would (`POST /v1/admin/tenants`), by writing their records to the
compacted `reelstream.tenants.registry` topic before ingest starts (its view replays the topic before it
is ready). Only for a stack the tooling runs: in production the operator creates tenants through the API."""

from __future__ import annotations

from collections.abc import Iterable

from reelstream.endpoints import Endpoints
from reelstream.kafka.clients import Publisher, new_producer, sender_of
from reelstream.kafka.registry import ConfluentRegistry
from reelstream.settings import TenantLimits
from schemas.events import TenantRecord, utc_now
from schemas.serde import AvroSerde
from schemas.topics import TENANTS

BOOTSTRAP_BY = "devstack"
RETENTION_DAYS: int | None = None  # the platform's retention settings apply


def tenant_record(tenant_id: str, limits: TenantLimits | None = None) -> TenantRecord:
    """An active tenant with the configured limits (the default ones unless `limits` names it)."""
    limit = (limits or TenantLimits()).of(tenant_id)
    return TenantRecord(
        tenant_id=tenant_id,
        name=tenant_id,
        status="active",
        rate=limit.rate,
        burst=limit.burst,
        queued=limit.queued,
        running=limit.running,
        gang=limit.gang,
        retention_days=RETENTION_DAYS,
        created_at=utc_now(),
        created_by=BOOTSTRAP_BY,
    )


async def ensure_tenants(
    endpoints: Endpoints, tenant_ids: Iterable[str], limits: TenantLimits | None = None
) -> None:
    """Record each tenant (again: a later record of the same id replaces the earlier one)."""
    registry = ConfluentRegistry.of(endpoints)
    try:
        serde = AvroSerde(registry)
        await serde.register(TENANTS)
        producer = new_producer(
            endpoints.kafka_bootstrap, "reelstream-devstack-tenants", endpoints.kafka_security
        )
        await producer.start()
        try:
            publisher = Publisher(sender_of(producer), serde)
            for tenant_id in dict.fromkeys(tenant_ids):
                await publisher.publish(TENANTS, tenant_id, tenant_record(tenant_id, limits))
        finally:
            await producer.stop()
    finally:
        await registry.aclose()
