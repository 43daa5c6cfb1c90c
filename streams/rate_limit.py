"""A token bucket as plain values: the state is (tokens, updated), time is always passed in, never read.

The bucket does not know where its state lives: admission keeps it in a Faust table, tests in a variable.
A bucket holds at most `burst` tokens and gains `rate` tokens a second; taking one admits one submission.
"""

from __future__ import annotations

from dataclasses import dataclass, replace


@dataclass(frozen=True)
class BucketLimits:
    rate: float  # tokens gained per second (> 0)
    burst: float  # tokens a full bucket holds (>= 1)

    def __post_init__(self) -> None:
        if self.rate <= 0 or self.burst < 1:
            raise ValueError(f"a bucket needs rate > 0 and burst >= 1 (got {self.rate}, {self.burst})")


@dataclass(frozen=True)
class Bucket:
    tokens: float
    updated: float  # seconds (any monotonic-enough clock: admission uses the command's occurred_at)

    @classmethod
    def full(cls, limits: BucketLimits, now: float) -> Bucket:
        return cls(tokens=limits.burst, updated=now)


def refill(bucket: Bucket, limits: BucketLimits, now: float) -> Bucket:
    """The bucket at `now`. A clock that goes backwards adds nothing and never moves `updated` back."""
    elapsed = max(0.0, now - bucket.updated)
    tokens = min(limits.burst, bucket.tokens + elapsed * limits.rate)
    return Bucket(tokens=tokens, updated=max(bucket.updated, now))


def take(bucket: Bucket, limits: BucketLimits, now: float, cost: float = 1.0) -> tuple[bool, Bucket]:
    """(taken, the bucket after): `cost` tokens are taken only if all of them are there."""
    current = refill(bucket, limits, now)
    if current.tokens >= cost:
        return True, replace(current, tokens=current.tokens - cost)
    return False, current


def wait_seconds(bucket: Bucket, limits: BucketLimits, now: float, cost: float = 1.0) -> float:
    """How long until `cost` tokens are there (0 if they already are)."""
    missing = cost - refill(bucket, limits, now).tokens
    return max(0.0, missing / limits.rate)
