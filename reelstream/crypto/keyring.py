"""Per-tenant data keys, wrapped by the `KeyProvider`'s key-encryption key, as the compacted topic
reelstream.keys.tenants holds them (`TenantKeyIssued`, key `tenant_id/key_id`). Pure: no Kafka.

- `issue(tenant)` makes a new data key (the caller publishes the record, waits for the broker, then `put`s
  it); a tenant may hold several (two replicas racing, or a deliberate roll): the newest seals, any opens.
- `seal(tenant, context, plaintext)` / `open(tenant, context, sealed)`: AES-GCM under the tenant's data key,
  `context` (e.g. `webhook-secret/whsk_…`) bound into the associated data together with the tenant.
- Rotation of the key-encryption key without downtime: add the new KEK, make it current, roll the services
  (old and new KEKs both readable), then `stale()` gives every record re-wrapped under the current KEK, same
  key id and same data key, so nothing sealed before has to change; publish them, then remove the old KEK.
- Crypto-shredding: a tombstone of `tenant/key_id` (`shred`) makes everything sealed with it unreadable.
  A per-job data key (prompts, issue #23) is itself sealed under the tenant key with context `job-key/<id>`:
  `seal(tenant, "job-key/<id>", new_key())`, so shredding either the job key or the tenant key shreds it.
"""

from __future__ import annotations

import dataclasses
import secrets
from datetime import datetime

from reelstream.crypto import envelope
from reelstream.crypto.provider import DecryptionError, KeyProvider, KeyUnavailableError, Wrapped, new_key
from schemas.events import TenantKeyIssued, utc_now

KEY_SEPARATOR = "/"


def record_key(tenant_id: str, key_id: str) -> str:
    return f"{tenant_id}{KEY_SEPARATOR}{key_id}"


def _wrap_aad(tenant_id: str, key_id: str) -> bytes:
    return f"tenant-key{KEY_SEPARATOR}{tenant_id}{KEY_SEPARATOR}{key_id}".encode()


def _seal_aad(tenant_id: str, context: str) -> bytes:
    return f"{tenant_id}{KEY_SEPARATOR}{context}".encode()


class Keyring:
    """The tenants' wrapped data keys, and the unwrapped ones this process has used (memory only)."""

    def __init__(self, provider: KeyProvider) -> None:
        self.provider = provider
        self._records: dict[str, dict[str, TenantKeyIssued]] = {}
        self._unwrapped: dict[tuple[str, str], bytes] = {}
        self._shredded: set[tuple[str, str]] = set()  # tenant keys' tombstones read (few: per tenant)

    # ---- applying the topic --------------------------------------------------------------------------

    def put(self, record: TenantKeyIssued) -> None:
        self._records.setdefault(record.tenant_id, {})[record.key_id] = record

    def shred(self, tenant_id: str, key_id: str) -> bool:
        self._unwrapped.pop((tenant_id, key_id), None)
        self._shredded.add((tenant_id, key_id))
        return self._records.get(tenant_id, {}).pop(key_id, None) is not None

    def __len__(self) -> int:
        return sum(map(len, self._records.values()))

    def holds(self, tenant_id: str, key_id: str) -> bool:
        return key_id in self._records.get(tenant_id, {})

    def shredded(self, tenant_id: str, key_id: str) -> bool:
        """Whether the key's tombstone was read: it will never be held again (no reader waits for it)."""
        return (tenant_id, key_id) in self._shredded

    def key_ids(self, tenant_id: str) -> list[str]:
        """The ids of every data key of the tenant this process holds."""
        return sorted(self._records.get(tenant_id, {}))

    # ---- keys ------------------------------------------------------------------------------------------

    def current(self, tenant_id: str) -> TenantKeyIssued | None:
        """The tenant's newest data key that this process can unwrap (the one that seals), None if none:
        a key wrapped by a key-encryption key no longer held is passed over, never used to seal."""
        held = sorted(self._records.get(tenant_id, {}).values(), key=lambda r: (r.created_at, r.key_id))
        for record in reversed(held):
            try:
                self._data_key(tenant_id, record.key_id)
            except (KeyUnavailableError, DecryptionError):
                continue
            return record
        return None

    def issue(self, tenant_id: str, now: datetime | None = None) -> TenantKeyIssued:
        """A new data key for the tenant, wrapped; not held until `put` (after the broker acknowledged)."""
        key_id = "dk_" + secrets.token_hex(8)
        wrapped = self.provider.wrap(new_key(), _wrap_aad(tenant_id, key_id))
        created = now or utc_now()
        return TenantKeyIssued(
            tenant_id, key_id, wrapped.kek_id, wrapped.blob, created_at=created, occurred_at=created
        )

    def stale(self) -> list[TenantKeyIssued]:
        """Every record not wrapped by the current KEK, re-wrapped by it (same key id, same data key);
        records whose KEK this process does not hold are left as they are."""
        current = self.provider.current_kek_id
        out = []
        for held in self._records.values():
            for record in held.values():
                if record.kek_id != current:
                    aad = _wrap_aad(record.tenant_id, record.key_id)
                    try:
                        data_key = self._data_key(record.tenant_id, record.key_id)
                    except (KeyUnavailableError, DecryptionError):
                        continue  # its KEK is gone: nothing sealed with it can be opened anyway
                    wrapped = self.provider.wrap(data_key, aad)
                    out.append(
                        dataclasses.replace(
                            record,
                            kek_id=wrapped.kek_id,
                            wrapped_key=wrapped.blob,
                            event_id=secrets.token_hex(16),
                            occurred_at=utc_now(),
                        )
                    )
        return out

    def _data_key(self, tenant_id: str, key_id: str) -> bytes:
        cached = self._unwrapped.get((tenant_id, key_id))
        if cached is not None:
            return cached
        record = self._records.get(tenant_id, {}).get(key_id)
        if record is None:
            raise KeyUnavailableError(f"data key {key_id} of tenant {tenant_id} is not available")
        key = self.provider.unwrap(Wrapped(record.kek_id, record.wrapped_key), _wrap_aad(tenant_id, key_id))
        self._unwrapped[(tenant_id, key_id)] = key
        return key

    # ---- sealing -----------------------------------------------------------------------------------------

    def seal(self, tenant_id: str, context: str, plaintext: bytes) -> str:
        """`plaintext` sealed under the tenant's current data key; KeyUnavailableError if it has none."""
        record = self.current(tenant_id)
        if record is None:
            raise KeyUnavailableError(f"tenant {tenant_id} has no data key yet")
        key = self._data_key(tenant_id, record.key_id)
        return envelope.seal(key, record.key_id, plaintext, _seal_aad(tenant_id, context))

    def open(self, tenant_id: str, context: str, sealed: str) -> bytes:
        """KeyUnavailableError: its data key is unknown (not yet seen, or shredded); DecryptionError: forged,
        or sealed for another tenant or context."""
        key = self._data_key(tenant_id, envelope.key_id_of(sealed))
        return envelope.open_sealed(key, sealed, _seal_aad(tenant_id, context))
