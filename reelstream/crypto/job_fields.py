"""A job's prompt, negative prompt and webhook URL, sealed under a data key of the job's own (issue #23's
crypto-shredding). The one place that seals and opens them: every service goes through `JobKeys`.

- A job key is 32 random bytes, sealed under the tenant's data key (`Keyring.seal`, context
  `job-key/<job_id>`) and published as `JobKeyIssued` on the compacted reelstream.keys.jobs, key
  `tenant_id/job_id`. Its tombstone (the job deleted) shreds it; shredding the tenant's data key shreds every
  job key sealed under it.
- `seal(record, key_id)` replaces `SEALED_FIELDS` of a `SubmitJob`, `JobAdmitted`, `DispatchRender` or
  `JobStatus` (so also a `JobEvent`'s status, and a retry tier's or dead letter's copy of either) with
  `rsenc1` envelopes bound to tenant, job and field, and sets `job_key_id`; `open(record)` is the inverse
  (`job_key_id` back to None: a record whose fields are in clear). A record with no `job_key_id` is
  plaintext (a Kafka client's SubmitJob, a record older than #23) and passes through both unchanged.
- Cost: one unwrap per job and process; opened keys are cached (bounded, least recently used first out).

Pure: no Kafka. `reelstream.crypto.job_keys_view` applies the topic and publishes new keys.
"""

from __future__ import annotations

import dataclasses
import secrets
from collections import OrderedDict
from typing import Protocol, TypeVar

from reelstream.crypto import envelope
from reelstream.crypto.keyring import Keyring
from reelstream.crypto.provider import KeyUnavailableError, new_key
from schemas.events import JobKeyIssued

SEALED_FIELDS = ("prompt", "negative_prompt", "webhook_url")
REMEMBERED_SHREDS = 100_000  # shredded jobs remembered per process, so nobody waits for their keys
CACHED_KEYS = 10_000  # opened job keys kept per process (32 bytes each, plus the dict's overhead)
SEPARATOR = "/"


class JobFields(Protocol):
    """A record that carries a job's sealed fields (the ones it has of SEALED_FIELDS)."""

    @property
    def job_id(self) -> str: ...

    @property
    def tenant_id(self) -> str: ...

    @property
    def prompt(self) -> str: ...

    @property
    def job_key_id(self) -> str | None: ...


R = TypeVar("R", bound=JobFields)


def record_key(tenant_id: str, job_id: str) -> str:
    """The key of a job's key on reelstream.keys.jobs."""
    return f"{tenant_id}{SEPARATOR}{job_id}"


def split_key(key: str) -> tuple[str, str] | None:
    tenant_id, sep, job_id = key.partition(SEPARATOR)
    return (tenant_id, job_id) if sep and tenant_id and job_id else None


def _context(job_id: str) -> str:
    return f"job-key{SEPARATOR}{job_id}"


def _aad(tenant_id: str, job_id: str, field: str) -> bytes:
    return f"job{SEPARATOR}{tenant_id}{SEPARATOR}{job_id}{SEPARATOR}{field}".encode()


Ids = tuple[str, str]  # (tenant id, job id)


class KeyRecords(Protocol):
    """Where the jobs' key records (sealed, as on the topic) are kept: memory (`MemoryKeyRecords`), or a
    local store (`reelstream.crypto.stored_job_keys`)."""

    def get(self, ids: Ids) -> JobKeyIssued | None: ...
    def put(self, record: JobKeyIssued) -> None: ...
    def remove(self, ids: Ids) -> bool: ...
    def holds(self, ids: Ids) -> bool: ...
    def __len__(self) -> int: ...


class MemoryKeyRecords:
    """The key records in a dict (~200 bytes a retained job)."""

    def __init__(self) -> None:
        self._records: dict[Ids, JobKeyIssued] = {}

    def get(self, ids: Ids) -> JobKeyIssued | None:
        return self._records.get(ids)

    def put(self, record: JobKeyIssued) -> None:
        self._records[(record.tenant_id, record.job_id)] = record

    def remove(self, ids: Ids) -> bool:
        return self._records.pop(ids, None) is not None

    def holds(self, ids: Ids) -> bool:
        return ids in self._records

    def __len__(self) -> int:
        return len(self._records)


