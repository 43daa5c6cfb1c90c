"""The materialized view of `reelstream.ingest.idempotency`: every replica answers a repeated key.

Same consume loop as the status view (`reelstream.kafka.compacted_view`). A pending claim is applied only when
read back (log order decides between replicas, `ingest.acceptance.claim`); completed records this replica
writes are applied at once too, so its own repeats never wait for the round trip through the broker.
"""

from __future__ import annotations

from datetime import datetime

from ingest.idempotency import IdempotencyIndex
from reelstream.kafka.compacted_view import CompactedView
from reelstream.kafka.security import PLAINTEXT, KafkaSecurity
from schemas.events import IdempotencyRecord
from schemas.serde import AvroSerde
from schemas.topics import IDEMPOTENCY, Topic


class IdempotencyView(CompactedView[IdempotencyRecord]):
    def __init__(
        self,
        bootstrap: str,
        serde: AvroSerde,
        *,
        topic: Topic[IdempotencyRecord] = IDEMPOTENCY,
        client_id: str = "reelstream-ingest-idempotency",
        security: KafkaSecurity = PLAINTEXT,
    ) -> None:
        super().__init__(bootstrap, serde, topic=topic, client_id=client_id, security=security)
        self._index = IdempotencyIndex()

    def _on_value(self, key: str | None, value: IdempotencyRecord) -> None:
        self._index.apply(value)

    def _on_tombstone(self, key: str) -> bool:
        return self._index.remove(key)

    def _size(self) -> int:
        return len(self._index)

    def apply(self, record: IdempotencyRecord) -> bool:
        return self._index.apply(record)

    def get(self, tenant_id: str, key: str, now: datetime) -> IdempotencyRecord | None:
        return self._index.get(tenant_id, key, now)

    def for_job(self, job_id: str, now: datetime) -> IdempotencyRecord | None:
        return self._index.for_job(job_id, now)

    def expired(self, now: datetime) -> list[str]:
        return self._index.expired(now)

    def forget(self, key: str) -> bool:
        return self._index.remove(key)
