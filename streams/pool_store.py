"""How a pool's `SchedulerState` is kept in the scheduler's changelog-backed table, one entry per job.

The whole state as one value rewrote every queued job on every event (and grew past what one Kafka record
may hold at a few hundred queued jobs). Here an event writes only what it changed: the entries of the jobs
it touched, then the pool's index (slots, service, cost model, counters: everything but the jobs). Finished
job ids, kept to drop duplicates and late events, are small markers ordered by a counter.

An event's writes are several records, so a crash can persist some of them and not the rest. The index is
written last and carries the event's generation; every job entry carries the generation that wrote it and
the value it replaced (as a patch when it was a job too), so a restore takes an entry newer than the index
as its previous value: the state is exactly the one after the last event whose index reached the changelog
(the inbox redelivers the rest).

The index also records the inbox offset of the last event applied: the scheduler skips a redelivered event
at or below it and reads the records between from the log when those it is handed skip ahead of it (Faust
can commit past a record it never delivered across a rebalance), so the state, not the group's committed
offset, says where the pool's inbox resumes.

Pure: no Faust or Kafka here; scheduler.py applies the writes to the table.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import Any

import immutables
import orjson

from reelstream.cost_model import CostModel
from schemas.codec import from_datum, to_datum
from streams.scheduling import RECENTLY_FINISHED, Job, SchedulerState

Write = tuple[bytes, bytes | None]  # table key, value (None: delete the key)
_Body = dict[str, Any]  # {"job": datum, "order": n} or {"finished": n}


@dataclass(frozen=True)
class PoolImage:
    """A pool's state with what its table entries need that the pure state does not hold."""

    state: SchedulerState
    gen: int = 0  # events persisted
    finished_count: int = 0  # finished markers ever written (orders them)
    next_order: int = 0  # insertion order of the next new job (restores the jobs' order)
    orders: immutables.Map[str, int] = field(default_factory=immutables.Map)
    legacy: bool = False  # restored from a whole-state value: the first persist writes everything
    index_body: bytes = b""  # the index last written, less its generation and offset
    offset: int = -1  # inbox offset of the last event applied (-1: none known)

    def at(self, offset: int) -> PoolImage:
        """The same state, having consumed the inbox up to `offset` (an event that changed nothing, or a
        record parked as a dead letter): stored with the next event that writes."""
        return replace(self, offset=max(offset, self.offset))


def index_key(pool_id: str) -> bytes:
    return pool_id.encode()  # the key the whole state had, so an older value is found and upgraded


def job_key(pool_id: str, job_id: str) -> bytes:
    return f"{pool_id}/job/{job_id}".encode()


def persist(
    image: PoolImage,
    after: SchedulerState,
    offset: int | None = None,
    changed: Collection[str] | None = None,
) -> tuple[PoolImage, list[Write]]:
    """The image after `after`, the state an event at inbox `offset` led to, and the table writes that
    record it (the index last). Jobs are compared by identity: `apply` keeps the objects of the jobs an
    event did not touch; `changed` (from `apply_noting_changes`) limits the comparison to the jobs it
    touched, so storing an event does not cost a look at every queued job."""
    before, pool, gen = image.state, after.pool_id, image.gen + 1
    offset = image.offset if offset is None else offset
    old_jobs = {} if image.legacy else before.jobs
    orders, next_order = image.orders.mutate(), image.next_order
    writes: list[Write] = []

    def entry(job_id: str, body: _Body, prev: _Body | None) -> None:
        value = {"gen": gen, **body, "prev": prev}
        writes.append((job_key(pool, job_id), _dumps(value)))

    candidates = after.jobs if changed is None or image.legacy else [j for j in changed if j in after.jobs]
    for job_id in candidates:
        job, old = after.jobs[job_id], old_jobs.get(job_id)
        if old is job:
            continue
        if job_id not in orders:
            orders[job_id], next_order = next_order, next_order + 1
        new = _job_body(job, orders[job_id])
        entry(job_id, new, _patch(_job_body(old, orders[job_id]), new) if old else None)
    old_finished = set() if image.legacy else set(before.finished)
    new_finished = [job_id for job_id in after.finished if job_id not in old_finished]
    count = image.finished_count
    for job_id in new_finished:
        old = old_jobs.get(job_id)
        entry(job_id, {"finished": count}, _job_body(old, orders[job_id]) if old else None)
        orders.pop(job_id, None)
        count += 1
    kept = set(after.finished)
    writes.extend((job_key(pool, job_id), None) for job_id in before.finished if job_id not in kept)
    looked_at = image.orders if changed is None else changed
    gone = [j for j in looked_at if j in orders and j not in after.jobs]
    for job_id in gone:  # left without finishing (no such path today)
        orders.pop(job_id)
        writes.append((job_key(pool, job_id), None))
    index = {
        "finished_count": count,
        "next_order": next_order,
        "state": to_datum(replace(after, jobs=immutables.Map(), finished=())),
    }
    body = _dumps(index)
    if not writes and body == image.index_body and not image.legacy:
        return replace(image, state=after, offset=offset), []  # e.g. a tick that changed nothing
    writes.append((index_key(pool), _dumps({"gen": gen, "offset": offset, **index})))
    image = PoolImage(after, gen, count, next_order, orders.finish(), index_body=body, offset=offset)
    return image, writes