class JobKeys:
    """The jobs' keys this process has read (sealed, as on the topic: `records`, in memory unless given)
    and those it opened (memory only, bounded)."""

    def __init__(
        self, keyring: Keyring, cached: int = CACHED_KEYS, records: KeyRecords | None = None
    ) -> None:
        self.keyring = keyring
        self._records: KeyRecords = records if records is not None else MemoryKeyRecords()
        self._opened: OrderedDict[tuple[str, str], tuple[str, bytes]] = OrderedDict()
        self._cached = cached
        # jobs whose key's tombstone was read (newest last, bounded): a reader fails at once, not after
        # waiting for a key that will never come (a deleted job's events still in a retry tier)
        self._shredded: OrderedDict[tuple[str, str], None] = OrderedDict()

    # ---- applying the topic -----------------------------------------------------------------------------

    def put(self, record: JobKeyIssued) -> None:
        ids = (record.tenant_id, record.job_id)
        held = self._records.get(ids)
        if held is not None and held.key_id != record.key_id:
            self._opened.pop(ids, None)
        self._records.put(record)

    def shred(self, tenant_id: str, job_id: str) -> bool:
        """Forget a job's key (its tombstone was read): nothing sealed with it opens here again."""
        self._opened.pop((tenant_id, job_id), None)
        self._shredded[(tenant_id, job_id)] = None
        if len(self._shredded) > REMEMBERED_SHREDS:
            self._shredded.popitem(last=False)
        return self._records.remove((tenant_id, job_id))

    def shredded(self, tenant_id: str, job_id: str) -> bool:
        """Whether the job's key was shredded here: it will never be held again."""
        return (tenant_id, job_id) in self._shredded

    def forget_tenant(self, tenant_id: str) -> None:
        """Drop every opened key of the tenant (its data keys were shredded: none may be used again)."""
        for ids in [ids for ids in self._opened if ids[0] == tenant_id]:
            del self._opened[ids]

    def has(self, tenant_id: str, job_id: str) -> bool:
        return self._records.holds((tenant_id, job_id))

    def key_id_of(self, tenant_id: str, job_id: str) -> str | None:
        record = self._records.get((tenant_id, job_id))
        return None if record is None else record.key_id

    def sealed_under(self, tenant_id: str, job_id: str) -> str | None:
        """The id of the tenant data key the job's key is sealed under; None if the job's key is not held."""
        record = self._records.get((tenant_id, job_id))
        return None if record is None else envelope.key_id_of(record.sealed_key)

    def __len__(self) -> int:
        return len(self._records)

    # ---- keys -------------------------------------------------------------------------------------------

    def issue(self, tenant_id: str, job_id: str) -> JobKeyIssued:
        """A new key for the job, sealed under the tenant's current data key (KeyUnavailableError if the
        tenant has none: `KeyIssuer.ensure` first). Not held until `put`, after the broker acknowledged it."""
        key_id = "jk_" + secrets.token_hex(8)
        sealed = self.keyring.seal(tenant_id, _context(job_id), new_key())
        return JobKeyIssued(tenant_id=tenant_id, job_id=job_id, key_id=key_id, sealed_key=sealed)

    def _key(self, tenant_id: str, job_id: str, key_id: str) -> bytes:
        ids = (tenant_id, job_id)
        record = self._records.get(ids)
        if record is None or record.key_id != key_id:
            raise KeyUnavailableError(
                f"the key {key_id} of job {job_id} is not available (unknown or shredded)"
            )
        if not self.keyring.holds(tenant_id, envelope.key_id_of(record.sealed_key)):
            self._opened.pop(ids, None)  # the tenant's data key was shredded: so is every job key under it
            raise KeyUnavailableError(f"the tenant key of job {job_id} is not available (shredded)")
        cached = self._opened.get(ids)
        if cached is not None and cached[0] == key_id:
            self._opened.move_to_end(ids)
            return cached[1]
        key = self.keyring.open(tenant_id, _context(job_id), record.sealed_key)
        self._opened[ids] = (key_id, key)
        if len(self._opened) > self._cached:
            self._opened.popitem(last=False)
        return key

    # ---- the fields -------------------------------------------------------------------------------------

    def seal(self, record: R, key_id: str) -> R:
        """`record` with its prompt, negative prompt and webhook URL sealed under the job's key `key_id`
        (which `put` must hold); a record already sealed is returned as it is."""
        if record.job_key_id is not None:
            return record
        key = self._key(record.tenant_id, record.job_id, key_id)
        changes: dict[str, object] = {"job_key_id": key_id}
        for field in _fields_of(record):
            value = getattr(record, field)
            if value is not None:
                aad = _aad(record.tenant_id, record.job_id, field)
                changes[field] = envelope.seal(key, key_id, value.encode(), aad)
        return dataclasses.replace(record, **changes)  # type: ignore[type-var]

    def open(self, record: R) -> R:
        """`record` with its fields in clear. KeyUnavailableError: the job's key is unknown here or was
        shredded (the job or its tenant deleted); DecryptionError: a field was forged or moved."""
        key_id = record.job_key_id
        if key_id is None:
            return record
        key = self._key(record.tenant_id, record.job_id, key_id)
        changes: dict[str, object] = {"job_key_id": None}
        for field in _fields_of(record):
            value = getattr(record, field)
            if value is not None:
                aad = _aad(record.tenant_id, record.job_id, field)
                changes[field] = envelope.open_sealed(key, value, aad).decode()
        return dataclasses.replace(record, **changes)  # type: ignore[type-var]


def _fields_of(record: object) -> list[str]:
    return [f for f in SEALED_FIELDS if hasattr(record, f)]
