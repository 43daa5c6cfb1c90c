"""What ingest tells a client about its limits, from the state admission published. Pure: time and the
random source are passed in.

Headers follow the IETF httpapi RateLimit header fields draft (structured fields, RFC 9651): a list of
policies, each a string item with integer parameters.

    RateLimit-Policy: "burst";q=10;w=20, "queued";q=1000
    RateLimit: "burst";r=0;t=12, "queued";r=997

`burst`: the token bucket; q is its size, w the seconds a drained bucket takes to fill, r the submissions
left now, t the seconds until it is full again. `queued`: the cap on jobs admitted and not yet finished.
Retry-After (delay-seconds) carries jitter so a crowd of throttled clients does not come back at once.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from datetime import datetime

from schemas.events import TenantLimitState

BURST_POLICY, QUEUED_POLICY = "burst", "queued"
OVER_QUEUED = "queued"
CLEARLY_OVER_SECONDS = 0.05  # a token this close is as good as there: let admission decide
QUEUED_RETRY_SECONDS = 5.0  # over the queue cap the wait depends on jobs finishing: a guess
JITTER_FRACTION = 0.5  # Retry-After is the wait plus up to half of it again (at least 1 s of spread)


@dataclass(frozen=True)
class Standing:
    """A tenant's limits at one instant, as far as ingest can tell."""

    tokens: float  # in the bucket now (ingest refills it itself: rate × time since the state)
    full_in: float  # seconds until the bucket is full again
    queued_left: int
    wait: float | None  # seconds until a submission may be admitted; None: not over

    @property
    def over(self) -> bool:
        return self.wait is not None


def standing(state: TenantLimitState, now: datetime) -> Standing:
    elapsed = max(0.0, (now - state.tokens_at).total_seconds())
    tokens = min(state.burst, state.tokens + elapsed * state.rate)
    full_in = (state.burst - tokens) / state.rate
    queued_left = max(0, state.queued_cap - state.queued)
    wait: float | None = None
    if state.over == OVER_QUEUED and queued_left == 0:
        wait = QUEUED_RETRY_SECONDS
    elif tokens < 1 and (1 - tokens) / state.rate > CLEARLY_OVER_SECONDS:
        wait = (1 - tokens) / state.rate
    return Standing(tokens=tokens, full_in=full_in, queued_left=queued_left, wait=wait)


def _sf_item(name: str, **params: int) -> str:
    """One structured-field list member: a string item with integer parameters."""
    escaped = name.replace("\\", "\\\\").replace('"', '\\"')
    return f'"{escaped}"' + "".join(f";{key}={value}" for key, value in params.items())


def policy_header(state: TenantLimitState) -> str:
    window = max(1, math.ceil(state.burst / state.rate))
    return ", ".join(
        (
            _sf_item(BURST_POLICY, q=math.floor(state.burst), w=window),
            _sf_item(QUEUED_POLICY, q=state.queued_cap),
        )
    )


def ratelimit_header(now: Standing, spent: int = 0) -> str:
    """The remaining quota; `spent` submissions this response stands for are taken off already."""
    return ", ".join(
        (
            _sf_item(BURST_POLICY, r=max(0, math.floor(now.tokens) - spent), t=math.ceil(now.full_in)),
            _sf_item(QUEUED_POLICY, r=max(0, now.queued_left - spent)),
        )
    )


def retry_after(wait: float, rng: random.Random) -> int:
    """Whole seconds, never before the wait is over, spread over [wait, wait × 1.5] (at least 1 s)."""
    base = max(1, math.ceil(wait))
    spread = max(1, math.ceil(base * JITTER_FRACTION))
    return base + rng.randint(0, spread)


def limit_headers(state: TenantLimitState, now: datetime, spent: int = 0) -> dict[str, str]:
    """RateLimit-Policy and RateLimit for a response that passed (202: `spent=1`)."""
    return {
        "RateLimit-Policy": policy_header(state),
        "RateLimit": ratelimit_header(standing(state, now), spent),
    }


def throttled_headers(state: TenantLimitState, now: datetime, rng: random.Random) -> dict[str, str] | None:
    """The headers of a 429 if the tenant is clearly over at `now`, else None."""
    current = standing(state, now)
    if current.wait is None:
        return None
    return {
        "Retry-After": str(retry_after(current.wait, rng)),
        "RateLimit-Policy": policy_header(state),
        "RateLimit": ratelimit_header(current),
    }
