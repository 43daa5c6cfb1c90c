"""A tenant's limit state as admission publishes it, and when a new state is worth publishing. Pure.

Admission charges by the commands' `occurred_at` (ingest's clock), so every time here is on that clock and
ingest can refill the bucket itself from `tokens`, `tokens_at` and `rate` without hearing from admission.
A state is published when it changes materially: at once when the tenant goes over or back under or its
limits change; at most once per `min_interval` when only its whole tokens, its queue count or the end of
its throttling moved (a tenant held at its rate moves the latter with every admitted command).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from reelstream.settings import TenantLimit
from schemas.events import TenantLimitsSet, TenantLimitState
from streams.rate_limit import Bucket, refill
from streams.tenant_quota import GpuBudget, TenantQuota, bucket_limits, gpu_remaining

OVER_RATE, OVER_QUEUED = "rate", "queued"
MIN_INTERVAL_SECONDS = 1.0
THROTTLE_TOLERANCE_SECONDS = 0.1
ROUNDING_SECONDS = 0.001  # the precision of the times in a state (Avro's timestamp-millis)


def _at(seconds: float) -> datetime:
    """Epoch seconds as a UTC datetime at the millisecond precision Avro keeps."""
    return datetime.fromtimestamp(round(seconds, 3), UTC)


def limit_state(
    tenant_id: str, quota: TenantQuota, limit: TenantLimit, now: float, budget: GpuBudget | None = None
) -> TenantLimitState:
    """The tenant's state at `now` (epoch seconds): its bucket refilled to `now`, what it is over, when
    a submission may be admitted again (None while over the queue cap: that waits for a job to finish), and
    what is left of its GPU-seconds budget."""
    bucket, over = _standing(quota, limit, now)
    until = _at(bucket.updated + (1 - bucket.tokens) / limit.rate) if over == OVER_RATE else None
    return TenantLimitState(
        tenant_id=tenant_id,
        rate=limit.rate,
        burst=limit.burst,
        tokens=bucket.tokens,
        tokens_at=_at(bucket.updated),
        full_at=_at(bucket.updated + (limit.burst - bucket.tokens) / limit.rate),
        queued=quota.queued,
        queued_cap=limit.queued,
        running_cap=limit.running,
        over=over,
        throttled_until=until,
        gpu_budget_seconds=None if budget is None else budget.seconds,
        gpu_window_seconds=None if budget is None else budget.window_seconds,
        gpu_remaining_seconds=None if budget is None else round(gpu_remaining(quota, budget, now), 3),
        occurred_at=_at(now),
    )


def _standing(quota: TenantQuota, limit: TenantLimit, now: float) -> tuple[Bucket, str | None]:
    """The tenant's bucket refilled to `now`, and what it is over (None: nothing)."""
    bucket = refill(quota.bucket, bucket_limits(limit), now)
    if quota.queued >= limit.queued:
        return bucket, OVER_QUEUED
    return bucket, OVER_RATE if bucket.tokens < 1 else None


def material_change(
    last: TenantLimitState | None, new: TenantLimitState, *, min_interval: float = MIN_INTERVAL_SECONDS
) -> bool:
    """Whether `new` is worth publishing after `last` (the state published before for the tenant)."""
    if last is None or last.over != new.over or _limits(last) != _limits(new):
        return True
    changed = _moved(last.throttled_until, new.throttled_until) or _counts(last) != _counts(new)
    return changed and new.occurred_at - last.occurred_at >= timedelta(seconds=min_interval)


def _limits(state: TenantLimitState) -> tuple[float, float, int, int | None, float | None]:
    return state.rate, state.burst, state.queued_cap, state.running_cap, state.gpu_budget_seconds


def _counts(state: TenantLimitState) -> tuple[int, int, int]:
    """Whole tokens, queued jobs and whole GPU seconds left: what moving is worth a new state."""
    return int(state.tokens), state.queued, int(state.gpu_remaining_seconds or 0)


def _moved(before: datetime | None, after: datetime | None) -> bool:
    """A throttle end that appeared, vanished or moved by more than rounding (refused commands keep it)."""
    if before is None or after is None:
        return before is not after
    return abs((after - before).total_seconds()) > THROTTLE_TOLERANCE_SECONDS


def limit_from_settings(record: TenantLimitsSet) -> TenantLimit:
    return TenantLimit(
        rate=record.rate, burst=record.burst, queued=record.queued, running=record.running, gang=record.gang
    )


@dataclass
class StateThrottle:
    """The state last published per tenant (process memory: after a restart the first change publishes)."""

    min_interval: float = MIN_INTERVAL_SECONDS

    def __post_init__(self) -> None:
        self._published: dict[str, tuple[TenantLimitState, float]] = {}  # and its time, epoch seconds

    def due(self, new: TenantLimitState) -> bool:
        """True (and remembered as published) if `new` should be published now."""
        last, _ = self._published.get(new.tenant_id, (None, 0.0))
        if not material_change(last, new, min_interval=self.min_interval):
            return False
        self._published[new.tenant_id] = new, new.occurred_at.timestamp()
        return True

    def next_state(
        self,
        tenant_id: str,
        quota: TenantQuota,
        limit: TenantLimit,
        now: float,
        budget: GpuBudget | None = None,
    ) -> TenantLimitState | None:
        """`limit_state(...)` if it is `due`, else None; without building the state when it cannot be due
        (what the tenant is over and its limits are as published, and the interval is not over yet), which
        is most commands: building it was 4 % of admission's time."""
        last, published_at = self._published.get(tenant_id, (None, 0.0))
        soon = now - published_at < self.min_interval - 2 * ROUNDING_SECONDS  # whatever the rounding
        if (
            last is not None
            and soon
            and _limits(last)
            == (limit.rate, limit.burst, limit.queued, limit.running, budget.seconds if budget else None)
            and _standing(quota, limit, now)[1] == last.over
        ):
            return None
        state = limit_state(tenant_id, quota, limit, now, budget)
        return state if self.due(state) else None
