"""The token bucket: never more than rate × elapsed + burst admissions, refilled linearly up to burst."""

from __future__ import annotations

import math

from hypothesis import given
from hypothesis import strategies as st

from streams.rate_limit import Bucket, BucketLimits, refill, take, wait_seconds

limits_st = st.builds(
    BucketLimits,
    rate=st.floats(min_value=0.01, max_value=100, allow_nan=False),
    burst=st.floats(min_value=1, max_value=50, allow_nan=False),
)
gaps_st = st.lists(st.floats(min_value=0, max_value=5, allow_nan=False), min_size=1, max_size=200)


@given(limits_st, gaps_st)
def test_a_bucket_never_admits_more_than_rate_times_elapsed_plus_burst(
    limits: BucketLimits, gaps: list[float]
) -> None:
    start = 1_700_000_000.0
    bucket, now, admitted = Bucket.full(limits, start), start, 0
    for gap in gaps:
        now += gap
        taken, bucket = take(bucket, limits, now)
        admitted += taken
        assert admitted <= limits.rate * (now - start) + limits.burst + 1e-6
        assert 0 <= bucket.tokens <= limits.burst


@given(
    limits_st,
    st.floats(min_value=0, max_value=50, allow_nan=False),
    st.floats(min_value=0, max_value=1000, allow_nan=False),
)
def test_refill_adds_rate_per_second_up_to_burst(limits: BucketLimits, tokens: float, elapsed: float) -> None:
    tokens = min(tokens, limits.burst)
    after = refill(Bucket(tokens, 100.0), limits, 100.0 + elapsed)
    assert math.isclose(after.tokens, min(limits.burst, tokens + limits.rate * elapsed), abs_tol=1e-9)
    assert after.updated == 100.0 + elapsed


@given(limits_st, st.floats(min_value=0, max_value=1, allow_nan=False))
def test_a_clock_going_backwards_adds_nothing(limits: BucketLimits, tokens: float) -> None:
    after = refill(Bucket(tokens, 100.0), limits, 50.0)
    assert after == Bucket(tokens, 100.0)


@given(limits_st, st.floats(min_value=0, max_value=0.999, allow_nan=False))
def test_waiting_the_advertised_time_is_enough_and_sooner_is_not(limits: BucketLimits, tokens: float) -> None:
    empty = Bucket(tokens, 100.0)
    wait = wait_seconds(empty, limits, 100.0)
    assert wait > 0
    assert take(empty, limits, 100.0 + wait * 1.0001 + 1e-9)[0]
    assert not take(empty, limits, 100.0 + wait * 0.99)[0]


def test_a_full_bucket_takes_burst_at_once_then_one_per_period() -> None:
    limits = BucketLimits(rate=0.5, burst=3)
    bucket = Bucket.full(limits, 0.0)
    results = []
    for now in (0.0, 0.0, 0.0, 0.0, 1.0, 2.0, 2.5):
        taken, bucket = take(bucket, limits, now)
        results.append(taken)
    assert results == [True, True, True, False, False, True, False]
