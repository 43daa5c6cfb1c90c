"""A compacted view whose state lives in the local store (`reelstream.local_store`), checkpointed.

What it applies goes to `self.batch` (read through by the subclass's index); after each fetched batch the
consume loop hands it the offsets consumed and both are written in one atomic write. At start it resumes from
that checkpoint, unless the checkpoint is older than `max_age` (a tombstone it missed may have been compacted
away since: keep `max_age` at most the topic's `delete.retention.ms`), in which case the namespace is
cleared and the topic replayed; a clean stop of a caught-up view refreshes the checkpoint's time. A replay
from the beginning writes in bulk (`LocalStore.bulk_load`: compactions wait until it has caught up).

Kept records are Avro bytes whose writer schema a later process may not have read yet: every schema id kept
is noted (`<ns>\x00schema/<id>`) and fetched at start, so they decode without the registry afterwards.
"""

from __future__ import annotations

import time
from typing import TypeVar

from reelstream.kafka.compacted_view import CompactedView
from reelstream.kafka.security import PLAINTEXT, KafkaSecurity
from reelstream.local_store import Batch, Namespace
from schemas.serde import AvroSerde
from schemas.topics import Topic

T = TypeVar("T")

CHECKPOINT_MAX_AGE_SECONDS = 24 * 3600.0  # Kafka's default delete.retention.ms, which the topics keep
_SCHEMA = b"\x00schema/"  # + the 4 bytes of a schema id (a Confluent-framed record's bytes 1-4)
_LAYOUT = b"\x00layout"  # the subclass's LAYOUT its data was written in (absent: 1)


class StoredView(CompactedView[T]):
    """Construct freely (no I/O: the store is opened by the lifespan before `start`). A subclass that
    changes how it lays its data out raises `LAYOUT`: data written in another layout (an older replica's
    disk or snapshot) is discarded and the topic replayed."""

    LAYOUT = 1

    def __init__(
        self,
        bootstrap: str,
        serde: AvroSerde,
        state: Namespace,
        *,
        topic: Topic[T],
        client_id: str,
        security: KafkaSecurity = PLAINTEXT,
        max_age: float = CHECKPOINT_MAX_AGE_SECONDS,
    ) -> None:
        super().__init__(bootstrap, serde, topic=topic, client_id=client_id, security=security)
        self._state, self._max_age, self._serde = state, max_age, serde
        self.batch: Batch = state.batch()
        self._schemas: set[bytes] = set()
        self._bulk = False  # replaying into an empty namespace (`LocalStore.bulk_load`)

    def _on_stored(self, key: str | None, value: T, raw: bytes) -> None:
        """A decoded value with its bytes (to keep in `self.batch`)."""
        raise NotImplementedError

    def _on_record(self, key: str | None, value: T, raw: bytes) -> None:
        self.note_schema(raw)
        self._on_stored(key, value, raw)

    def note_schema(self, raw: bytes) -> None:
        """`raw` (a Confluent-framed record) is kept: its writer schema is fetched at every start."""
        schema = raw[1:5]
        if schema not in self._schemas:
            self._schemas.add(schema)
            self.batch.put(_SCHEMA + schema, b"")

    def write_now(self) -> None:
        """Write what this replica applied itself (no offsets: its records are read back later)."""
        self.batch.commit()

    async def start(self) -> None:
        for key, _ in self._state.scan(_SCHEMA, _SCHEMA + b"\xff" * 5):
            await self._serde.know(int.from_bytes(key[len(_SCHEMA) :]))
        await super().start()

    async def stop(self) -> None:
        running = self.running
        await super().stop()
        if running and self.caught_up:  # the checkpoint is as fresh as this moment
            self._commit(dict(self._applied_to))
        self._end_bulk()

    def _resume(self) -> dict[int, int]:
        offsets, stamp = self._state.checkpoint()
        layout = int.from_bytes(self._state.get(_LAYOUT) or b"\x01")
        stale = stamp is None or time.time() - stamp / 1e6 > self._max_age
        if offsets and (stale or layout != self.LAYOUT):
            self._discard()
            return {}
        if not offsets:
            self._begin_bulk()
        return offsets

    def _on_caught_up(self) -> None:
        self._end_bulk()

    def _begin_bulk(self) -> None:
        """A replay from the beginning into an empty namespace: written in bulk until caught up."""
        if not self._bulk:
            self._bulk = True
            self._state.store.bulk_load(True)

    def _end_bulk(self) -> None:
        if self._bulk:
            self._bulk = False
            self._state.store.bulk_load(False)

    def _discard(self) -> None:
        self._state.clear()
        self.batch.changes.clear()
        self._schemas.clear()
        self._begin_bulk()

    def _commit(self, offsets: dict[int, int]) -> None:
        self.batch.put(_LAYOUT, self.LAYOUT.to_bytes(2))
        self.batch.commit(offsets, time.time_ns() // 1000)
