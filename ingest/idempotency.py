"""Idempotency keys for job submission (IETF httpapi idempotency-key draft): no Kafka, no HTTP.

A key is scoped to its tenant and remembered as an `IdempotencyRecord` on a compacted topic: written
`completed=False` (with the job id already chosen) before the SubmitJob is produced and `completed=True`
once the broker acknowledged it. `decide` says what a request finds:

- no record (or an expired one)           → NEW: choose a job id and accept the job
- a record for another body               → MISMATCH (POST: 422; PUT: 409)
- a completed record for the same body    → REPLAY the original job, nothing is produced
- a pending record for the same body      → IN_PROGRESS (409) while it is younger than `stale_after`,
  then TAKE_OVER: the first attempt died between its two writes, so the retry produces the SubmitJob
  again with the SAME job id. That is safe even if the first SubmitJob did land: admission drops a second
  SubmitJob of a known job id.
"""

from __future__ import annotations

import contextlib
import enum
import hashlib
import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from ingest.errors import IdempotencyInProgress, InvalidHeader
from ingest.job_keys import micros, ordered
from reelstream.local_store import Batch, Namespace
from reelstream.params import FieldError
from schemas.events import IdempotencyRecord

KEY_HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
MAX_KEY_CHARS = 255
JOB_ID_PATTERN = re.compile(r"[A-Za-z0-9_-]{8,64}")
_VISIBLE_ASCII = re.compile(r"[\x21-\x7e]+")


def validate_key(raw: str) -> str:
    """1..255 visible ASCII characters (no spaces), or InvalidHeader (400) naming the header.

    A structured-field string (`"abc"`, as the draft writes it) is accepted and unquoted."""
    key = raw[1:-1] if len(raw) >= 2 and raw[0] == raw[-1] == '"' else raw
    if not 1 <= len(key) <= MAX_KEY_CHARS or not _VISIBLE_ASCII.fullmatch(key):
        raise InvalidHeader(
            [FieldError(KEY_HEADER, f"must be 1 to {MAX_KEY_CHARS} visible ASCII characters (no spaces)")]
        )
    return key


def put_key(job_id: str) -> str:
    """The key a `PUT /v1/jobs/{id}` is remembered under. It holds a space, which no client key can."""
    return f"PUT {job_id}"


def record_key(tenant_id: str, key: str) -> str:
    """The record's Kafka key (`tenant_id/idempotency_key`, see `schemas.topics.IDEMPOTENCY`)."""
    return f"{tenant_id}/{key}"


