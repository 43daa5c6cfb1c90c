"""The materialized view of `reelstream.auth.keys`: every API key's latest record, fed into a `KeyTable` (same
consume loop as the other views, `reelstream.kafka.compacted_view`). Every ingest replica reads all of it, so
a key created or revoked through one replica takes effect on every other one within a fetch.

Only records carrying a valid MAC (`reelstream.crypto.records`, made by ingest with the key-encryption key)
are applied: one written by anyone else (a forged key, a role escalation, a replayed edit) is skipped,
counted in `forged`, logged by key id only, and parked on the dead-letter topic with reason
`forged_record`."""

from __future__ import annotations

import logging

from ingest.api_keys import KeyTable
from reelstream.crypto.provider import KeyProvider
from reelstream.crypto.records import verified
from reelstream.errors import InvalidRecordError
from reelstream.kafka.compacted_view import CompactedView
from reelstream.kafka.security import PLAINTEXT, KafkaSecurity
from schemas.events import ApiKeyRecord
from schemas.serde import AvroSerde
from schemas.topics import API_KEYS, Topic

logger = logging.getLogger(__name__)


class ForgedRecordError(InvalidRecordError):
    code = "forged_record"


class KeyStoreView(CompactedView[ApiKeyRecord]):
    def __init__(
        self,
        bootstrap: str,
        serde: AvroSerde,
        table: KeyTable,
        provider: KeyProvider,
        *,
        topic: Topic[ApiKeyRecord] = API_KEYS,
        client_id: str = "reelstream-ingest-keys",
        security: KafkaSecurity = PLAINTEXT,
    ) -> None:
        super().__init__(bootstrap, serde, topic=topic, client_id=client_id, security=security)
        self.table = table
        self.provider = provider
        self.forged = 0

    def _check(self, key: str | None, value: ApiKeyRecord) -> None:
        if not verified(value, self.provider) or key != value.key_id:
            self.forged += 1
            logger.warning("API key record %s ignored: its MAC does not verify", value.key_id)
            raise ForgedRecordError(f"API key record {value.key_id} fails its MAC")

    def _on_value(self, key: str | None, value: ApiKeyRecord) -> None:
        self.table.apply(value)

    def _on_tombstone(self, key: str) -> bool:
        return self.table.remove(key)

    def _size(self) -> int:
        return len(self.table)
