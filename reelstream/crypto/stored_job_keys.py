"""The jobs' key records in the local store (`reelstream.kafka.stored_view`: checkpointed, so a restart
reads only what was written since, and nothing per job stays in memory): `k<tenant/job>` → the record's
bytes as they came from Kafka (sealed: opening still needs the tenant's data key), decoded when read.

Ingest keeps them so (`REELSTREAM_STATE_DIR`); the other readers (admission, the workers, the notifier) have
no state directory and keep them in memory (`reelstream.crypto.job_fields.MemoryKeyRecords`).
"""

from __future__ import annotations

from reelstream.crypto.job_fields import Ids, JobKeys, record_key
from reelstream.crypto.job_keys_follow import FollowsJobKeys
from reelstream.crypto.keyring import Keyring
from reelstream.kafka.security import PLAINTEXT, KafkaSecurity
from reelstream.kafka.stored_view import CHECKPOINT_MAX_AGE_SECONDS, StoredView
from reelstream.local_store import Namespace
from schemas.events import JobKeyIssued
from schemas.serde import AvroSerde
from schemas.topics import JOB_KEYS

RECORD = b"k"


class StoredKeyRecords:
    """`KeyRecords` over a stored view's batch (read through: what it applied is seen before the commit).
    A record put by this process (a key it issued) is serialized here and written at once."""

    def __init__(self, view: StoredJobKeysView, serde: AvroSerde) -> None:
        self._view, self._serde = view, serde

    def get(self, ids: Ids) -> JobKeyIssued | None:
        raw = self._view.batch.get(RECORD + record_key(*ids).encode())
        return None if raw is None else self._serde.decode_seen(JOB_KEYS, raw)

    def put(self, record: JobKeyIssued) -> None:
        """A record read from the topic (its bytes kept as read), or issued here: serialized, written now."""
        raw = self._view.read_now
        if raw is not None:
            self.keep(record, raw)
            return
        raw = self._serde.serialize(JOB_KEYS, record)
        self.keep(record, raw)
        self._view.note_schema(raw)
        self._view.write_now()

    def keep(self, record: JobKeyIssued, raw: bytes) -> None:
        self._view.batch.put(RECORD + record_key(record.tenant_id, record.job_id).encode(), raw)

    def remove(self, ids: Ids) -> bool:
        key = RECORD + record_key(*ids).encode()
        held = self._view.batch.get(key) is not None
        self._view.batch.delete(key)
        if not self._view.reading_tombstone:
            self._view.write_now()  # a shred applied later (the notifier's delay) or by this process
        return held

    def holds(self, ids: Ids) -> bool:
        return self._view.batch.get(RECORD + record_key(*ids).encode()) is not None

    def __len__(self) -> int:
        return 0  # not counted (a count would be one more key written with every record)


class StoredJobKeysView(FollowsJobKeys, StoredView[JobKeyIssued]):
    """Construct freely (no I/O: the store is opened by the lifespan before `start`)."""

    def __init__(
        self,
        bootstrap: str,
        serde: AvroSerde,
        state: Namespace,
        keyring: Keyring,
        client_id: str,
        security: KafkaSecurity = PLAINTEXT,
        *,
        shred_delay: float = 0.0,
        max_age: float = CHECKPOINT_MAX_AGE_SECONDS,
    ) -> None:
        super().__init__(
            bootstrap,
            serde,
            state,
            topic=JOB_KEYS,
            client_id=f"{client_id}-job-keys",
            security=security,
            max_age=max_age,
        )
        self.records = StoredKeyRecords(self, serde)
        # what the consume loop is applying now (it commits them with their offsets): a record's bytes, or
        # a tombstone; anything else (a key issued here, a delayed shred) is written at once
        self.read_now: bytes | None = None
        self.reading_tombstone = False
        self._follow(JobKeys(keyring, records=self.records), shred_delay)

    def _on_stored(self, key: str | None, value: JobKeyIssued, raw: bytes) -> None:
        self.read_now = raw
        try:
            self.job_keys.put(value)
        finally:
            self.read_now = None
        self._wake()

    def _on_tombstone(self, key: str) -> bool:
        self.reading_tombstone = True
        try:
            return super()._on_tombstone(key)
        finally:
            self.reading_tombstone = False
