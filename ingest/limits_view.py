"""The materialized view of `reelstream.tenants.limits`: each tenant's limit state as admission last
published it (same consume loop as the status view, `reelstream.kafka.compacted_view`)."""

from __future__ import annotations

from reelstream.kafka.compacted_view import CompactedView
from reelstream.kafka.security import PLAINTEXT, KafkaSecurity
from schemas.events import TenantLimitState
from schemas.serde import AvroSerde
from schemas.topics import TENANT_LIMITS, Topic


class LimitsView(CompactedView[TenantLimitState]):
    def __init__(
        self,
        bootstrap: str,
        serde: AvroSerde,
        *,
        topic: Topic[TenantLimitState] = TENANT_LIMITS,
        client_id: str = "reelstream-ingest-limits",
        security: KafkaSecurity = PLAINTEXT,
    ) -> None:
        super().__init__(bootstrap, serde, topic=topic, client_id=client_id, security=security)
        self._states: dict[str, TenantLimitState] = {}

    def _on_value(self, key: str | None, value: TenantLimitState) -> None:
        known = self._states.get(value.tenant_id)
        if known is None or known.occurred_at <= value.occurred_at:
            self._states[value.tenant_id] = value

    def _on_tombstone(self, key: str) -> bool:
        return self._states.pop(key, None) is not None

    def _size(self) -> int:
        return len(self._states)

    def get(self, tenant_id: str) -> TenantLimitState | None:
        return self._states.get(tenant_id)

    def forget(self, tenant_id: str) -> None:
        """Drop a state judged by limits that were just replaced (admission publishes a new one)."""
        self._states.pop(tenant_id, None)
