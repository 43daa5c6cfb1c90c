"""Admission as a plain service: a command in, the records it produces out, its state through a port.

No Faust or Kafka here: `AdmissionService.handle(command, store)` decides (admission_policy), charges the
tenant's quota (tenant_quota), and returns what to write, in order: records to queue (the scheduler inbox,
the tenant's limit state) and rejections to publish in turn (snapshot, then event). The store it reads and
writes (which pool each job went to, each tenant's quota) is `AdmissionStore`: a changelog-backed Faust
table in streams/admission.py, a dict in the tests.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

from reelstream.cost_model import work_units
from reelstream.http_settings import WebhookTargetPolicy
from reelstream.models import BUILTIN_MODELS, ModelRegistry
from reelstream.settings import TenantLimit
from schemas.events import (
    CancelJob,
    CancelRequested,
    Command,
    JobAdmitted,
    JobEventType,
    JobFinished,
    JobStatus,
    SubmitJob,
)
from schemas.topics import SCHEDULER_INBOX, TENANT_LIMITS, Topic
from streams.admission_policy import (
    Admit,
    Decision,
    Drop,
    ForwardCancel,
    PoolCapacity,
    Reject,
    Resend,
    decide,
    finished,
    has_finished,
    known_pool,
    rate_limited,
)
from streams.invariants import check_command, check_submission_target
from streams.limit_state import StateThrottle
from streams.long_job_tracking import LongJobTracker
from streams.tenant_quota import (
    GpuBudget,
    OverLimit,
    TenantQuota,
    charge,
    charged_seconds,
    refundable,
    refunded,
    released,
)

logger = logging.getLogger(__name__)


class AdmissionStore(Protocol):
    """Admission's state, sharded like the commands topic: the pool each job went to (admission_policy's
        marks: `b""` rejected, `pool|finished` done), what each admitted job took from its tenant's GPU budget
    (until it finishes), and each tenant's quota."""

    def pool(self, job_id: str) -> bytes | None: ...
    def set_pool(self, job_id: str, stored: bytes) -> None: ...
    def charged(self, job_id: str) -> float | None: ...
    def set_charged(self, job_id: str, seconds: float | None) -> None: ...
    def quota(self, tenant_id: str) -> TenantQuota | None: ...
    def set_quota(self, tenant_id: str, quota: TenantQuota) -> None: ...


@dataclass(frozen=True)
class Record:
    """A record to queue on `topic` (its acknowledgement awaited with the command's others)."""

    topic: Topic[Any]
    key: str
    value: Any
    partition: int | None = None


@dataclass(frozen=True)
class Rejection:
    """A job's final snapshot and its lifecycle event, published in turn (streams.publishing)."""

    status: JobStatus
    event_type: JobEventType


Output = Record | Rejection
Counted = Callable[[str, str], None]  # (decision, tenant id): e.g. Metrics.admission_decision


