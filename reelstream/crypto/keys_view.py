"""The tenants' data keys as every service that seals or opens reads them: a view of reelstream.keys.tenants
into a `Keyring` (the one consume loop of `reelstream.kafka.compacted_view`), and the two writes ingest makes
to that topic: a tenant's first data key, and the records re-wrapped after a key-encryption key rotation."""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict

from reelstream.crypto.keyring import Keyring, record_key
from reelstream.kafka.clients import Publisher
from reelstream.kafka.compacted_view import CompactedView
from reelstream.kafka.security import PLAINTEXT, KafkaSecurity
from schemas.events import TenantKeyIssued
from schemas.serde import AvroSerde
from schemas.topics import TENANT_KEYS

logger = logging.getLogger(__name__)


class TenantKeysView(CompactedView[TenantKeyIssued]):
    def __init__(
        self,
        bootstrap: str,
        serde: AvroSerde,
        keyring: Keyring,
        client_id: str,
        security: KafkaSecurity = PLAINTEXT,
    ) -> None:
        super().__init__(
            bootstrap, serde, topic=TENANT_KEYS, client_id=f"{client_id}-keys", security=security
        )
        self.keyring = keyring

    def _on_value(self, key: str | None, value: TenantKeyIssued) -> None:
        self.keyring.put(value)

    def _on_tombstone(self, key: str) -> bool:
        tenant_id, sep, key_id = key.rpartition("/")
        return bool(sep) and self.keyring.shred(tenant_id, key_id)

    def _size(self) -> int:
        return len(self.keyring)


class KeyIssuer:
    """Gives a tenant its first data key on demand (ingest, before it seals anything for the tenant): the
    record is acknowledged by the broker before the key seals anything, one issue per tenant at a time."""

    def __init__(self, keyring: Keyring, publisher: Publisher) -> None:
        self.keyring = keyring
        self._publisher = publisher
        self._locks: defaultdict[str, asyncio.Lock] = defaultdict(asyncio.Lock)

    async def ensure(self, tenant_id: str) -> None:
        async with self._locks[tenant_id]:
            if self.keyring.current(tenant_id) is not None:
                return
            record = self.keyring.issue(tenant_id)
            await self._publisher.publish(TENANT_KEYS, record_key(tenant_id, record.key_id), record)
            self.keyring.put(record)
            logger.info("data key %s issued", record.key_id, extra={"tenant_id": tenant_id})

    async def rewrap_stale(self) -> int:
        """Re-wrap every data key not under the current key-encryption key (after a rotation); how many."""
        stale = self.keyring.stale()
        for record in stale:
            await self._publisher.publish(TENANT_KEYS, record_key(record.tenant_id, record.key_id), record)
            self.keyring.put(record)
        if stale:
            logger.info("%d data keys re-wrapped under %s", len(stale), self.keyring.provider.current_kek_id)
        return len(stale)
