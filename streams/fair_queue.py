"""The order in which a pool's queued jobs run: aging, then priority, then weighted fair sharing across
tenants, then shortest expected job first within a tenant.

Fair sharing is finish-time fair queuing over expected GPU seconds: a tenant's job finishes (virtually) at
the tenant's service so far plus the expected cost of its own jobs up to it, divided by the tenant's weight;
the smallest virtual finish runs first. A tenant with a thousand queued jobs therefore delays another's
first job by at most one job of its own. Aging bounds everything: a job that has waited longer than
`aging_factor` times the wait FIFO would have given it goes before all others, oldest first. Jobs the
long-job estimator predicts long (which shortest-first would put last) age by their own `long_aging_factor`:
they wait for short ones, but only that long.
"""

from __future__ import annotations

import heapq
import zlib
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from types import MappingProxyType

from schemas.events import JobAdmitted

# (not urgent, priority, aging deadline if urgent, virtual finish, arrival)
RankKey = tuple[int, int, float, float, int]


@dataclass(frozen=True)
class SchedulerPolicy:
    weights: Mapping[str, float] = field(default_factory=lambda: MappingProxyType({}))
    default_weight: float = 1.0
    aging_factor: float = 2.0
    long_aging_factor: float = 3.0  # the aging of jobs predicted long
    long_retry_deadline_multiple: float = 2.0  # the render deadline stretch of a long job's one retry
    min_aging: timedelta = timedelta(seconds=30)
    lease: timedelta = timedelta(seconds=30)
    dispatch_grace: timedelta = timedelta(seconds=15)
    max_attempts: int = 3
    refresh_limit: int = 200  # queued jobs whose position/ETA snapshots are refreshed per tick
    retry_backoff: timedelta = timedelta(
        seconds=2
    )  # before the retry of a failed attempt; doubles per attempt
    retry_backoff_max: timedelta = timedelta(seconds=120)
    # the most of the pool's live slots one tenant holds while another tenant's job could take a slot
    # (at least one slot each); None: no bound beyond the running caps
    max_slot_share: float | None = 0.5
    # the most slots one job's attempt takes at once (a gang, streams.gang); a power of two; 1: no gangs
    gang_max_slots: int = 1  # the live scheduler takes REELSTREAM_GANG_MAX_SLOTS
    # each model's own ceiling (ModelSpec.max_gang_slots: how far its renderer splits a job); a model not
    # named renders on one slot. None: no ceiling per model (the pure tests' pools)
    model_gang_slots: Mapping[str, int] | None = None
    # attempts one slot keeps in their finish (encode, upload) while its GPU takes the next dispatch
    # (streams.finishing); 0: a slot holds an attempt until its outcome
    max_finishing: int = 0  # the live scheduler takes REELSTREAM_WORKER_MAX_FINISHING

    def weight(self, tenant: str) -> float:
        return max(self.weights.get(tenant, self.default_weight), 1e-6)

    def gang_slots_for(self, model: str) -> int:
        """The most slots one job of `model` takes at once."""
        if self.model_gang_slots is None:
            return self.gang_max_slots
        return min(self.gang_max_slots, self.model_gang_slots.get(model, 1))

    def slot_share_cap(self, live_slots: int) -> int | None:
        """Slots one tenant may hold of `live_slots` while others wait: its share rounded down, at least 1."""
        if self.max_slot_share is None:
            return None
        return max(1, int(self.max_slot_share * live_slots + 1e-9))


@dataclass(frozen=True)
class QueuedJob:
    """What ordering needs to know of a queued job."""

    admitted: JobAdmitted
    seq: int  # arrival order in the pool
    queued_at: datetime
    cost: float  # expected render seconds
    fifo_wait: float  # seconds FIFO would have made it wait, estimated when it arrived
    retried: bool = False
    not_before: datetime | None = None  # a failed attempt's retry waits out its backoff
    avoid_slot: int | None = None  # the slot whose render timed out: another live slot takes the retry

    @property
    def tenant(self) -> str:
        return self.admitted.tenant_id