def request_sha256(data: dict[str, Any]) -> str:
    """The hash of a parsed JSON body in canonical form: sorted keys, no whitespace, `null` fields dropped
    (a null field means an absent one), so formatting and field order do not make two bodies differ."""
    present = {name: value for name, value in data.items() if value is not None}
    canonical = json.dumps(present, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


class Outcome(enum.Enum):
    NEW = "new"
    REPLAY = "replay"
    IN_PROGRESS = "in_progress"
    MISMATCH = "mismatch"
    TAKE_OVER = "take_over"


@dataclass(frozen=True)
class Decision:
    outcome: Outcome
    job_id: str | None = None


def decide(
    record: IdempotencyRecord | None, sha256: str, now: datetime, *, stale_after: timedelta
) -> Decision:
    """What a request with body hash `sha256` does, given the live record of its key (None if none)."""
    if record is None or record.expires_at <= now:
        return Decision(Outcome.NEW)
    if record.request_sha256 != sha256:
        return Decision(Outcome.MISMATCH, record.job_id)
    if record.completed:
        return Decision(Outcome.REPLAY, record.job_id)
    if now - record.occurred_at >= stale_after:
        return Decision(Outcome.TAKE_OVER, record.job_id)
    return Decision(Outcome.IN_PROGRESS, record.job_id)


def _rank(record: IdempotencyRecord) -> tuple[datetime, bool]:
    return record.occurred_at, record.completed


def same_claim(a: IdempotencyRecord, b: IdempotencyRecord) -> bool:
    """Two records of one acceptance (pending, completed, a take-over): same job id and same body."""
    return (a.job_id, a.request_sha256) == (b.job_id, b.request_sha256)


class IdempotencyIndex:
    """The record of every key, and of every job id (to refuse another tenant's PUT id), in the local store
    (`reelstream.local_store`): `k<record key>` → the record (Avro bytes), `b<job id>` → its record key,
    `e<expires µs><record key>` → "" (the expired ones are one range scan). Writes go to `batch`, which the
    view commits with the offsets they came from; reads see it.

    First write wins: fed in log order, a key's live record is replaced only by a record of the same claim
    (the newest of them: completed wins a tie) or once it expired. Two replicas that both found a key
    unknown and both wrote a claim read back the same owner: the claim that reached the log first."""

    def __init__(
        self,
        store: Namespace,
        encode: Callable[[IdempotencyRecord], bytes],
        decode: Callable[[bytes], IdempotencyRecord],
        batch: Batch | None = None,
    ) -> None:
        self._store, self._encode, self._decode = store, encode, decode
        self.batch = batch if batch is not None else store.batch()

    def apply(self, record: IdempotencyRecord, raw: bytes | None = None) -> bool:
        """Keep `record` (`raw`: the bytes it was read from) unless its key is owned by another live
        claim, or a newer record of the same claim is known."""
        key = record_key(record.tenant_id, record.idempotency_key)
        current = self._record(key)
        if current is not None and not self._replaces(current, record):
            return False
        if current is not None:
            self.batch.delete(_expiry_key(current, key))
        self.batch.put(b"k" + key.encode(), raw if raw is not None else self._encode(record))
        self.batch.put(b"b" + record.job_id.encode(), key.encode())
        self.batch.put(_expiry_key(record, key), b"")
        return True

    @staticmethod
    def _replaces(current: IdempotencyRecord, record: IdempotencyRecord) -> bool:
        if current.expires_at <= record.occurred_at:  # the owner's claim had expired
            return True
        return same_claim(current, record) and _rank(record) >= _rank(current)

    def _record(self, key: str) -> IdempotencyRecord | None:
        raw = self.batch.get(b"k" + key.encode())
        return None if raw is None else self._decode(raw)

    def remove(self, key: str) -> bool:
        record = self._record(key)
        if record is None:
            return False
        self.batch.delete(b"k" + key.encode())
        self.batch.delete(_expiry_key(record, key))
        if self.batch.get(b"b" + record.job_id.encode()) == key.encode():
            self.batch.delete(b"b" + record.job_id.encode())
        return True

    def expired(self, now: datetime) -> list[str]:
        """The record keys whose newest record has expired (for tombstoning)."""
        stop = b"e" + ordered(micros(now) + 1)
        return [key[9:].decode() for key, _ in self._store.scan(b"e", stop)]

    def get(self, tenant_id: str, key: str, now: datetime) -> IdempotencyRecord | None:
        """The live record of the tenant's key (expired ones and foreign ones read as none)."""
        record = self._record(record_key(tenant_id, key))
        if record is None or record.expires_at <= now:
            return None
        if (record.tenant_id, record.idempotency_key) != (tenant_id, key):
            return None  # two tenants whose `tenant/key` strings collide never see each other's record
        return record

    def for_job(self, job_id: str, now: datetime) -> IdempotencyRecord | None:
        key = self.batch.get(b"b" + job_id.encode())
        record = None if key is None else self._record(key.decode())
        if record is None or record.job_id != job_id:  # the key has been claimed for another job since
            return None
        return record if record.expires_at > now else None


def _expiry_key(record: IdempotencyRecord, key: str) -> bytes:
    return b"e" + ordered(micros(record.expires_at)) + key.encode()


class InFlight:
    """The keys this replica is accepting right now: a concurrent repeat is refused (409) at once."""

    def __init__(self) -> None:
        self._keys: set[tuple[str, str]] = set()

    def __contains__(self, item: tuple[str, str]) -> bool:
        return item in self._keys

    @contextlib.contextmanager
    def claim(self, tenant_id: str, key: str) -> Iterator[None]:
        if (tenant_id, key) in self._keys:
            raise IdempotencyInProgress("a request with this Idempotency-Key is still being accepted")
        self._keys.add((tenant_id, key))
        try:
            yield
        finally:
            self._keys.discard((tenant_id, key))