def restore(pool_id: str, entries: Iterable[tuple[bytes, bytes]]) -> tuple[PoolImage, list[Write]]:
    """The image from the table's entries (any pool's: others are skipped), and the writes that put each
    torn entry back to its previous value (else a later index of the same generation would adopt it)."""
    prefix = job_key(pool_id, "")
    index: dict[str, Any] | None = None
    bodies: dict[str, dict[str, Any]] = {}
    for key, value in entries:
        if key == index_key(pool_id):
            index = orjson.loads(value)
        elif key.startswith(prefix):
            bodies[key[len(prefix) :].decode()] = orjson.loads(value)
    if index is None:
        index = {"gen": 0, "finished_count": 0, "next_order": 0, "state": to_datum(SchedulerState(pool_id))}
    if "state" not in index:  # a whole state, as the scheduler kept it before this module
        return PoolImage(_load_state(index), legacy=True), []
    jobs: list[tuple[int, str, Job]] = []
    finished: list[tuple[int, str]] = []
    repairs: list[Write] = []
    for job_id, stored in bodies.items():
        body: _Body | None = stored
        if stored["gen"] > index["gen"]:  # a torn write: the value before it
            body = _unpatch(stored, stored["prev"])
            repair = None if body is None else _dumps({**body, "gen": index["gen"], "prev": None})
            repairs.append((job_key(pool_id, job_id), repair))
        if body is None:
            continue
        if "finished" in body:
            finished.append((body["finished"], job_id))
        else:
            jobs.append((body["order"], job_id, _load_job(body["job"])))
    jobs.sort(key=lambda item: item[0])
    state = replace(
        _load_state(index["state"]),
        jobs=immutables.Map({job_id: job for _, job_id, job in jobs}),
        finished=tuple(job_id for _, job_id in sorted(finished))[-RECENTLY_FINISHED:],
    )
    orders = immutables.Map({job_id: order for order, job_id, _ in jobs})
    index_body = _dumps({k: index[k] for k in ("finished_count", "next_order", "state")})
    gen, count, next_order = index["gen"], index["finished_count"], index["next_order"]
    offset = index.get("offset", -1)  # absent: written before offsets were kept
    return PoolImage(state, gen, count, next_order, orders, index_body=index_body, offset=offset), repairs


def _patch(old: _Body, new: _Body) -> _Body:
    """The previous value of a job entry as what differs from the new one: an event that moves a queued
    job up one place changes a few status fields, not its prompt and parameters."""
    old_job, new_job = old["job"], new["job"]
    status = {k: v for k, v in old_job["status"].items() if new_job["status"].get(k) != v}
    parts = {k: v for k, v in old_job.items() if k != "status" and new_job.get(k) != v}
    return {"patch": {"status": status, **parts}}


def _unpatch(stored: _Body, prev: _Body | None) -> _Body | None:
    if prev is None or "patch" not in prev:
        return prev
    patch = prev["patch"]
    job = {**stored["job"], **{k: v for k, v in patch.items() if k != "status"}}
    job["status"] = {**stored["job"]["status"], **patch["status"]}
    return {"job": job, "order": stored["order"]}


def _job_body(job: Job, order: int) -> _Body:
    datum = to_datum(job)
    if datum["queued"] is not None:
        del datum["queued"]["admitted"]  # the job's own, stored once
    return {"job": datum, "order": order}


def _load_job(datum: dict[str, Any]) -> Job:
    if datum["queued"] is not None:
        datum = {**datum, "queued": {**datum["queued"], "admitted": datum["admitted"]}}
    job: Job = from_datum(Job, datum)
    return job


def _dumps(value: Any) -> bytes:
    # orjson: the index is encoded on every event (to see whether it changed); the json module's encoder
    # was a tenth of the scheduler's time. datetimes come out as isoformat() writes them.
    return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS)


def _load_state(datum: Any) -> SchedulerState:
    state: SchedulerState = from_datum(SchedulerState, datum)
    return replace(
        state,
        jobs=immutables.Map(state.jobs),
        slots=MappingProxyType(dict(state.slots)),
        service=MappingProxyType(dict(state.service)),
        cost_model=CostModel(MappingProxyType(dict(state.cost_model.learned))),
    )
