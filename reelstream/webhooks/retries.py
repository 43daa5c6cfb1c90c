"""When a failed webhook is tried again, and when it is given up: pure rules, no Kafka, Faust or HTTP.

The schedule lists the delay before each attempt (seconds; the first is 0: the first attempt is made when
the event is read). A failed attempt n waits in the tier of delay `schedule[n]`, unless the receiver asked
for more with `Retry-After`: then the shortest tier at least that long, or the longest. Every record of a
tier waits exactly the tier's delay, so each tier stays FIFO by due time and no record holds up the ones
behind it; a longer wait (a Retry-After beyond the longest tier, an endpoint backing off) is the endpoint's
own (reelstream.webhooks.endpoint_health): its record is deferred again, without an attempt, when it comes
due too early. After the last attempt of the schedule the delivery is exhausted. Every path ends in
exactly one of: delivered, dead-lettered (exhausted, rejected, gone, expired), or queued for the next
attempt (or the same one, deferred).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from enum import StrEnum

from reelstream.errors import ConfigurationError, ReelstreamError

DEADLINE_EXCEEDED = "DeadlineExceeded"  # an attempt's overall deadline passed before the answer's headers
RETRIABLE_ERRORS = frozenset(
    {
        "ConnectError",
        "ConnectTimeout",
        "ReadTimeout",
        "WriteTimeout",
        "PoolTimeout",
        "ReadError",
        "WriteError",
        "RemoteProtocolError",
        DEADLINE_EXCEEDED,
    }
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

    The tier is the shortest one of at least `schedule[failed_attempt]` and `retry_after` seconds (the
    longest when none is that long: the endpoint's backoff holds the rest, see the module doc)."""
    if failed_attempt < 1 or failed_attempt >= len(schedule):
        return None
    tier = tier_for(schedule, max(schedule[failed_attempt], retry_after or 0.0))
    return NextAttempt(failed_attempt + 1, tier, now + timedelta(seconds=tier))


def tier_for(schedule: tuple[float, ...], wait: float) -> float:
    """The delay of the shortest tier of `schedule` of at least `wait` seconds, or of its longest."""
    tiers = sorted(set(schedule[1:]))
    return next((t for t in tiers if t >= wait), tiers[-1])


def deferred(schedule: tuple[float, ...], attempt: int, now: datetime, until: float) -> NextAttempt:
    """Where attempt `attempt`, not made because its endpoint may not be tried before `until` (Unix
    seconds), waits: the same attempt, in the shortest tier that reaches `until` (or the longest)."""
    tier = tier_for(schedule, until - now.timestamp())
    return NextAttempt(attempt, tier, now + timedelta(seconds=tier))


def parse_retry_after(value: str | None, now: datetime, cap: float = float("inf")) -> float | None:
    """A `Retry-After` header (delay-seconds or an HTTP-date) as seconds from `now`, at most `cap`; None if
    absent or malformed."""
    seconds = _retry_after_seconds(value, now)
    return None if seconds is None else min(seconds, cap)


def _retry_after_seconds(value: str | None, now: datetime) -> float | None:
    if not value:
        return None
    text = value.strip()
    if text.isascii() and text.isdigit():  # not "²", which isdigit() takes and int() refuses
        return float(int(text[:12]))
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


class NoSigningSecretError(WebhookGivenUpError):
    """The tenant has no active webhook secret that opens: nothing is sent unsigned (no global secret);
    replay the dead letter once the tenant created one."""

    code = "no_signing_secret"
