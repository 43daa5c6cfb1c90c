"""When a failed webhook is tried again, and when it is given up: pure rules, no Kafka, Faust or HTTP.

The schedule lists the delay before each attempt (seconds; the first is 0: the first attempt is made when
the event is read). A failed attempt n waits in the tier of delay `schedule[n]`, unless the receiver asked
for more with `Retry-After`: then the shortest tier at least that long (a tier's records all wait the same
delay, so each tier stays FIFO by due time). After the last attempt of the schedule the delivery is
exhausted. Every path ends in exactly one of: delivered, dead-lettered (exhausted, rejected, gone,
expired), or queued for the next attempt.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from enum import StrEnum

from reelstream.errors import ConfigurationError, ReelstreamError

RETRIABLE_ERRORS = frozenset(
    {"ConnectError", "ConnectTimeout", "ReadTimeout", "WriteTimeout", "PoolTimeout", "ReadError"}
)
RETRIABLE_STATUS = frozenset({408, 429})
GONE = 410


class Verdict(StrEnum):
    """What one attempt's result means for the delivery."""

    DELIVERED = "delivered"
    RETRY = "retry"  # transient: try again later
    GONE = "gone"  # 410: the endpoint is disabled, nothing is sent to it again
    REJECTED = "rejected"  # repeating it cannot succeed (another 4xx, a blocked or malformed target)


def verdict(status_code: int | None, error_type: str | None) -> Verdict:
    """2xx delivers; redirects (never followed), 5xx, 408 and 429, timeouts and connection errors are
    retried; 410 disables the endpoint; any other 4xx and every other error are final."""
    if status_code is None:
        return Verdict.RETRY if error_type in RETRIABLE_ERRORS else Verdict.REJECTED
    if 200 <= status_code < 300:
        return Verdict.DELIVERED
    if status_code == GONE:
        return Verdict.GONE
    if 300 <= status_code < 400 or status_code >= 500 or status_code in RETRIABLE_STATUS:
        return Verdict.RETRY
    return Verdict.REJECTED


def check_schedule(schedule: tuple[float, ...]) -> tuple[float, ...]:
    if len(schedule) < 2 or schedule[0] != 0 or any(d < 0 for d in schedule):
        raise ConfigurationError(
            "a webhook retry schedule is 0 (the first attempt, at once), then one delay per retry (>= 0)"
        )
    return schedule


@dataclass(frozen=True)
class NextAttempt:
    attempt: int
    tier: float  # the delay of the tier topic it waits in
    due_at: datetime


def next_attempt(
    schedule: tuple[float, ...], failed_attempt: int, now: datetime, retry_after: float | None = None
) -> NextAttempt | None:
    """Where and until when attempt `failed_attempt` + 1 waits; None when the schedule is exhausted.

    Never due before `retry_after` seconds from `now`: the tier is the shortest one of at least that delay
    (the longest tier, with a later due time, when none is that long)."""
    if failed_attempt < 1 or failed_attempt >= len(schedule):
        return None
    wanted = max(schedule[failed_attempt], retry_after or 0.0)
    tiers = sorted(set(schedule[1:]))
    tier = next((t for t in tiers if t >= wanted), tiers[-1])
    return NextAttempt(failed_attempt + 1, tier, now + timedelta(seconds=max(tier, wanted)))


def parse_retry_after(value: str | None, now: datetime) -> float | None:
    """A `Retry-After` header (delay-seconds or an HTTP-date) as seconds from `now`; None if absent/bad."""
    if not value:
        return None
    text = value.strip()
    if text.isdigit():
        return float(int(text))
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - now).total_seconds())


def is_expired(intended_at: datetime, now: datetime, max_age_seconds: float) -> bool:
    """Whether a delivery meant for `intended_at` (the event's time for a first attempt, the due time for
    a retry) is more than `max_age_seconds` late: a new consumer group replaying history sends nothing."""
    return (now - intended_at).total_seconds() > max_age_seconds


def endpoint_key(url: str) -> str:
    """How a webhook URL is recorded (disabled endpoints): its SHA-256, never the URL and its tokens."""
    return hashlib.sha256(url.encode()).hexdigest()


# --- why a delivery was dead-lettered (reelstream dlq list shows the code) -------------------------------


class WebhookGivenUpError(ReelstreamError):
    """A webhook that will not be sent (again); its dead letter lets an operator replay it."""


class WebhookExhaustedError(WebhookGivenUpError):
    code = "webhook_exhausted"


class WebhookRejectedError(WebhookGivenUpError):
    code = "webhook_rejected"


class EndpointGoneError(WebhookGivenUpError):
    code = "endpoint_gone"


class WebhookExpiredError(WebhookGivenUpError):
    code = "expired"
