"""A compacted view whose state lives in the local store (`reelstream.local_store`), checkpointed.

What it applies goes to `self.batch` (read through by the subclass's index); after each fetched batch the
consume loop hands it the offsets consumed and both are written in one atomic write. At start it resumes from
that checkpoint, unless the checkpoint is older than `max_age` (a tombstone it missed may have been compacted
away since: keep `max_age` at most the topic's `delete.retention.ms`), in which case the namespace is
cleared and the topic replayed; a clean stop of a caught-up view refreshes the checkpoint's time.
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


class StoredView(CompactedView[T]):
    """Construct freely (no I/O: the store is opened by the lifespan before `start`)."""

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
        self._state, self._max_age = state, max_age
        self.batch: Batch = state.batch()

    async def stop(self) -> None:
        running = self.running
        await super().stop()
        if running and self.caught_up:  # the checkpoint is as fresh as this moment
            self._commit(dict(self._applied_to))

    def _resume(self) -> dict[int, int]:
        offsets, stamp = self._state.checkpoint()
        if offsets and (stamp is None or time.time() - stamp / 1e6 > self._max_age):
            self._discard()
            return {}
        return offsets

    def _discard(self) -> None:
        self._state.clear()
        self.batch.changes.clear()

    def _commit(self, offsets: dict[int, int]) -> None:
        self.batch.commit(offsets, time.time_ns() // 1000)
