"""Tenant limits at the door: a clearly throttled tenant gets 429 before anything is produced, and accepted
submissions carry the RateLimit headers. Admission stays the authority: a submission let through here may
still be rejected `rate_limited` there (ingest's view of the state lags by a round trip).

`GET /v1/limits` shows the caller's tenant its limits and where it stands, as admission last published them
(reelstream.tenants.limits): the submission bucket, the queue, and the GPU-seconds budget (used and
remaining, refilled to now). Before admission published anything for the tenant, the configured limits
with nothing used (`as_of` null)."""

from __future__ import annotations

import logging
import random
from datetime import datetime
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from ingest.auth import principal_of
from ingest.context import IngestContext, context_of
from ingest.errors import RateLimited
from ingest.rate_limit_headers import limit_headers, throttled_headers
from reelstream.settings import TenantLimit
from schemas.events import TenantLimitState, utc_now

logger = logging.getLogger(__name__)

_JITTER = random.Random()  # noqa: S311 - spreads retries, no secret


def enforce(context: IngestContext, tenant_id: str) -> None:
    """Raise RateLimited (429 with Retry-After and RateLimit headers) if the tenant is clearly over."""
    state = context.limits.get(tenant_id) if context.limits is not None else None
    if state is None:
        return
    headers = throttled_headers(state, utc_now(), _JITTER)
    if headers is None:
        return
    logger.debug(  # debug: a flooding client must not flood the log too (429s are counted in metrics)
        "submission of tenant %s throttled (over %s)",
        tenant_id,
        state.over or "rate",
        extra={"tenant_id": tenant_id},
    )
    over = "its queue cap" if state.over == "queued" else f"{state.rate:g} submissions/s"
    raise RateLimited(f"tenant {tenant_id} is over {over}; retry after Retry-After seconds", headers)


def headers(context: IngestContext, tenant_id: str) -> dict[str, str]:
    """RateLimit-Policy and RateLimit for an accepted submission (none while the state is unknown)."""
    state = context.limits.get(tenant_id) if context.limits is not None else None
    return limit_headers(state, utc_now(), spent=1) if state is not None else {}


def _iso(at: datetime | None) -> str | None:
    return None if at is None else at.isoformat().replace("+00:00", "Z")


def gpu_resource(budget: float, window: float, remaining: float, elapsed: float) -> dict[str, float]:
    """The budget refilled by `elapsed` seconds since `remaining` was published (never above the budget)."""
    now_left = min(budget, max(0.0, remaining) + max(0.0, elapsed) * budget / window)
    return {
        "budget": budget,
        "window_seconds": window,
        "used": round(budget - now_left, 3),
        "remaining": round(now_left, 3),
    }


def limits_resource(
    tenant_id: str,
    state: TenantLimitState | None,
    configured: TenantLimit,
    budget: tuple[float | None, float],
    now: datetime,
) -> dict[str, Any]:
    """The caller's limits and use of them: admission's last state, or the configured limits, unused.
    `budget`: the configured GPU seconds per window (None: no budget) and the window."""
    seconds, window = budget
    if state is None:
        gpu = None if seconds is None else gpu_resource(seconds, window, seconds, 0.0)
        return {
            "object": "limits",
            "tenant": tenant_id,
            "as_of": None,
            "rate": configured.rate,
            "burst": configured.burst,
            "tokens": configured.burst,
            "queued": 0,
            "queued_cap": configured.queued,
            "running_cap": configured.running,
            "over": None,
            "throttled_until": None,
            "gpu_seconds": gpu,
        }
    elapsed = (now - state.occurred_at).total_seconds()
    if state.gpu_budget_seconds is None or state.gpu_remaining_seconds is None:
        gpu = None
    else:
        window = state.gpu_window_seconds or window
        gpu = gpu_resource(state.gpu_budget_seconds, window, state.gpu_remaining_seconds, elapsed)
    return {
        "object": "limits",
        "tenant": tenant_id,
        "as_of": _iso(state.occurred_at),
        "rate": state.rate,
        "burst": state.burst,
        "tokens": round(min(state.burst, state.tokens + max(0.0, elapsed) * state.rate), 3),
        "queued": state.queued,
        "queued_cap": state.queued_cap,
        "running_cap": state.running_cap,
        "over": state.over,
        "throttled_until": _iso(state.throttled_until),
        "gpu_seconds": gpu,
    }


async def get_limits(request: Request) -> Response:
    context, tenant_id = context_of(request), principal_of(request).tenant_id
    state = context.limits.get(tenant_id) if context.limits is not None else None
    pipeline = context.settings.pipeline
    configured = pipeline.tenant_limits.of(tenant_id)
    budget = (pipeline.tenant_gpu_seconds, pipeline.tenant_budget_window_seconds)
    return JSONResponse(limits_resource(tenant_id, state, configured, budget, utc_now()))
