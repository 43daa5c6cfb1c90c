"""The in-memory index of job snapshots behind the status view: pure, no Kafka, no asyncio.

Rules: per job the snapshot with the highest `version` wins and an older one never overwrites a newer one;
a local placeholder (the `accepted` snapshot ingest records right after a submit) only fills a gap and is
replaced by any real snapshot, whatever its version. Jobs are also indexed per tenant, newest first, for
cursor pagination.
"""

from __future__ import annotations

import base64
import binascii
import bisect
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


def encode_cursor(key: SortKey) -> str:
    raw = f"{-key[0]}:{key[1]}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> SortKey:
    """Raises InvalidRequest (field `after`) for anything `encode_cursor` did not produce."""
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        raw = base64.b64decode(padded, altchars=b"-_", validate=True).decode()
        micros, sep, job_id = raw.partition(":")
        if not sep or not job_id:
            raise ValueError(raw)
        return (-int(micros), job_id)
    except (ValueError, UnicodeDecodeError, binascii.Error):
        raise InvalidRequest([FieldError("after", "is not a cursor this API returned")]) from None


class JobIndex:
    def __init__(self) -> None:
        self._jobs: dict[str, Snapshot] = {}
        self._by_tenant: dict[str, list[SortKey]] = {}

    def __len__(self) -> int:
        return len(self._jobs)

    def get(self, job_id: str) -> Snapshot | None:
        return self._jobs.get(job_id)

    def apply(self, status: JobStatus, *, local: bool = False) -> bool:
        """Record a snapshot if it is newer than what is known; True when it became the current one."""
        new = Snapshot(status, local)
        old = self._jobs.get(status.job_id)
        if old is not None and (local or new.rank <= old.rank):
            return False
        if old is not None:
            self._unindex(old.status)
        self._jobs[status.job_id] = new
        bisect.insort(self._by_tenant.setdefault(status.tenant_id, []), sort_key(status))
        return True

    def remove(self, job_id: str) -> bool:
        """A tombstone: forget the job. True if it was known."""
        old = self._jobs.pop(job_id, None)
        if old is None:
            return False
        self._unindex(old.status)
        return True

    def _unindex(self, status: JobStatus) -> None:
        keys = self._by_tenant[status.tenant_id]
        key = sort_key(status)
        i = bisect.bisect_left(keys, key)
        if i < len(keys) and keys[i] == key:
            del keys[i]
        if not keys:
            del self._by_tenant[status.tenant_id]

    def page(
        self, tenant_id: str, limit: int, after: SortKey | None = None
    ) -> tuple[list[JobStatus], str | None]:
        """Up to `limit` jobs of a tenant, newest first, strictly after the cursor; and the next cursor."""
        keys = self._by_tenant.get(tenant_id, [])
        start = bisect.bisect_right(keys, after) if after is not None else 0
        chosen = keys[start : start + limit]
        jobs = [self._jobs[job_id].status for _, job_id in chosen]
        more = start + limit < len(keys)
        return jobs, encode_cursor(chosen[-1]) if more and chosen else None
