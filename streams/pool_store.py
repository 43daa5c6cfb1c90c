"""The scheduler's state of each pool over two key-value tables: one small record per pool, one per job.

The whole state in one record (`scheduling.dump_state`) cost a full encode and decode per inbox event and
outgrew Kafka's 1 MB record limit at about 500 queued jobs (the scheduler crashed). Here an event rewrites
only the jobs it changed (jobs are frozen: a changed job is a new object) plus the pool's own record, and the
state stays decoded in memory between events. The memory is trusted only while the pool's record in the
table is the one written last (it carries the inbox offset of its event), so after a rebalance or a restart
the state is read back from the tables. A pool record in the single-record format is still read.

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


def dump_pool(state: SchedulerState, revision: int) -> bytes:
    """Everything but the jobs, and the revision (the inbox offset) it was written at."""
    rest = {f.name: to_datum(getattr(state, f.name)) for f in dataclasses.fields(state) if f.name != "jobs"}
    return _json({"revision": revision, "pool": rest})


def load_pool(data: bytes, jobs: Mapping[str, Job]) -> SchedulerState:
    state: SchedulerState = from_datum(SchedulerState, json.loads(data)["pool"])
    return dataclasses.replace(
        state,
        jobs=MappingProxyType(dict(jobs)),
        slots=MappingProxyType(dict(state.slots)),
        service=MappingProxyType(dict(state.service)),
        cost_model=CostModel(MappingProxyType(dict(state.cost_model.learned))),
    )


@dataclass(frozen=True)
class _Written:
    raw: bytes  # the pool record as written
    state: SchedulerState
    persisted: Mapping[str, Job]  # the jobs as they are in the jobs table


class PoolStore:
    def __init__(self, pools: Table, jobs: Table) -> None:
        self._pools = pools
        self._jobs = jobs
        self._written: dict[str, _Written] = {}

    @staticmethod
    def _job_key(pool_id: str, job_id: str) -> bytes:
        return f"{pool_id}/{job_id}".encode()

    def load(self, pool_id: str) -> SchedulerState:
        stored = self._pools.get(pool_id.encode())
        written = self._written.get(pool_id)
        if written is not None and stored == written.raw:
            return written.state
        self._written.pop(pool_id, None)
        if not stored:
            state, persisted = SchedulerState(pool_id), self._stored_jobs(pool_id)
        elif b'"revision"' not in stored[:20]:  # the single-record format: its jobs are not in the table
            state, persisted = load_state(stored), {}
        else:
            persisted = self._stored_jobs(pool_id)
            state = load_pool(stored, persisted)
        if stored:
            self._written[pool_id] = _Written(stored, state, persisted)
        return state

    def _stored_jobs(self, pool_id: str) -> dict[str, Job]:
        prefix = f"{pool_id}/".encode()
        return {
            key[len(prefix) :].decode(): load_job(value)
            for key, value in list(self._jobs.items())
            if key.startswith(prefix) and value
        }

    def save(self, state: SchedulerState, revision: int) -> None:
        """Write the jobs that changed since the last save (or load), then the pool's record."""
        written = self._written.get(state.pool_id)
        persisted = written.persisted if written is not None else self._stored_jobs(state.pool_id)
        for job_id, job in state.jobs.items():
            if persisted.get(job_id) is not job:
                self._jobs[self._job_key(state.pool_id, job_id)] = dump_job(job)
        for job_id in persisted.keys() - state.jobs.keys():
            del self._jobs[self._job_key(state.pool_id, job_id)]
        raw = dump_pool(state, revision)
        self._pools[state.pool_id.encode()] = raw
        self._written[state.pool_id] = _Written(raw, state, state.jobs)
