"""Idempotency keys for job submission (IETF httpapi idempotency-key draft): pure, no Kafka, no HTTP.

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
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from ingest.errors import IdempotencyInProgress, InvalidHeader
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
    """The record of every key, and of every job id (to refuse another tenant's PUT id).

    First write wins: fed in log order, a key's live record is replaced only by a record of the same claim
    (the newest of them: completed wins a tie) or once it expired. Two replicas that both found a key
    unknown and both wrote a claim read back the same owner: the claim that reached the log first."""

    def __init__(self) -> None:
        self._by_key: dict[str, IdempotencyRecord] = {}
        self._by_job: dict[str, IdempotencyRecord] = {}

    def __len__(self) -> int:
        return len(self._by_key)

    def apply(self, record: IdempotencyRecord) -> bool:
        """Keep `record` unless its key is owned by another live claim, or a newer record of the same
        claim is known."""
        key = record_key(record.tenant_id, record.idempotency_key)
        current = self._by_key.get(key)
        if current is not None and not self._replaces(current, record):
            return False
        self._by_key[key] = record
        self._by_job[record.job_id] = record
        return True

    @staticmethod
    def _replaces(current: IdempotencyRecord, record: IdempotencyRecord) -> bool:
        if current.expires_at <= record.occurred_at:  # the owner's claim had expired
            return True
        return same_claim(current, record) and _rank(record) >= _rank(current)

    def remove(self, key: str) -> bool:
        record = self._by_key.pop(key, None)
        if record is None:
            return False
        if self._by_job.get(record.job_id) is record:
            del self._by_job[record.job_id]
        return True

    def expired(self, now: datetime) -> list[str]:
        """The record keys whose newest record has expired (for tombstoning)."""
        return [key for key, record in self._by_key.items() if record.expires_at <= now]

    def get(self, tenant_id: str, key: str, now: datetime) -> IdempotencyRecord | None:
        """The live record of the tenant's key (expired ones and foreign ones read as none)."""
        record = self._by_key.get(record_key(tenant_id, key))
        if record is None or record.expires_at <= now:
            return None
        if (record.tenant_id, record.idempotency_key) != (tenant_id, key):
            return None  # two tenants whose `tenant/key` strings collide never see each other's record
        return record

    def for_job(self, job_id: str, now: datetime) -> IdempotencyRecord | None:
        record = self._by_job.get(job_id)
        return record if record is not None and record.expires_at > now else None


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
