"""The materialized view of `reelstream.auth.keys`: every API key's latest record, fed into a `KeyTable` (same
consume loop as the other views, `reelstream.kafka.compacted_view`). Every ingest replica reads all of it, so
a key created or revoked through one replica takes effect on every other one within a fetch."""

from __future__ import annotations

from ingest.api_keys import KeyTable
from reelstream.kafka.compacted_view import CompactedView
from reelstream.kafka.security import PLAINTEXT, KafkaSecurity
from schemas.events import ApiKeyRecord
from schemas.serde import AvroSerde
from schemas.topics import API_KEYS, Topic


class KeyStoreView(CompactedView[ApiKeyRecord]):
    def __init__(
        self,
        bootstrap: str,
        serde: AvroSerde,
        table: KeyTable,
        *,
        topic: Topic[ApiKeyRecord] = API_KEYS,
        client_id: str = "reelstream-ingest-keys",
        security: KafkaSecurity = PLAINTEXT,
    ) -> None:
        super().__init__(bootstrap, serde, topic=topic, client_id=client_id, security=security)
        self.table = table

    def _on_value(self, key: str | None, value: ApiKeyRecord) -> None:
        self.table.apply(value)

    def _on_tombstone(self, key: str) -> bool:
        return self.table.remove(key)

    def _size(self) -> int:
        return len(self.table)
