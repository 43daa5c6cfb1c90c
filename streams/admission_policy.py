"""What admission decides about one command, as a pure function of the command and what it has seen.

What it has seen of a job id is one stored value (admission's `job-pools` table): the pool the job was
admitted to, "" if it was rejected, and the pool with FINISHED_MARK once the scheduler said the job finished
(JobFinished), which frees its place in its tenant's queue exactly once."""

from __future__ import annotations

from dataclasses import dataclass

from reelstream.models import BUILTIN_MODELS, ModelRegistry
from reelstream.params import InvalidRequest, WorkloadTooLarge, check_workload, validate_submission
from schemas.events import (
    CancelJob,
    CancelRequested,
    ErrorInfo,
    JobAdmitted,
    JobEvent,
    JobEventType,
    JobState,
    JobStatus,
    RenderParams,
    SubmitJob,
)


@dataclass(frozen=True)
class Admit:
    admitted: JobAdmitted


@dataclass(frozen=True)
class Reject:
    event: JobEvent  # its status is the job's final snapshot (state rejected)


@dataclass(frozen=True)
class ForwardCancel:
    request: CancelRequested


@dataclass(frozen=True)
class Resend:
    """A submission seen again whose job was admitted and has not finished: a redelivery after a crash,
    whose first JobAdmitted may have died with the process after the job's pool was stored. It goes to the
    scheduler again (which drops an admission it knows), uncharged."""

    admitted: JobAdmitted


@dataclass(frozen=True)
class Drop:
    reason: str


Decision = Admit | Resend | Reject | ForwardCancel | Drop

FINISHED_MARK = b"|finished"


def known_pool(stored: bytes | None) -> str | None:
    """The pool of an earlier submission of the job id: None if never seen, "" if it was rejected."""
    return None if stored is None else stored.removesuffix(FINISHED_MARK).decode()


def has_finished(stored: bytes | None) -> bool:
    return stored is not None and stored.endswith(FINISHED_MARK)


def finished(stored: bytes | None) -> bytes | None:
    """What to store once the scheduler says the job finished, or None when that frees no place: the job
    was never admitted, was rejected, or its place was freed already (a JobFinished written again)."""
    if not stored or stored.endswith(FINISHED_MARK):
        return None
    return stored + FINISHED_MARK


@dataclass(frozen=True)
class PoolCapacity:
    """What the pool's slots can run (from configuration): jobs beyond it are rejected, never queued forever.

    A configured model with no slot up at the moment (scaled to zero) still queues: a slot may appear. A job
    larger than the largest slot is refused as at submit (reelstream.params.check_workload):
    `workload_too_large`."""

    models: frozenset[str] | None = None  # None: every model reelstream knows
    max_work_units: int | None = None  # frames × width × height of the largest slot; None: no limit

    def refusal(self, params: RenderParams) -> str | None:
        if self.models is not None and params.model not in self.models:
            return f"no slot of this pool serves {params.model} (served: {', '.join(sorted(self.models))})"
        return None


def decide(
    command: SubmitJob | CancelJob,
    known_pool: str | None,
    *,
    pool_id: str,
    default_model: str,
    capacity: PoolCapacity = PoolCapacity(),
    job_finished: bool = False,
    models: ModelRegistry = BUILTIN_MODELS,
) -> Decision:
    """`known_pool` is the pool of an earlier submission with the same job id: None if never seen, "" if that
    submission was rejected; `job_finished`: that job finished since."""
    if isinstance(command, CancelJob):
        if not known_pool:
            return Drop("cancel of a job that was never admitted")
        return ForwardCancel(
            CancelRequested(
                job_id=command.job_id,
                tenant_id=command.tenant_id,
                pool_id=known_pool,
                reason=command.reason,
                delete=command.delete,
            )
        )
    if known_pool is not None and (job_finished or not known_pool):
        return Drop("duplicate submission")
    try:
        params = validate_submission(
            command.prompt,
            command.negative_prompt,
            command.params,
            command.webhook_url,
            dict(command.metadata),
            default_model=default_model,
            models=models,
        )
    except InvalidRequest as exc:
        if known_pool:  # admitted once: never rejected after the fact
            return Drop(f"submission seen again no longer valid: {exc.code}")
        return Reject(_rejection(command, exc.code, exc.message))
    if known_pool:
        return Resend(_admitted(command, params, known_pool))
    refusal = capacity.refusal(params)
    if refusal is not None:
        return Reject(_rejection(command, "no_capacity", refusal))
    try:  # the pool's limit once the model is known to be served (the model's own limit was checked)
        check_workload(params, models[params.model], command.params, capacity.max_work_units)
    except WorkloadTooLarge as exc:
        return Reject(_rejection(command, exc.code, exc.message))
    return Admit(_admitted(command, params, pool_id))


def _admitted(command: SubmitJob, params: RenderParams, pool_id: str) -> JobAdmitted:
    return JobAdmitted(
        job_id=command.job_id,
        tenant_id=command.tenant_id,
        pool_id=pool_id,
        prompt=command.prompt,
        negative_prompt=command.negative_prompt,
        params=params,
        webhook_url=command.webhook_url,
        prompt_words=len(command.prompt.split()),  # counted in clear: the load classes downstream
        metadata=dict(command.metadata),
        submitted_at=command.occurred_at,
        priority=command.priority,
        deadline=command.deadline,
    )


def rate_limited(command: SubmitJob, reason: str) -> Reject:
    """The tenant is over its rate or queue cap (streams.tenant_quota): webhooks say `rate_limited`."""
    return Reject(_rejection(command, "rate_limited", reason))


def _rejection(command: SubmitJob, code: str, message: str) -> JobEvent:
    now = command.occurred_at
    status = JobStatus(
        job_id=command.job_id,
        tenant_id=command.tenant_id,
        state=JobState.REJECTED,
        prompt=command.prompt,
        negative_prompt=command.negative_prompt,
        webhook_url=command.webhook_url,
        prompt_words=len(command.prompt.split()),
        metadata=dict(command.metadata),
        created_at=now,
        updated_at=now,
        state_times={"accepted": now, "rejected": now},
        error=ErrorInfo(code=code, message=message, retriable=False),
        version=1,
    )
    return JobEvent(
        job_id=command.job_id, tenant_id=command.tenant_id, type=JobEventType.REJECTED, status=status
    )