@dataclass
class AdmissionService:
    """One admission pool's decisions. `limits_of` gives a tenant's limits as they stand now (configured,
    replaced by admin-set ones); `pool_partition` a pool's scheduler inbox partition."""

    pool_id: str
    capacity: PoolCapacity
    default_model: str
    limits_of: Callable[[str], TenantLimit]
    pool_partition: Callable[[str], int]
    counted: Counted | None = None
    models: ModelRegistry = BUILTIN_MODELS  # the registered models (their limits judge each submission)
    gpu_budget: GpuBudget | None = None  # expected GPU seconds per tenant and window
    throttle: StateThrottle = field(default_factory=StateThrottle)  # what was published, per tenant
    long_jobs: LongJobTracker = field(default_factory=LongJobTracker)  # the long-job estimator's verdicts
    targets: WebhookTargetPolicy = field(
        default_factory=WebhookTargetPolicy
    )  # where a job's webhook_url may point (as ingest)

    def handle(self, command: Command, store: AdmissionStore) -> list[Output]:
        """What `command` produces, in the order to write it; `store` is updated on the way.
        Raises InvalidRecordError for a command that breaks the topic's invariants (dead-lettered), and
        for a new submission whose webhook_url breaks ingest's rules: a rejection would be delivered to
        that very URL, so it is parked with the reason instead."""
        check_command(command)
        if isinstance(command, JobFinished):
            return self._release(command, store)
        if isinstance(command, SubmitJob) and store.pool(command.job_id) is None:
            check_submission_target(command, self.targets)
        outputs: list[Output] = []
        decision = self._decision(command, store, outputs)
        self._count(type(decision).__name__.lower(), command.tenant_id)
        match decision:
            case Admit(admitted):
                store.set_pool(command.job_id, self.pool_id.encode())
                outputs.append(self._to_scheduler(self._capped(admitted, store)))
                logger.info("job admitted to pool %s", self.pool_id, extra=_ids(command))
            case Resend(admitted):
                outputs.append(self._to_scheduler(self._capped(admitted, store)))
                logger.info("admission sent again (the submission came again)", extra=_ids(command))
            case ForwardCancel(request):
                outputs.append(self._to_scheduler(request))
            case Reject(rejection):
                store.set_pool(command.job_id, b"")
                outputs.append(Rejection(rejection.status, rejection.type))
                reason = rejection.status.error.code if rejection.status.error else "rejected"
                logger.info("job rejected: %s", reason, extra=_ids(command))
            case Drop(reason):
                logger.info("dropped command: %s", reason, extra={"job_id": command.job_id})
        return outputs

    def limit_state(self, tenant_id: str, quota: TenantQuota, now: float) -> list[Output]:
        """The tenant's limit state on reelstream.tenants.limits, when it changed materially (or its limits
        did: an admin set new ones)."""
        state = self.throttle.next_state(tenant_id, quota, self.limits_of(tenant_id), now, self.gpu_budget)
        return [] if state is None else [Record(TENANT_LIMITS, tenant_id, state)]

    def _decision(
        self, command: SubmitJob | CancelJob, store: AdmissionStore, outputs: list[Output]
    ) -> Decision:
        """The policy's decision; a submission it admits is charged to its tenant first (and refused when
        the tenant is over its limits), its limit state queued into `outputs`."""
        stored = store.pool(command.job_id)
        decision = decide(
            command,
            known_pool(stored),
            pool_id=self.pool_id,
            capacity=self.capacity,
            default_model=self.default_model,
            job_finished=has_finished(stored),
            models=self.models,
        )
        if isinstance(decision, Admit) and isinstance(command, SubmitJob):
            now = command.occurred_at.timestamp()
            params = decision.admitted.params
            gpu_seconds = self.models[params.model].prior_for(params.tier) * work_units(params)
            limit = self.limits_of(command.tenant_id)
            verdict = charge(store.quota(command.tenant_id), limit, now, gpu_seconds, self.gpu_budget)
            store.set_quota(command.tenant_id, verdict.quota)
            outputs += self.limit_state(command.tenant_id, verdict.quota, now)
            if isinstance(verdict, OverLimit):
                return rate_limited(command, verdict.reason)
            if self.gpu_budget is not None:
                store.set_charged(command.job_id, charged_seconds(gpu_seconds, self.gpu_budget))
        return decision

    def _release(self, done: JobFinished, store: AdmissionStore) -> list[Output]:
        """The job's place in its tenant's queue is free, unless it was freed already."""
        after = finished(store.pool(done.job_id))
        if after is None:
            return []
        store.set_pool(done.job_id, after)
        self.long_jobs.finished(done)
        outputs: list[Output] = []
        charged = store.charged(done.job_id)
        store.set_charged(done.job_id, None)
        quota = store.quota(done.tenant_id)
        if quota is not None:
            quota = released(quota)
            if charged and refundable(done):
                quota = refunded(quota, charged, self.gpu_budget, done.occurred_at.timestamp())
            store.set_quota(done.tenant_id, quota)
            outputs += self.limit_state(done.tenant_id, quota, done.occurred_at.timestamp())
        self._count("released", done.tenant_id)
        return outputs

    def _capped(self, admitted: JobAdmitted, store: AdmissionStore) -> JobAdmitted:
        """With the tenant's running cap and gang limit as they stand now (the scheduler applies them), and
        the long-job estimator's verdict."""
        quota = store.quota(admitted.tenant_id)
        scored = self.long_jobs.scored(admitted, quota.queued if quota else 0)
        limit = self.limits_of(admitted.tenant_id)
        return replace(scored, running_cap=limit.running, max_gang_slots=limit.gang)

    def _to_scheduler(self, record: JobAdmitted | CancelRequested) -> Record:
        """To the scheduler inbox's partition of the record's pool."""
        return Record(SCHEDULER_INBOX, record.pool_id, record, self.pool_partition(record.pool_id))

    def _count(self, decision: str, tenant_id: str) -> None:
        if self.counted is not None:
            self.counted(decision, tenant_id)


def _ids(command: Command) -> dict[str, str]:
    return {"job_id": command.job_id, "tenant_id": command.tenant_id}
