"""The in-memory index of job snapshots behind the status view: pure, no Kafka, no asyncio.

Rules: per job the snapshot with the highest `version` wins and an older one never overwrites a newer one;
a local placeholder (the `accepted` snapshot ingest records right after a submit) only fills a gap and is
replaced by any real snapshot, whatever its version. Jobs are also indexed per tenant, newest first, for
cursor pagination, which can filter by state, model and creation time (`JobFilter`) without decoding a
record: each entry keeps its job's state and model beside the record.

Every replica holds every job, so an entry is kept small and out of the garbage collector's sight: a tuple
of plain values holding the snapshot's record (Avro bytes, as it came from Kafka; for ingest's local
placeholder, the SubmitJob record it produced, which the placeholder is made from), decoded when read. Job
objects kept whole (a dozen tracked objects each) made full collections pause ingest for 180-230 ms under
load, most of its P99 (bench/ingest_load.py); placeholders pile up whenever admission falls behind, so they
are kept as bytes too (as their command's record: serializing the placeholder itself cost ~20 µs a job).
"""

from __future__ import annotations

import bisect
import re
import sys
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from reelstream.params import FieldError, InvalidRequest
from schemas.events import JobStatus

# (-created_at in µs, job_id): ascending order is newest first, ties broken by job id
SortKey = tuple[int, str]
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class Snapshot:
    status: JobStatus
    local: bool = False

    @property
    def rank(self) -> tuple[int, int]:
        """Orders snapshots of one job: by version, and a real snapshot above a local one of equal version."""
        return (self.status.version, 0 if self.local else 1)


def sort_key(status: JobStatus) -> SortKey:
    micros = (status.created_at - EPOCH) // timedelta(microseconds=1)
    return (-micros, status.job_id)


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
        start = -_micros(self.created_before) + 1 if self.created_before is not None else -(2**63)
        stop = -_micros(self.created_after) + 1 if self.created_after is not None else 2**63
        return start, stop

    def admits(self, state: str, model: str) -> bool:
        return (not self.states or state in self.states) and (self.model is None or model == self.model)


EVERY_JOB = JobFilter()


def _micros(when: datetime) -> int:
    return (when - EPOCH) // timedelta(microseconds=1)


# (version, 1 for a real snapshot / 0 for a local one, tenant id, sort key's first half, state (its value),
# model, the snapshot: its record's bytes (a local one's: the record it is made from), or the object);
# compared by its first two: the snapshot's rank. Plain values only, so the collector does not track it.
_Entry = tuple[int, int, str, int, str, str, "bytes | JobStatus"]


class JobIndex:
    """`decode` turns a kept record back into its JobStatus (needed once `apply` is given `raw` bytes);
    `decode_local`, the record a local placeholder is made from (needed once it is given one)."""

    def __init__(
        self,
        decode: Callable[[bytes], JobStatus] | None = None,
        decode_local: Callable[[bytes], JobStatus] | None = None,
    ) -> None:
        self._decode = decode
        self._decode_local = decode_local
        self._jobs: dict[str, _Entry] = {}
        self._by_tenant: dict[str, list[SortKey]] = {}

    def __len__(self) -> int:
        return len(self._jobs)

    def get(self, job_id: str) -> Snapshot | None:
        entry = self._jobs.get(job_id)
        return None if entry is None else Snapshot(self._status(entry), local=not entry[1])

    def apply(self, status: JobStatus, *, local: bool = False, raw: bytes | None = None) -> bool:
        """Record a snapshot if it is newer than what is known; True when it became the current one. `raw`:
        the record `status` was decoded from (a local placeholder: made from), kept instead of the object."""
        key = sort_key(status)
        model = sys.intern(status.params.model) if status.params is not None else ""
        state = status.state.value
        new: _Entry = (status.version, 0 if local else 1, status.tenant_id, key[0], state, model, status)
        old = self._jobs.get(status.job_id)
        if old is not None and (local or new[:2] <= old[:2]):
            return False
        if old is not None:
            self._unindex(status.job_id, old)
        if raw is not None:
            if (self._decode_local if local else self._decode) is None:
                raise TypeError("JobIndex keeps raw records only with a decode function")
            new = (*new[:6], raw)
        self._jobs[status.job_id] = new
        bisect.insort(self._by_tenant.setdefault(status.tenant_id, []), key)
        return True

    def remove(self, job_id: str) -> bool:
        """A tombstone: forget the job. True if it was known."""
        old = self._jobs.pop(job_id, None)
        if old is None:
            return False
        self._unindex(job_id, old)
        return True

    def _status(self, entry: _Entry) -> JobStatus:
        kept = entry[6]
        if isinstance(kept, JobStatus):
            return kept
        decode = self._decode if entry[1] else self._decode_local
        assert decode is not None  # `apply` keeps bytes only with their decode function
        return decode(kept)

    def _unindex(self, job_id: str, entry: _Entry) -> None:
        tenant = entry[2]
        keys = self._by_tenant[tenant]
        key = (entry[3], job_id)
        i = bisect.bisect_left(keys, key)
        if i < len(keys) and keys[i] == key:
            del keys[i]
        if not keys:
            del self._by_tenant[tenant]

    def page(
        self,
        tenant_id: str,
        limit: int,
        after: SortKey | None = None,
        where: JobFilter = EVERY_JOB,
        max_scan: int = MAX_SCAN,
    ) -> tuple[list[JobStatus], str | None]:
        """Up to `limit` jobs of a tenant that `where` admits, newest first, strictly after the cursor; and
        the next cursor (None: no more). A filtered page looks at most `max_scan` jobs, so it may hold fewer
        than `limit`, even none, with a cursor to go on from."""
        keys = self._by_tenant.get(tenant_id, [])
        first, stop = where.keys()
        start = max(
            bisect.bisect_right(keys, after) if after is not None else 0,
            bisect.bisect_left(keys, (first, "")),
        )
        end = bisect.bisect_left(keys, (stop, ""))
        chosen: list[SortKey] = []
        scanned = start
        while scanned < end and len(chosen) < limit and scanned - start < max_scan:
            key = keys[scanned]
            entry = self._jobs[key[1]]
            if where.admits(entry[4], entry[5]):
                chosen.append(key)
            scanned += 1
        jobs = [self._status(self._jobs[job_id]) for _, job_id in chosen]
        last = keys[scanned - 1] if scanned > start else None
        more = scanned < end and last is not None
        return jobs, encode_cursor(last) if more and last is not None else None
