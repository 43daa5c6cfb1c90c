"""The materialized view of `reelstream.usage.events`: one usage record per attempt id (a record published
again for the same attempt replaces the first), indexed by tenant. Same consume loop as the other views
(`reelstream.kafka.compacted_view`)."""

from __future__ import annotations

from collections.abc import Iterator

from reelstream.errors import InvalidRecordError
from reelstream.kafka.compacted_view import CompactedView
from reelstream.kafka.security import PLAINTEXT, KafkaSecurity
from schemas.events import GpuUsageRecorded
from schemas.serde import AvroSerde
from schemas.topics import USAGE_EVENTS, Topic


class UsageView(CompactedView[GpuUsageRecorded]):
    def __init__(
        self,
        bootstrap: str,
        serde: AvroSerde,
        *,
        topic: Topic[GpuUsageRecorded] = USAGE_EVENTS,
        client_id: str = "reelstream-ingest-usage",
        security: KafkaSecurity = PLAINTEXT,
    ) -> None:
        super().__init__(bootstrap, serde, topic=topic, client_id=client_id, security=security)
        self._by_tenant: dict[str, dict[str, GpuUsageRecorded]] = {}
        self._tenant_of: dict[str, str] = {}  # attempt id → tenant

    def _on_value(self, key: str | None, value: GpuUsageRecorded) -> None:
        self._drop(value.attempt_id)
        self._by_tenant.setdefault(value.tenant_id, {})[value.attempt_id] = value
        self._tenant_of[value.attempt_id] = value.tenant_id

    def _check(self, key: str | None, value: GpuUsageRecorded) -> None:
        if key != value.attempt_id:
            raise InvalidRecordError(f"usage record keyed {key!r} is for attempt {value.attempt_id!r}")

    def _on_tombstone(self, key: str) -> bool:
        return self._drop(key)

    def _drop(self, attempt_id: str) -> bool:
        tenant = self._tenant_of.pop(attempt_id, None)
        if tenant is None:
            return False
        records = self._by_tenant[tenant]
        records.pop(attempt_id, None)
        if not records:
            del self._by_tenant[tenant]
        return True

    def _size(self) -> int:
        return len(self._tenant_of)

    def of_tenant(self, tenant_id: str) -> Iterator[GpuUsageRecorded]:
        return iter(list(self._by_tenant.get(tenant_id, {}).values()))

    def every(self) -> Iterator[GpuUsageRecorded]:
        return iter([r for records in list(self._by_tenant.values()) for r in records.values()])
