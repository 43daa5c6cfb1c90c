"""How the status view lays out a job on disk (`reelstream.local_store`), and the list's order and cursor.

Keys, ordered so that what a request reads is one range scan:
  j<job id>                                       → the job's entry (`Entry`: what the index needs to rank,
                                                    list and expire it; a few dozen bytes)
  t<len BE2><tenant><sort key BE8><job id>        → "<state>\\0<model>\\0<1 real|0 local>" and the snapshot's
                                                    record bytes (`Listing`): the tenant's jobs newest first,
                                                    with what a filter needs and what a page shows, so a page
                                                    is one range scan over contiguous blocks (no point read
                                                    per job: on a large store each is a random disk read)
Retention's finish-time keys (`ingest.retention`) share the namespace under `R` and `V`.
"""

from __future__ import annotations

import re
import struct
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from reelstream.params import FieldError, InvalidRequest
from schemas.events import DELETED_CODE, JobState, JobStatus

# (-created_at in µs, job_id): ascending order is newest first, ties broken by job id
SortKey = tuple[int, str]
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_BIAS = 2**63  # a signed 64-bit sort key as an unsigned big-endian one keeps its order
_U64 = struct.Struct(">Q")
_U16 = struct.Struct(">H")
_HEAD = struct.Struct(">qBq")  # version, 1 real / 0 local, sort key's first half


def micros(when: datetime) -> int:
    return (when - EPOCH) // timedelta(microseconds=1)


def sort_key(status: JobStatus) -> SortKey:
    return (-micros(status.created_at), status.job_id)


# a page cursor: the last job's creation time (µs since the epoch) and its id; exactly what the OpenAPI
# document's pattern for `after` says
CURSOR_PATTERN = re.compile(r"([0-9]{1,19})\.([!-~]{1,256})")


def encode_cursor(key: SortKey) -> str:
    return f"{-key[0]}.{key[1]}"


def decode_cursor(cursor: str) -> SortKey:
    """Raises InvalidRequest (field `after`) for anything but `CURSOR_PATTERN`; a well-formed cursor this
    API never returned still means "jobs created before that instant (ties: ordered by id)"."""
    match = CURSOR_PATTERN.fullmatch(cursor)
    if match is None:
        raise InvalidRequest([FieldError("after", "is not a cursor this API returned")])
    return (-int(match.group(1)), match.group(2))


MAX_SCAN = 20_000  # jobs a filtered page looks at before it returns what it found, with a cursor to go on


@dataclass(frozen=True, slots=True)
class JobFilter:
    """Which jobs a page lists: any of `states` (empty: all), of `model` (None: all), created at or after
    `created_after` and before `created_before` (None: unbounded)."""

    states: frozenset[str] = frozenset()  # JobState values
    model: str | None = None
    created_after: datetime | None = None
    created_before: datetime | None = None

    def keys(self) -> tuple[int, int]:
        """The sort keys' first halves (−µs) it spans; newest first: `created_before` is where it starts."""
        start = -micros(self.created_before) + 1 if self.created_before is not None else -(2**63)
        stop = -micros(self.created_after) + 1 if self.created_after is not None else 2**63
        return start, stop

    def admits(self, state: str, model: str) -> bool:
        return (not self.states or state in self.states) and (self.model is None or model == self.model)


EVERY_JOB = JobFilter()


