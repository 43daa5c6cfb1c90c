"""The jobs' keys as the services that need a job's prompt or webhook URL in clear read them: a view of
reelstream.keys.jobs into `JobKeys` (the one consume loop of `reelstream.kafka.compacted_view`), the writes
made to it (a new job's key; a deleted job's tombstone), and `shred_tenant` for the tenant deletion route."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

from reelstream.crypto.job_fields import JobKeys, record_key, split_key
from reelstream.crypto.keyring import record_key as tenant_key_record_key
from reelstream.crypto.keys_view import KeyIssuer
from reelstream.kafka.clients import Publisher
from reelstream.kafka.compacted_view import CompactedView
from reelstream.kafka.security import PLAINTEXT, KafkaSecurity
from schemas.events import JobKeyIssued
from schemas.serde import AvroSerde
from schemas.topics import JOB_KEYS

logger = logging.getLogger(__name__)

Tombstone = Callable[[str], Awaitable[None]]
KEY_WAIT_SECONDS = 30.0  # how long a reader waits for a job key written just before the job's record


class JobKeysView(CompactedView[JobKeyIssued]):
    def __init__(
        self,
        bootstrap: str,
        serde: AvroSerde,
        job_keys: JobKeys,
        client_id: str,
        security: KafkaSecurity = PLAINTEXT,
    ) -> None:
        super().__init__(bootstrap, serde, topic=JOB_KEYS, client_id=f"{client_id}-job-keys", security=security)
        self.job_keys = job_keys
        self._arrived = asyncio.Event()  # set (and replaced) whenever a key arrives

    def _on_value(self, key: str | None, value: JobKeyIssued) -> None:
        self.job_keys.put(value)
        self._arrived.set()
        self._arrived = asyncio.Event()

    def _on_tombstone(self, key: str) -> bool:
        ids = split_key(key)
        return ids is not None and self.job_keys.shred(*ids)

    def _size(self) -> int:
        return len(self.job_keys)

    async def wait_for(self, tenant_id: str, job_id: str, timeout: float = KEY_WAIT_SECONDS) -> bool:
        """Whether the job's key is held, waiting up to `timeout` for it (the writer acknowledged the key
        before the record that needs it, but this view may not have read it yet)."""
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout):
                while not self.job_keys.has(tenant_id, job_id):
                    await self._arrived.wait()
        return self.job_keys.has(tenant_id, job_id)


class JobKeyWriter:
    """Writes to reelstream.keys.jobs: a job's key before anything sealed with it (acknowledged by the broker,
    then held), and a deleted job's tombstone."""

    def __init__(self, job_keys: JobKeys, issuer: KeyIssuer, publisher: Publisher, tombstone: Tombstone) -> None:
        self.job_keys = job_keys
        self._issuer = issuer
        self._publisher = publisher
        self._tombstone = tombstone

    async def issue(self, tenant_id: str, job_id: str) -> str:
        """A new key for the job, published and held; its id."""
        await self._issuer.ensure(tenant_id)
        record = self.job_keys.issue(tenant_id, job_id)
        await self._publisher.publish(JOB_KEYS, record_key(tenant_id, job_id), record)
        self.job_keys.put(record)
        return record.key_id

    async def shred(self, tenant_id: str, job_id: str) -> None:
        """Destroy the job's key: its prompt, negative prompt and webhook URL in every topic stay sealed for
        good (every reader drops the key when it reads the tombstone)."""
        await self._tombstone(record_key(tenant_id, job_id))
        self.job_keys.shred(tenant_id, job_id)


async def shred_tenant(job_keys: JobKeys, tombstone_tenant_key: Tombstone, tenant_id: str) -> int:
    """Crypto-shred a deleted tenant: tombstone every data key of the tenant on reelstream.keys.tenants
    (`tombstone_tenant_key`: a tombstone sender of that topic), so every job key sealed under them, and so
    every prompt, negative prompt, webhook URL and webhook secret of the tenant, can no longer be opened by
    anyone. The tenant deletion route calls it after the tenant's record is gone; how many keys it shredded.
    Idempotent: a second call shreds nothing more."""
    keyring = job_keys.keyring
    key_ids = keyring.key_ids(tenant_id)
    for key_id in key_ids:
        await tombstone_tenant_key(tenant_key_record_key(tenant_id, key_id))
        keyring.shred(tenant_id, key_id)
    job_keys.forget_tenant(tenant_id)
    logger.info("tenant %s shredded: %d data keys", tenant_id, len(key_ids), extra={"tenant_id": tenant_id})
    return len(key_ids)
