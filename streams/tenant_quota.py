"""What a tenant may still submit: a token bucket on submissions, a cap on its jobs in the queue, and a
budget of expected GPU seconds per window (a second bucket, filled at budget / window a second).

The budget is charged a job's expected GPU seconds (the cost model's prediction) when it is admitted, and
given back, whole, when the tenant got no GPU work for them (`refundable`): a job that ended without an
attempt starting (canceled, deleted or expired while queued), or that failed (admission validated it, so a
failure is the platform's: a lost worker or device, a render error or timeout, a broken artifact). A job
that succeeded, or that the tenant canceled while it rendered, keeps its charge: the GPU worked for it.

Pure: admission passes the tenant's stored quota, its limit and the command's time; it stores the result.
"""

from __future__ import annotations

from dataclasses import dataclass

import orjson

from reelstream.settings import TenantLimit
from schemas.events import JobFinished, JobState
from streams.rate_limit import Bucket, BucketLimits, refill, take, wait_seconds


@dataclass(frozen=True)
class GpuBudget:
    """Expected GPU seconds (the cost model's prediction) a tenant's jobs may take per window: at most
    `seconds` at once, refilled at `seconds / window_seconds` a second."""

    seconds: float
    window_seconds: float

    def limits(self) -> BucketLimits:
        return BucketLimits(rate=self.seconds / self.window_seconds, burst=self.seconds)


@dataclass(frozen=True)
class TenantQuota:
    bucket: Bucket
    queued: int = 0  # jobs admitted and not yet terminal
    gpu: Bucket | None = None  # GPU seconds left in the budget (None: full, or no budget)

    def encode(self) -> bytes:
        # orjson: written on every admission (json's encoder and decoder were 5 % of admission's time)
        value: dict[str, float] = {
            "tokens": self.bucket.tokens,
            "updated": self.bucket.updated,
            "queued": self.queued,
        }
        if self.gpu is not None:
            value.update(gpu_tokens=self.gpu.tokens, gpu_updated=self.gpu.updated)
        return orjson.dumps(value)

    @classmethod
    def decode(cls, raw: bytes) -> TenantQuota:
        value = orjson.loads(raw)
        gpu = (
            Bucket(float(value["gpu_tokens"]), float(value["gpu_updated"])) if "gpu_tokens" in value else None
        )
        return cls(Bucket(float(value["tokens"]), float(value["updated"])), int(value["queued"]), gpu)


@dataclass(frozen=True)
class Charged:
    quota: TenantQuota


@dataclass(frozen=True)
class OverLimit:
    quota: TenantQuota
    reason: str
    retry_after_seconds: float


def bucket_limits(limit: TenantLimit) -> BucketLimits:
    return BucketLimits(rate=limit.rate, burst=limit.burst)


def charge(
    quota: TenantQuota | None,
    limit: TenantLimit,
    now: float,
    gpu_seconds: float = 0.0,
    budget: GpuBudget | None = None,
) -> Charged | OverLimit:
    """One submission: it takes a token, a queue place and its expected `gpu_seconds` from the budget, or
    none of them (a refused one costs nothing). A job larger than the whole budget takes all of it."""
    limits = bucket_limits(limit)
    current = quota or TenantQuota(Bucket.full(limits, now))
    if current.queued >= limit.queued:
        return OverLimit(current, f"{current.queued} jobs already queued (limit {limit.queued})", 1.0)
    gpu = current.gpu
    if budget is not None:
        gpu_limits, cost = budget.limits(), min(gpu_seconds, budget.seconds)
        taken, gpu = take(gpu or Bucket.full(gpu_limits, now), gpu_limits, now, cost)
        if not taken:
            return OverLimit(
                TenantQuota(current.bucket, current.queued, gpu),
                f"over its budget of {budget.seconds:g} GPU seconds per {budget.window_seconds:g} s",
                wait_seconds(gpu, gpu_limits, now, cost),
            )
    taken, bucket = take(current.bucket, limits, now)
    if not taken:
        wait = wait_seconds(bucket, limits, now)
        return OverLimit(
            TenantQuota(bucket, current.queued, current.gpu),
            f"over {limit.rate:g} submissions/s (burst {limit.burst:g})",
            wait,
        )
    return Charged(TenantQuota(bucket, current.queued + 1, gpu))


def released(quota: TenantQuota) -> TenantQuota:
    """One of the tenant's admitted jobs reached a terminal state (never below zero: redeliveries happen)."""
    return TenantQuota(quota.bucket, max(0, quota.queued - 1), quota.gpu)


def charged_seconds(gpu_seconds: float, budget: GpuBudget | None) -> float:
    """What `charge` takes from the budget for a job expected to take `gpu_seconds` (0: no budget)."""
    return 0.0 if budget is None else min(gpu_seconds, budget.seconds)


def refundable(done: JobFinished) -> bool:
    """Whether a finished job's charge goes back to its tenant's budget (see the module's docstring)."""
    if done.state is JobState.FAILED:
        return True
    return done.state in (JobState.CANCELED, JobState.EXPIRED) and done.started is False


def refunded(quota: TenantQuota, seconds: float, budget: GpuBudget | None, now: float) -> TenantQuota:
    """`quota` with `seconds` given back to its GPU budget (never above a full budget)."""
    if budget is None or quota.gpu is None or seconds <= 0:
        return quota
    limits = budget.limits()
    gpu = refill(quota.gpu, limits, now)
    return TenantQuota(
        quota.bucket, quota.queued, Bucket(min(limits.burst, gpu.tokens + seconds), gpu.updated)
    )


def gpu_remaining(quota: TenantQuota, budget: GpuBudget, now: float) -> float:
    """Expected GPU seconds left in the budget at `now` (a tenant that never spent any has all of it)."""
    return budget.seconds if quota.gpu is None else refill(quota.gpu, budget.limits(), now).tokens