@dataclass(frozen=True, slots=True)
class JobFacts:
    """What the index reads of a snapshot, from the decoded JobStatus (`of`) or straight from the record
    as its writer wrote it (`of_datum`: no schema resolution, no objects built; what a replay decodes).
    `artifact`: True when the snapshot has one, else None (retention: a success with a video)."""

    job_id: str
    tenant_id: str
    state: JobState
    version: int
    created_at: datetime
    updated_at: datetime
    state_times: Mapping[str, datetime]
    model: str
    artifact: object | None
    deleted: bool

    @classmethod
    def of(cls, status: JobStatus) -> JobFacts:
        model = status.params.model if status.params is not None else ""
        deleted = status.error is not None and status.error.code == DELETED_CODE
        return cls(
            status.job_id,
            status.tenant_id,
            status.state,
            status.version,
            status.created_at,
            status.updated_at,
            status.state_times,
            model,
            True if status.artifact is not None else None,
            deleted,
        )

    @classmethod
    def of_datum(cls, datum: Mapping[str, Any]) -> JobFacts:
        """Raises KeyError, ValueError or TypeError for a datum that is not a job's snapshot."""
        params, error = datum.get("params"), datum.get("error")
        return cls(
            str(datum["job_id"]),
            str(datum["tenant_id"]),
            JobState(datum["state"]),
            int(datum["version"]),
            _utc(datum["created_at"]),
            _utc(datum["updated_at"]),
            {str(k): _utc(v) for k, v in (datum.get("state_times") or {}).items()},
            str(params["model"]) if params else "",
            True if datum.get("artifact") is not None else None,
            error is not None and error.get("code") == DELETED_CODE,
        )


def _utc(value: object) -> datetime:
    if not isinstance(value, datetime):
        raise TypeError(f"not a timestamp: {type(value).__name__}")
    return value


# ---- keys -------------------------------------------------------------------------------------------------


def ordered(number: int) -> bytes:
    """A signed 64-bit number (clamped) as 8 bytes whose byte order is the numbers' order."""
    return _U64.pack(min(max(number, -_BIAS), _BIAS - 1) + _BIAS)


def job_key(job_id: str) -> bytes:
    return b"j" + job_id.encode()


def tenant_prefix(tenant_id: str) -> bytes:
    raw = tenant_id.encode()
    return b"t" + _U16.pack(len(raw)) + raw


def tenant_key(tenant_id: str, key: SortKey) -> bytes:
    return tenant_prefix(tenant_id) + ordered(key[0]) + key[1].encode()


def split_tenant_key(tenant_id: str, raw: bytes) -> SortKey:
    cut = len(tenant_prefix(tenant_id))
    return (_U64.unpack_from(raw, cut)[0] - _BIAS, raw[cut + 8 :].decode())


@dataclass(frozen=True, slots=True)
class Entry:
    """A job as the index keeps it: its snapshot's rank, where it is listed, what filters read, and the keys
    that point at it (retention's). Its record is in its listing (`Listing`)."""

    version: int
    real: bool
    tenant_id: str
    first: int  # the sort key's first half
    state: str
    model: str
    due_keys: tuple[bytes, ...]

    @property
    def rank(self) -> tuple[int, int]:
        return (self.version, 1 if self.real else 0)

    def listing(self, record: bytes) -> bytes:
        """Its tenant key's value: what a filter reads, then the record (a local placeholder's: the
        SubmitJob it came from)."""
        return f"{self.state}\0{self.model}\0{int(self.real)}".encode() + record

    def pack(self) -> bytes:
        fields = [self.tenant_id.encode(), self.state.encode(), self.model.encode(), *self.due_keys]
        parts = [_HEAD.pack(self.version, int(self.real), self.first), bytes([len(fields)])]
        for field in fields:
            parts += [_U16.pack(len(field)), field]
        return b"".join(parts)

    @classmethod
    def unpack(cls, data: bytes) -> Entry:
        version, real, first = _HEAD.unpack_from(data)
        at, count = _HEAD.size + 1, data[_HEAD.size]
        fields = []
        for _ in range(count):
            (size,) = _U16.unpack_from(data, at)
            fields.append(data[at + 2 : at + 2 + size])
            at += 2 + size
        tenant, state, model, *due = fields
        return cls(version, bool(real), tenant.decode(), first, state.decode(), model.decode(), tuple(due))


@dataclass(frozen=True, slots=True)
class Listing:
    """A tenant key's value read back: the job's state and model, whether its record is a real snapshot
    (or a local placeholder's SubmitJob), and the record."""

    state: str
    model: str
    real: bool
    record: bytes

    @classmethod
    def unpack(cls, value: bytes) -> Listing:
        state_end = value.index(b"\0")
        model_end = value.index(b"\0", state_end + 1)
        real = value[model_end + 1 : model_end + 2] == b"1"
        return cls(
            value[:state_end].decode(),
            value[state_end + 1 : model_end].decode(),
            real,
            value[model_end + 2 :],
        )
