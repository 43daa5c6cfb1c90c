"""The jobs' keys as the services that need a job's prompt or webhook URL in clear read them: a view of
reelstream.keys.jobs into `JobKeys` (the one consume loop of `reelstream.kafka.compacted_view`), the writes
made to it (a new job's key; a deleted job's tombstone), and `shred_tenant` for the tenant deletion route."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from reelstream.crypto.job_fields import JobKeys, R, record_key
from reelstream.crypto.job_keys_follow import KEY_WAIT_SECONDS, FollowsJobKeys
from reelstream.crypto.keyring import Keyring
from reelstream.crypto.keyring import record_key as tenant_key_record_key
from reelstream.crypto.keys_view import KeyIssuer, TenantKeysView
from reelstream.crypto.provider import KeyProvider
from reelstream.crypto.stored_job_keys import StoredJobKeysView
from reelstream.kafka.clients import Publisher
from reelstream.kafka.compacted_view import CompactedView
from reelstream.kafka.security import PLAINTEXT, KafkaSecurity
from reelstream.kafka.stored_view import CHECKPOINT_MAX_AGE_SECONDS
from reelstream.local_store import Namespace
from schemas.events import JobKeyIssued
from schemas.serde import AvroSerde
from schemas.topics import JOB_KEYS, TENANT_KEYS

logger = logging.getLogger(__name__)

Tombstone = Callable[[str], Awaitable[None]]


class JobKeysView(FollowsJobKeys, CompactedView[JobKeyIssued]):
    """The records in memory (`job_keys`' own): a reader without a local store replays the topic at start."""

    def __init__(
        self,
        bootstrap: str,
        serde: AvroSerde,
        job_keys: JobKeys,
        client_id: str,
        security: KafkaSecurity = PLAINTEXT,
        *,
        shred_delay: float = 0.0,
    ) -> None:
        super().__init__(
            bootstrap, serde, topic=JOB_KEYS, client_id=f"{client_id}-job-keys", security=security
        )
        self._follow(job_keys, shred_delay)

    def _on_value(self, key: str | None, value: JobKeyIssued) -> None:
        self.job_keys.put(value)
        self._wake()


class JobKeyWriter:
    """Writes to reelstream.keys.jobs: a job's key before anything sealed with it (acknowledged by the broker,
    then held), and a deleted job's tombstone."""

    def __init__(
        self, job_keys: JobKeys, issuer: KeyIssuer, publisher: Publisher, tombstone: Tombstone | None = None
    ) -> None:
        self.job_keys = job_keys
        self._issuer = issuer
        self._publisher = publisher
        self._tombstone = tombstone

    async def issue(self, tenant_id: str, job_id: str) -> str:
        """A new key for the job, published and held; its id. A job that has a key here keeps it (a
        submission seen again must not orphan what was sealed under the first key)."""
        held = self.job_keys.key_id_of(tenant_id, job_id)
        if held is not None:
            return held
        await self._issuer.ensure(tenant_id)
        record = self.job_keys.issue(tenant_id, job_id)
        await self._publisher.publish(JOB_KEYS, record_key(tenant_id, job_id), record)
        self.job_keys.put(record)
        return record.key_id

    async def shred(self, tenant_id: str, job_id: str) -> None:
        """Destroy the job's key: its prompt, negative prompt and webhook URL in every topic stay sealed for
        good (every reader drops the key when it reads the tombstone)."""
        if self._tombstone is None:
            raise RuntimeError("this writer does not shred")
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


class FieldOpener:
    """Opens jobs' sealed fields in a service that needs them in clear (ingest, admission, the notifier,
    the workers): the jobs' keys' view over `keyring`, plus a view of the tenants' keys when the service
    does not follow them already (`tenant_view`). Constructed without I/O; `start()` / `stop()`."""

    def __init__(
        self,
        bootstrap: str,
        serde: AvroSerde,
        keyring: Keyring,
        client_id: str,
        security: KafkaSecurity = PLAINTEXT,
        *,
        tenant_view: bool = True,
        key_wait_seconds: float = KEY_WAIT_SECONDS,
        shred_delay: float = 0.0,
        state: Namespace | None = None,
        max_age: float = CHECKPOINT_MAX_AGE_SECONDS,
    ) -> None:
        """`state`: keep the key records in this local store namespace (checkpointed: a restart reads only
        the tail); None: in memory (a reader without a state directory replays the topic at each start)."""
        self.view: JobKeysView | StoredJobKeysView
        if state is None:
            self.job_keys = JobKeys(keyring)
            self.view = JobKeysView(
                bootstrap, serde, self.job_keys, client_id, security, shred_delay=shred_delay
            )
        else:
            self.view = StoredJobKeysView(
                bootstrap,
                serde,
                state,
                keyring,
                client_id,
                security,
                shred_delay=shred_delay,
                max_age=max_age,
            )
            self.job_keys = self.view.job_keys
        self.tenant_view = (
            TenantKeysView(bootstrap, serde, keyring, client_id, security) if tenant_view else None
        )
        self.key_wait_seconds = key_wait_seconds

    @property
    def views(self) -> list[CompactedView[Any]]:
        return [self.view] if self.tenant_view is None else [self.tenant_view, self.view]

    async def start(self) -> None:
        for view in self.views:
            await view.start()

    async def stop(self) -> None:
        for view in reversed(self.views):
            await view.stop()

    async def open(self, record: R) -> R:
        """`record` in clear, waiting up to `key_wait_seconds` for a job key (or its tenant key) written
        just before it. KeyUnavailableError: the key never came, or was shredded (the job deleted)."""
        if record.job_key_id is None:
            return record
        tenant_id, job_id = record.tenant_id, record.job_id
        await self.view.wait_for(tenant_id, job_id, self.key_wait_seconds)
        sealed_under = self.job_keys.sealed_under(tenant_id, job_id)
        if sealed_under is not None and self.tenant_view is not None:
            keyring = self.job_keys.keyring
            await _until(
                lambda: keyring.holds(tenant_id, sealed_under) or keyring.shredded(tenant_id, sealed_under),
                self.key_wait_seconds,
            )
        return self.job_keys.open(record)


async def _until(condition: Callable[[], bool], wait_seconds: float, step: float = 0.05) -> bool:
    """Whether `condition` held within `wait_seconds`, looked at every `step` seconds (a tenant's first key,
    written just before the job key sealed under it, that this process's view has not read yet)."""
    deadline = time.monotonic() + wait_seconds
    while not condition():
        if time.monotonic() >= deadline:
            return False
        await asyncio.sleep(step)
    return True


@contextlib.asynccontextmanager
async def following_job_keys(
    bootstrap: str,
    serde: AvroSerde,
    provider: KeyProvider,
    client_id: str,
    security: KafkaSecurity = PLAINTEXT,
    *,
    shred_delay: float = 0.0,
) -> AsyncIterator[FieldOpener]:
    """A `FieldOpener` with its own view of the tenants' keys, caught up as of entry, until exit."""
    await serde.register(TENANT_KEYS, JOB_KEYS)
    opener = FieldOpener(bootstrap, serde, Keyring(provider), client_id, security, shred_delay=shred_delay)
    await opener.start()
    try:
        for view in opener.views:
            await view.wait_caught_up()
        yield opener
    finally:
        await opener.stop()
