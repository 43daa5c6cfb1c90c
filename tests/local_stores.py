"""Local stores for tests (`reelstream.local_store`): one temporary database per session, a fresh namespace
per use, and indexes that serialize what they are given, as the views hand them Kafka's records."""

from __future__ import annotations

import itertools
from collections.abc import Iterator

from ingest.idempotency import IdempotencyIndex
from ingest.job_index import JobFacts, JobIndex
from ingest.retention import Expiries, Retention
from reelstream.local_store import LocalStore, Namespace
from schemas.events import IdempotencyRecord, JobStatus
from schemas.serde import AvroSerde
from schemas.topics import IDEMPOTENCY, JOB_STATUS
from tests.kafka_clients import MemoryRegistry

_names = itertools.count()


def fresh_namespace(store: LocalStore) -> Namespace:
    return store.namespace(f"test{next(_names)}".encode())


def temporary_store() -> Iterator[LocalStore]:
    store = LocalStore(None, cache_bytes=8 * 2**20, write_buffer_bytes=2**20).open()
    try:
        yield store
    finally:
        store.close()


async def status_serde() -> AvroSerde:
    serde = AvroSerde(MemoryRegistry())
    await serde.register(JOB_STATUS, IDEMPOTENCY)
    return serde


class RecordIndex(JobIndex):
    """A JobIndex of JobStatus records (a local placeholder too), each change committed at once."""

    def __init__(self, store: Namespace, serde: AvroSerde, retention: Retention | None = None) -> None:
        decode = lambda raw: serde.decode_seen(JOB_STATUS, raw)  # noqa: E731
        expiries = Expiries(retention, store) if retention is not None else None
        super().__init__(store, decode, decode, expiries)
        self.serde = serde

    def apply(self, status: JobStatus, *, raw: bytes | None = None, local: bool = False) -> bool:
        changed = super().apply(
            JobFacts.of(status), raw=raw or self.serde.serialize(JOB_STATUS, status), local=local
        )
        self.batch.commit()
        return changed

    def remove(self, job_id: str) -> bool:
        removed = super().remove(job_id)
        self.batch.commit()
        return removed


class CommittingIdempotencyIndex(IdempotencyIndex):
    """An IdempotencyIndex whose every change is committed at once (a view commits per fetched batch)."""

    def __init__(self, store: Namespace, serde: AvroSerde) -> None:
        super().__init__(
            store,
            lambda record: serde.serialize(IDEMPOTENCY, record),
            lambda raw: serde.decode_seen(IDEMPOTENCY, raw),
        )

    def apply(self, record: IdempotencyRecord, raw: bytes | None = None) -> bool:
        applied = super().apply(record, raw)
        self.batch.commit()
        return applied

    def remove(self, key: str) -> bool:
        removed = super().remove(key)
        self.batch.commit()
        return removed
