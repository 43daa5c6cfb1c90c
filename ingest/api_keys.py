"""API keys of the key store: their format, minting, hashing and checking. Pure: no Kafka, no HTTP.

A key reads `rs_live_<key_id>_<secret>`. The `rs_live_` prefix makes a leaked key recognizable (secret
scanners, the log redactor); `key_id` (16 hex digits) is public, shown in listings and the handle every
lookup goes by, so checking a key never scans the store; the secret is 32 random bytes, base64url.

The store keeps SHA-256(salt || secret) with a random per-key salt, compared in constant time. A slow KDF
would buy nothing: the secret carries 256 random bits, there is no dictionary to walk. An HMAC with a
server-wide pepper was the alternative; it was not chosen because the records travel on a Kafka topic that
every ingest replica reads, so the pepper would be one more secret to hand to every replica, and rotating
it would invalidate every key at once. The per-key salt keeps equal secrets distinct and rules out
precomputed tables; the topic itself is an internal, access-controlled one.
"""

from __future__ import annotations

import enum
import hashlib
import hmac
import re
import secrets
from collections.abc import Iterable
from dataclasses import replace
from datetime import datetime, timedelta

from schemas.events import ApiKeyRecord, utc_now

PREFIX = "rs_live_"
KEY_PATTERN = re.compile(r"rs_live_([0-9a-f]{16})_([A-Za-z0-9_-]{43})")
KEY_ID_PATTERN = re.compile(r"[0-9a-f]{16}")


class Verdict(enum.Enum):
    VALID = "valid"
    UNKNOWN = "unknown API key"
    REVOKED = "API key revoked"
    EXPIRED = "API key expired"


def digest(salt: str, secret: str) -> str:
    """Hex SHA-256 of the salt's bytes followed by the secret's."""
    return hashlib.sha256(bytes.fromhex(salt) + secret.encode()).hexdigest()


def parse(token: str) -> tuple[str, str] | None:
    """(key_id, secret) of a well-formed key, else None."""
    match = KEY_PATTERN.fullmatch(token)
    return (match[1], match[2]) if match else None


def mint(
    tenant_id: str,
    roles: Iterable[str],
    *,
    expires_at: datetime | None = None,
    name: str | None = None,
    created_by: str | None = None,
    now: datetime | None = None,
) -> tuple[str, ApiKeyRecord]:
    """A new key: (the key to show once, the record to store)."""
    key_id, secret, salt = secrets.token_hex(8), secrets.token_urlsafe(32), secrets.token_hex(16)
    created = now or utc_now()
    record = ApiKeyRecord(
        key_id=key_id,
        tenant_id=tenant_id,
        roles=tuple(sorted(set(roles))),
        salt=salt,
        secret_sha256=digest(salt, secret),
        created_at=created,
        expires_at=expires_at,
        name=name,
        created_by=created_by,
        occurred_at=created,
    )
    return f"{PREFIX}{key_id}_{secret}", record


def revoke(record: ApiKeyRecord, *, now: datetime | None = None) -> ApiKeyRecord:
    """The revoked version of a record (already revoked: unchanged)."""
    if record.revoked:
        return record
    at = now or utc_now()
    return replace(record, revoked=True, revoked_at=at, occurred_at=at)


def check(record: ApiKeyRecord | None, secret: str, now: datetime) -> Verdict:
    """Whether `secret` opens `record` now. The hash is compared before anything else is looked at, so a
    wrong secret reads `UNKNOWN` whatever the key's state: only its holder learns it was revoked."""
    if record is None:
        return Verdict.UNKNOWN
    if not hmac.compare_digest(digest(record.salt, secret), record.secret_sha256):
        return Verdict.UNKNOWN
    if record.revoked:
        return Verdict.REVOKED
    if record.expires_at is not None and now >= record.expires_at:
        return Verdict.EXPIRED
    return Verdict.VALID


def merged(known: ApiKeyRecord | None, incoming: ApiKeyRecord) -> ApiKeyRecord:
    """Which version of a key to keep: a revocation is final (a late or replayed older record cannot undo
    it), otherwise the later record wins."""
    if known is None:
        return incoming
    if known.revoked and not incoming.revoked:
        return known
    if incoming.revoked and not known.revoked:
        return incoming
    return incoming if incoming.occurred_at >= known.occurred_at else known


def sweepable(records: Iterable[ApiKeyRecord], now: datetime, grace: timedelta) -> list[str]:
    """Key ids that can never be valid again and ended at least `grace` ago (revoked or expired): their
    records may give way to tombstones, after which the key reads as unknown (still 401)."""
    ended = (
        (r.key_id, r.revoked_at if r.revoked else r.expires_at)
        for r in records
        if r.revoked or r.expires_at is not None
    )
    return [key_id for key_id, at in ended if at is not None and at + grace <= now]


class KeyTable:
    """The keys by key_id, fed by the key store's view and by this replica's own admin calls; and when this
    replica last accepted each (`touch`: memory only, to the minute, written at most once a minute per key:
    a dict write on the request path, no I/O; a restart forgets it, and each replica knows its own)."""

    def __init__(self) -> None:
        self._records: dict[str, ApiKeyRecord] = {}
        self._last_used: dict[str, datetime] = {}

    def touch(self, key_id: str, now: datetime) -> None:
        """Record a use of the key at `now`, rounded down to the minute; within the same minute, nothing."""
        minute = now.replace(second=0, microsecond=0)
        if self._last_used.get(key_id) != minute:
            self._last_used[key_id] = minute

    def last_used(self, key_id: str) -> datetime | None:
        return self._last_used.get(key_id)

    def apply(self, record: ApiKeyRecord) -> ApiKeyRecord:
        kept = merged(self._records.get(record.key_id), record)
        self._records[record.key_id] = kept
        return kept

    def remove(self, key_id: str) -> bool:
        self._last_used.pop(key_id, None)
        return self._records.pop(key_id, None) is not None

    def get(self, key_id: str) -> ApiKeyRecord | None:
        return self._records.get(key_id)

    def records(self, tenant_id: str | None = None) -> list[ApiKeyRecord]:
        """Every key (of one tenant), oldest first."""
        found = (r for r in self._records.values() if tenant_id is None or r.tenant_id == tenant_id)
        return sorted(found, key=lambda r: (r.created_at, r.key_id))

    def __len__(self) -> int:
        return len(self._records)
