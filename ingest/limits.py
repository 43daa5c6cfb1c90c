"""Tenant limits at the door: a clearly throttled tenant gets 429 before anything is produced, and accepted
submissions carry the RateLimit headers. Admission stays the authority: a submission let through here may
still be rejected `rate_limited` there (ingest's view of the state lags by a round trip)."""

from __future__ import annotations

import logging
import random

from ingest.context import IngestContext
from ingest.errors import RateLimited
from ingest.rate_limit_headers import limit_headers, throttled_headers
from schemas.events import utc_now

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
