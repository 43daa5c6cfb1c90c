"""The materialized view of `reelstream.ingest.idempotency`: every replica answers a repeated key.

Same consume loop as the status view, over the local store and checkpointed (`reelstream.kafka.stored_view`):
a restart resumes from its checkpoint. A pending claim is applied only when read back (log order decides
between replicas, `ingest.acceptance.claim`); completed records this replica writes are applied at once too,
so its own repeats never wait for the round trip through the broker.
"""

from __future__ import annotations

from datetime import datetime

from ingest.idempotency import IdempotencyIndex
from reelstream.kafka.security import PLAINTEXT, KafkaSecurity
from reelstream.kafka.stored_view import CHECKPOINT_MAX_AGE_SECONDS, StoredView
from reelstream.local_store import Namespace
from schemas.events import IdempotencyRecord
from schemas.serde import AvroSerde
from schemas.topics import IDEMPOTENCY, Topic


class IdempotencyView(StoredView[IdempotencyRecord]):
    def __init__(
        self,
        bootstrap: str,
        serde: AvroSerde,
        state: Namespace,
        *,
        topic: Topic[IdempotencyRecord] = IDEMPOTENCY,
        client_id: str = "reelstream-ingest-idempotency",
        security: KafkaSecurity = PLAINTEXT,
        max_age: float = CHECKPOINT_MAX_AGE_SECONDS,
    ) -> None:
        super().__init__(
            bootstrap, serde, state, topic=topic, client_id=client_id, security=security, max_age=max_age
        )
        self._index = IdempotencyIndex(
            state,
            lambda record: serde.serialize(topic, record),
            lambda raw: serde.decode_seen(topic, raw),
            self.batch,
        )

    def _on_stored(self, key: str | None, value: IdempotencyRecord, raw: bytes) -> None:
        self._index.apply(value, raw)

    def _on_tombstone(self, key: str) -> bool:
        return self._index.remove(key)

    def apply(self, record: IdempotencyRecord) -> bool:
        applied = self._index.apply(record)
        self.write_now()
        return applied

    def get(self, tenant_id: str, key: str, now: datetime) -> IdempotencyRecord | None:
        return self._index.get(tenant_id, key, now)

    def for_job(self, job_id: str, now: datetime) -> IdempotencyRecord | None:
        return self._index.for_job(job_id, now)

    def expired(self, now: datetime) -> list[str]:
        return self._index.expired(now)

    def forget(self, key: str) -> bool:
        forgotten = self._index.remove(key)
        self.write_now()
        return forgotten
