"""The scheduler's state of each pool over two key-value tables: one small record per pool, one per job.

The whole state in one record (`scheduling.dump_state`) cost a full encode and decode per inbox event and
outgrew Kafka's 1 MB record limit at about 500 queued jobs (the scheduler crashed). Here an event rewrites
only the jobs it changed (jobs are frozen: a changed job is a new object) plus the pool's own record, and the
state stays decoded in memory between events. The memory is trusted only while the pool's record in the
table is the one written last (it carries the inbox offset of its event), so after a rebalance or a restart
the state is read back from the tables. A pool record in the single-record format is still read.

Crash safety without transactions across the two tables: a job's record is written under a new key for
each version (`pool/job@revision`), the pool record names the version of every job it holds, and the old
versions are deleted only after the pool record is written. A crash between those writes leaves the previous
pool record and every version it names intact (the event is redelivered and applied to exactly that state);
versions nothing names are swept when a pool is next read cold.

No Faust here: the tables are plain mappings (Faust tables in the scheduler, dicts in tests).
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping, MutableMapping
from dataclasses import dataclass
from datetime import datetime
from types import MappingProxyType
from typing import Any

from reelstream.errors import ReelstreamError
from schemas.codec import from_datum, to_datum
from streams.cost_model import CostModel
from streams.scheduling import Job, SchedulerState, load_state

Table = MutableMapping[bytes, bytes]


def _json(datum: Any) -> bytes:
    return json.dumps(datum, default=datetime.isoformat, separators=(",", ":")).encode()


def dump_job(job: Job) -> bytes:
    return _json(to_datum(job))


def load_job(data: bytes) -> Job:
    job: Job = from_datum(Job, json.loads(data))
    return job


def dump_pool(state: SchedulerState, revision: int, versions: Mapping[str, int]) -> bytes:
    """Everything but the jobs, the version of each job, and the revision (inbox offset) it was written at."""
    rest = {f.name: to_datum(getattr(state, f.name)) for f in dataclasses.fields(state) if f.name != "jobs"}
    return _json({"revision": revision, "pool": rest, "jobs": dict(versions)})


def load_pool(data: bytes, jobs: Mapping[str, Job]) -> SchedulerState:
    state: SchedulerState = from_datum(SchedulerState, json.loads(data)["pool"])
    return dataclasses.replace(
        state,
        jobs=MappingProxyType(dict(jobs)),
        slots=MappingProxyType(dict(state.slots)),
        service=MappingProxyType(dict(state.service)),
        cost_model=CostModel(MappingProxyType(dict(state.cost_model.learned))),
    )


class PoolStateCorrupt(ReelstreamError):
    """A pool record names a job version that is not in the jobs table (a table was truncated by hand?)."""

    code = "pool_state_corrupt"


@dataclass(frozen=True)
class _Written:
    raw: bytes  # the pool record as written
    state: SchedulerState
    persisted: Mapping[str, Job]  # the jobs as they are in the jobs table
    versions: Mapping[str, int]  # job id → the revision its record was written at
    revision: int | None  # the inbox offset whose event the record includes (None: single-record format)


class PoolStore:
    def __init__(self, pools: Table, jobs: Table) -> None:
        self._pools = pools
        self._jobs = jobs
        self._written: dict[str, _Written] = {}

    @staticmethod
    def _job_key(pool_id: str, job_id: str, revision: int) -> bytes:
        return f"{pool_id}/{job_id}@{revision}".encode()

    def load(self, pool_id: str) -> SchedulerState:
        stored = self._pools.get(pool_id.encode())
        written = self._written.get(pool_id)
        if written is not None and stored == written.raw:
            return written.state
        self._written.pop(pool_id, None)
        if not stored:
            self._sweep(pool_id, {})
            return SchedulerState(pool_id)
        if b'"revision"' not in stored[:20]:  # the single-record format: its jobs are not in the table
            state = load_state(stored)
            self._written[pool_id] = _Written(stored, state, {}, {}, None)
            return state
        record = json.loads(stored)
        versions: dict[str, int] = record["jobs"]
        persisted = {job_id: self._read_job(pool_id, job_id, rev) for job_id, rev in versions.items()}
        self._sweep(pool_id, versions)
        state = load_pool(stored, persisted)
        self._written[pool_id] = _Written(stored, state, persisted, versions, record["revision"])
        return state

    def applied(self, pool_id: str, offset: int) -> bool:
        """Whether the stored state already includes the inbox event at `offset` (call after `load`)."""
        written = self._written.get(pool_id)
        return written is not None and written.revision is not None and offset <= written.revision

    def _read_job(self, pool_id: str, job_id: str, revision: int) -> Job:
        data = self._jobs.get(self._job_key(pool_id, job_id, revision))
        if not data:
            raise PoolStateCorrupt(f"pool {pool_id}: job {job_id} version {revision} is missing")
        return load_job(data)

    def _sweep(self, pool_id: str, versions: Mapping[str, int]) -> None:
        """Delete the job versions no pool record names (left by a crash between writes)."""
        prefix = f"{pool_id}/".encode()
        named = {self._job_key(pool_id, job_id, rev) for job_id, rev in versions.items()}
        for key in [k for k in list(self._jobs.keys()) if k.startswith(prefix) and k not in named]:
            del self._jobs[key]

    def save(self, state: SchedulerState, revision: int) -> None:
        """Write the jobs that changed since the last save (or load) as new versions, then the pool's
        record naming them, then delete the versions it no longer names."""
        written = self._written.get(state.pool_id)
        persisted = written.persisted if written is not None else {}
        old_versions = written.versions if written is not None else {}
        versions = dict(old_versions)
        for job_id, job in state.jobs.items():
            if persisted.get(job_id) is not job:
                self._jobs[self._job_key(state.pool_id, job_id, revision)] = dump_job(job)
                versions[job_id] = revision
        for job_id in persisted.keys() - state.jobs.keys():
            versions.pop(job_id, None)
        raw = dump_pool(state, revision, versions)
        self._pools[state.pool_id.encode()] = raw
        for job_id, old in old_versions.items():
            if versions.get(job_id) != old:
                del self._jobs[self._job_key(state.pool_id, job_id, old)]
        self._written[state.pool_id] = _Written(raw, state, state.jobs, versions, revision)
