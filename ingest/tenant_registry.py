"""The tenant registry: every tenant the platform operator created, materialized from the compacted
`reelstream.tenants.registry` topic into a `TenantTable` (the same consume loop as the other views). The
authenticator (JWT tenant claims) and the admin routes (keys, limits, webhooks of a tenant) read the table;
a tenant absent from it does not exist."""

from __future__ import annotations

import re

from ingest.retention import Retention, RetentionOf
from reelstream.kafka.compacted_view import CompactedView
from reelstream.kafka.security import PLAINTEXT, KafkaSecurity
from schemas.events import TenantRecord
from schemas.serde import AvroSerde
from schemas.topics import TENANTS, Topic

TENANT_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")
TENANT_RULE = "must be 1 to 128 characters of A-Z, a-z, 0-9, ., _ and - (starting with a letter or digit)"
ACTIVE, SUSPENDED, DELETED = "active", "suspended", "deleted"
STATUSES = (ACTIVE, SUSPENDED, DELETED)  # a deleted tenant's record stays: its id is never given again


def valid_tenant_id(tenant_id: str) -> bool:
    return TENANT_PATTERN.fullmatch(tenant_id) is not None


class TenantTable:
    """The tenants by id, fed by the registry's view and by this replica's own admin calls."""

    def __init__(self) -> None:
        self._records: dict[str, TenantRecord] = {}

    def apply(self, record: TenantRecord) -> TenantRecord:
        self._records[record.tenant_id] = record
        return record

    def remove(self, tenant_id: str) -> bool:
        return self._records.pop(tenant_id, None) is not None

    def get(self, tenant_id: str) -> TenantRecord | None:
        return self._records.get(tenant_id)

    def exists(self, tenant_id: str) -> bool:
        """Whether the id was ever given (a deleted tenant's too: ids are not reused)."""
        return tenant_id in self._records

    def live(self, tenant_id: str) -> TenantRecord | None:
        """The tenant's record unless it was deleted."""
        record = self._records.get(tenant_id)
        return record if record is not None and record.status != DELETED else None

    def retention_lookup(self, default: Retention) -> RetentionOf:
        """A tenant's retention: `default` with the operator's overrides on its record (read at each call,
        so a changed override applies at once)."""

        def of(tenant_id: str) -> Retention:
            record = self._records.get(tenant_id)
            if record is None:
                return default
            return default.overridden(record.retention_days, record.video_retention_days)

        return of

    def records(self) -> list[TenantRecord]:
        return sorted(self._records.values(), key=lambda r: r.tenant_id)

    def __len__(self) -> int:
        return len(self._records)


class TenantRegistryView(CompactedView[TenantRecord]):
    def __init__(
        self,
        bootstrap: str,
        serde: AvroSerde,
        table: TenantTable,
        *,
        topic: Topic[TenantRecord] = TENANTS,
        client_id: str = "reelstream-ingest-tenants",
        security: KafkaSecurity = PLAINTEXT,
    ) -> None:
        super().__init__(bootstrap, serde, topic=topic, client_id=client_id, security=security)
        self.table = table

    def _on_value(self, key: str | None, value: TenantRecord) -> None:
        self.table.apply(value)

    def _on_tombstone(self, key: str) -> bool:
        return self.table.remove(key)

    def _size(self) -> int:
        return len(self.table)