def aging_deadline(job: QueuedJob, policy: SchedulerPolicy) -> float:
    """Seconds after arrival by which the job should have started: its aging factor × its FIFO wait."""
    factor = policy.long_aging_factor if job.admitted.predicted_long else policy.aging_factor
    return max(factor * job.fifo_wait, policy.min_aging.total_seconds())


def is_urgent(job: QueuedJob, now: datetime, policy: SchedulerPolicy, lookahead: float = 0.0) -> bool:
    """Past its aging deadline, or due before a slot is likely to free up again (`lookahead` seconds)."""
    return (now - job.queued_at).total_seconds() + lookahead > aging_deadline(job, policy)


def ranked(
    jobs: Iterable[QueuedJob], service: Mapping[str, float], now: datetime, policy: SchedulerPolicy
) -> list[tuple[RankKey, QueuedJob]]:
    """Every given job with the key it runs by (smallest first); callers take min() or nsmallest() of it
    instead of sorting the whole queue."""
    per_tenant: dict[str, list[QueuedJob]] = defaultdict(list)
    for job in jobs:
        per_tenant[job.tenant].append(job)
    floor = min((service.get(t, 0.0) for t in per_tenant), default=0.0)
    # due within about one job's time is due now: a slot has to free up before it can start
    costs = [j.cost for q in per_tenant.values() for j in q]
    lookahead = sum(costs) / len(costs) if costs else 0.0
    keyed: list[tuple[RankKey, QueuedJob]] = []
    for tenant, queue in per_tenant.items():
        queue.sort(key=lambda j: (not j.retried, j.admitted.priority.rank, j.cost, j.seq))
        finish = max(service.get(tenant, floor), floor)
        for job in queue:
            finish += job.cost / policy.weight(tenant)
            urgent = is_urgent(job, now, policy, lookahead)
            due = job.queued_at.timestamp() + aging_deadline(job, policy) if urgent else 0.0
            key = (0 if urgent else 1, job.admitted.priority.rank, due, finish, job.seq)
            keyed.append((key, job))
    return keyed


def first(
    jobs: Iterable[QueuedJob], service: Mapping[str, float], now: datetime, policy: SchedulerPolicy
) -> QueuedJob | None:
    """The job that runs next, or None."""
    keyed = ranked(jobs, service, now, policy)
    return min(keyed, key=lambda item: item[0])[1] if keyed else None


def order(
    jobs: Iterable[QueuedJob],
    service: Mapping[str, float],
    now: datetime,
    policy: SchedulerPolicy,
    limit: int | None = None,
) -> list[QueuedJob]:
    """The jobs in the order they would run (only the first `limit` if given)."""
    keyed = ranked(jobs, service, now, policy)
    best = (
        heapq.nsmallest(limit, keyed, key=lambda item: item[0])
        if limit is not None
        else sorted(keyed, key=lambda item: item[0])
    )
    return [job for _, job in best]


def charge(
    service: Mapping[str, float], active: Iterable[str], tenant: str, cost: float, policy: SchedulerPolicy
) -> dict[str, float]:
    """Account a dispatch: the tenant's virtual service grows by cost / weight, starting no lower than the
    least-served active tenant (so an idle tenant cannot bank service and later monopolise the pool)."""
    floor = min((service.get(t, 0.0) for t in active), default=0.0)
    updated = dict(service)
    updated[tenant] = max(service.get(tenant, floor), floor) + cost / policy.weight(tenant)
    return updated


def retry_backoff(job_id: str, attempt: int, policy: SchedulerPolicy) -> timedelta:
    """How long the retry after failed attempt `attempt` waits: exponential, capped, with jitter in
    [0.5, 1.5) × drawn from the job id and attempt (deterministic: replaying the inbox decides the same)."""
    base = min(policy.retry_backoff * (1 << max(attempt - 1, 0)), policy.retry_backoff_max)
    jitter = 0.5 + zlib.crc32(f"{job_id}/{attempt}".encode()) / 2**32
    return base * jitter
