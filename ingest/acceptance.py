"""Accepting a job under an idempotency key: the two record writes around the SubmitJob (rules in
`ingest.idempotency`). Route handlers call `accept`; errors are raised for `ingest.problems` to render."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
from dataclasses import dataclass
from datetime import timedelta

from ingest import limits
from ingest.context import IngestContext
from ingest.errors import IdempotencyInProgress, IdempotencyKeyReused, NotReady
from ingest.idempotency import Decision, Outcome, decide, record_key, request_sha256, same_claim
from ingest.submission import (
    Submission,
    accepted_status,
    parse_json_object,
    parse_submission,
    submit_command,
)
from reelstream.errors import ReelstreamError
from schemas.events import IdempotencyRecord, JobStatus, new_id, utc_now
from schemas.topics import COMMANDS, IDEMPOTENCY

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Accepted:
    status: JobStatus
    replayed: bool  # True: an earlier request with this key created the job; nothing was produced now


def parse(context: IngestContext, body: bytes) -> Submission:
    """The body as a submission, by the configured models: a model no pool serves, or a job larger than the
    model or the pool allows, is refused here."""
    pipeline = context.settings.pipeline
    return parse_submission(
        body,
        default_model=pipeline.default_model,
        models=pipeline.models,
        served=pipeline.pool_models,
        pool_max_work_units=pipeline.pool_max_work_units,
        targets=context.settings.webhook_targets,
    )


async def submit(
    context: IngestContext,
    tenant_id: str,
    body: bytes,
    job_id: str | None = None,
    *,
    submission: Submission | None = None,
    taking_over: bool = False,
) -> JobStatus:
    """Validate, produce the SubmitJob (acknowledged by the broker) and show the job's placeholder.
    `submission`: `body` already parsed by the caller (it is not parsed twice); `taking_over`: an earlier
    attempt of this job may have published its key already (it is reused, never replaced)."""
    if submission is None:
        submission = parse(context, body)
    command = submit_command(submission, tenant_id, job_id)
    if context.sealed_jobs is not None:  # sealed under a key of its own (reelstream.crypto.job_fields)
        command = await context.sealed_jobs.sealed(command, taking_over=taking_over)
    record = context.publisher.serde.serialize(COMMANDS, command)  # once: produced, and kept by the view
    await context.publisher.publish(COMMANDS, tenant_id, command, data=record)
    logger.info(
        "job %s accepted for tenant %s",
        command.job_id,
        tenant_id,
        extra={"job_id": command.job_id, "tenant_id": tenant_id},
    )
    placeholder = accepted_status(command, submission.params)
    if context.view.apply(placeholder, local=True, raw=record):
        return placeholder  # the usual case: nothing newer is known yet
    return context.view.get(command.job_id) or placeholder


async def accept(
    context: IngestContext,
    tenant_id: str,
    key: str,
    body: bytes,
    *,
    job_id: str | None = None,
    mismatch: ReelstreamError | None = None,
) -> Accepted:
    """Accept `body` once per (tenant, key); `job_id` fixes the id (PUT), `mismatch` replaces the 422 that
    a different body under a known key gets."""
    sha256 = request_sha256(parse_json_object(body))
    with context.in_flight.claim(tenant_id, key):
        now = utc_now()
        decision = decide_for(context, context.keys.get(tenant_id, key, now), sha256)
        if decision.outcome in ANSWERED:
            return await answer(context, tenant_id, decision, mismatch)
        if decision.outcome is Outcome.TAKE_OVER:
            logger.info(
                "taking over the unfinished acceptance of job %s",
                decision.job_id,
                extra={"job_id": decision.job_id, "tenant_id": tenant_id},
            )
        limits.enforce(context, tenant_id)  # 429 before writing; a replay above is never throttled
        submission = parse(context, body)  # 4xx before writing
        chosen = decision.job_id or job_id or new_id()
        expires_at = now + timedelta(seconds=context.settings.idempotency_ttl_seconds)
        pending = IdempotencyRecord(tenant_id, key, sha256, chosen, completed=False, expires_at=expires_at)
        owner = await claim(context, pending)
        if not same_claim(owner, pending):  # another replica's claim reached the log first
            return await answer(context, tenant_id, decide_for(context, owner, sha256), mismatch)
        taking_over = decision.outcome is Outcome.TAKE_OVER
        status = await submit(
            context, tenant_id, body, chosen, submission=submission, taking_over=taking_over
        )
        await write_record(context, dataclasses.replace(pending, completed=True, occurred_at=utc_now()))
        return Accepted(status, replayed=False)


ANSWERED = frozenset({Outcome.MISMATCH, Outcome.IN_PROGRESS, Outcome.REPLAY})


def decide_for(context: IngestContext, record: IdempotencyRecord | None, sha256: str) -> Decision:
    stale_after = timedelta(seconds=context.settings.produce_timeout_seconds)
    return decide(record, sha256, utc_now(), stale_after=stale_after)


async def answer(
    context: IngestContext, tenant_id: str, decision: Decision, mismatch: ReelstreamError | None
) -> Accepted:
    """The answer to a request whose key is already claimed: 422 (or `mismatch`), 409, or a replay.
    A request that lost a race to a claim that is already stale answers 409 too: its retry takes over."""
    if decision.outcome is Outcome.MISMATCH:
        raise mismatch or IdempotencyKeyReused("this Idempotency-Key was used with a different body")
    if decision.outcome is Outcome.REPLAY and decision.job_id is not None:
        return Accepted(await replayed_status(context, tenant_id, decision.job_id), replayed=True)
    raise IdempotencyInProgress("a request with this Idempotency-Key is still being accepted")


async def claim(context: IngestContext, pending: IdempotencyRecord) -> IdempotencyRecord:
    """Write the pending record, read the key's partition back past it, and return the key's owner: the
    first live claim in log order (`IdempotencyIndex`), so two replicas that raced agree on one. A loser
    writes the owner's record again, so that the key's last record (all compaction keeps) is the owner's."""
    key = record_key(pending.tenant_id, pending.idempotency_key)
    written = await context.publisher.publish(IDEMPOTENCY, key, pending)
    try:
        async with asyncio.timeout(context.settings.produce_timeout_seconds):
            await context.keys.wait_applied(written.partition, written.offset)
    except (TimeoutError, RuntimeError):
        raise NotReady("the idempotency key could not be read back in time; retry") from None
    owner = context.keys.get(pending.tenant_id, pending.idempotency_key, utc_now())
    if owner is None:
        raise NotReady("the idempotency key could not be read back; retry")
    if not same_claim(owner, pending):
        await context.publisher.publish(IDEMPOTENCY, key, owner)
    return owner


async def write_record(context: IngestContext, record: IdempotencyRecord) -> None:
    key = record_key(record.tenant_id, record.idempotency_key)
    await context.publisher.publish(IDEMPOTENCY, key, record)
    context.keys.apply(record)


async def replayed_status(context: IngestContext, tenant_id: str, job_id: str) -> JobStatus:
    """The job an earlier request created. Another replica accepted it if this one has not seen it yet:
    wait (bounded by the produce timeout) for its first snapshot, else 503 so the client retries."""
    with context.view.subscribe(job_id) as updates:
        status = context.view.get(job_id)
        if status is None:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(context.settings.produce_timeout_seconds):
                    snapshot = await updates.get()  # None: deleted meanwhile
                    status = snapshot.status if snapshot is not None else None
    if status is None or status.tenant_id != tenant_id:
        raise NotReady(f"job {job_id} was accepted but is not visible yet; retry")
    return status
