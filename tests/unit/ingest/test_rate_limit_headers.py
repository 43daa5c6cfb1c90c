"""What a throttled client is told: RateLimit structured fields, a jittered Retry-After, and when."""

from __future__ import annotations

import json
import random
import re
from datetime import timedelta

from hypothesis import given
from hypothesis import strategies as st

from ingest.errors import RateLimited
from ingest.problems import PROBLEM_JSON, problem_response
from ingest.rate_limit_headers import (
    limit_headers,
    policy_header,
    retry_after,
    standing,
    throttled_headers,
)
from schemas.events import TenantLimitState
from tests.samples import T0

# one list member of a structured field: a string item and integer parameters (RFC 9651 subset)
MEMBER = re.compile(r'"[a-z]+"(;[a-z]+=\d+)+')


def state(**changes: object) -> TenantLimitState:
    values: dict[str, object] = dict(
        tenant_id="t1",
        rate=0.5,
        burst=3.0,
        tokens=0.0,
        tokens_at=T0,
        full_at=T0 + timedelta(seconds=6),
        queued=2,
        queued_cap=10,
        over="rate",
        throttled_until=T0 + timedelta(seconds=2),
        occurred_at=T0,
    )
    values.update(changes)
    return TenantLimitState(**values)  # type: ignore[arg-type]


def members(header: str) -> list[str]:
    parts = header.split(", ")
    assert all(MEMBER.fullmatch(p) for p in parts), header
    return parts


def test_the_policy_names_the_bucket_size_and_the_seconds_it_takes_to_fill() -> None:
    assert policy_header(state(rate=0.5, burst=3.0)) == '"burst";q=3;w=6, "queued";q=10'
    assert policy_header(state(rate=100.0, burst=10.0)) == '"burst";q=10;w=1, "queued";q=10'


def test_a_drained_bucket_is_throttled_until_its_next_token_with_the_remaining_quota() -> None:
    headers = throttled_headers(state(), T0 + timedelta(seconds=0.5), random.Random(1))
    assert headers is not None
    assert members(headers["RateLimit"]) == ['"burst";r=0;t=6', '"queued";r=8']  # 0.25 tokens, 5.5 s to full
    assert members(headers["RateLimit-Policy"]) == ['"burst";q=3;w=6', '"queued";q=10']
    assert 2 <= int(headers["Retry-After"]) <= 3  # 1.5 s to the next token, rounded up, plus jitter


def test_ingest_refills_the_bucket_itself_so_a_stale_state_stops_throttling_in_time() -> None:
    assert throttled_headers(state(), T0 + timedelta(seconds=1.9), random.Random(1)) is not None
    assert throttled_headers(state(), T0 + timedelta(seconds=2.0), random.Random(1)) is None
    later = standing(state(), T0 + timedelta(seconds=60))
    assert (later.tokens, later.full_in, later.over) == (3.0, 0.0, False)


def test_a_token_about_to_arrive_is_left_to_admission() -> None:
    assert throttled_headers(state(tokens=0.99), T0, random.Random(1)) is None  # 0.02 s away


def test_over_the_queue_cap_is_throttled_until_a_place_frees() -> None:
    full = state(tokens=3.0, queued=10, over="queued", throttled_until=None)
    headers = throttled_headers(full, T0, random.Random(1))
    assert headers is not None
    assert members(headers["RateLimit"])[1] == '"queued";r=0'
    freed = state(tokens=3.0, queued=9, over=None, throttled_until=None)
    assert throttled_headers(freed, T0, random.Random(1)) is None


def test_an_accepted_submission_counts_itself_in_the_remaining_quota() -> None:
    headers = limit_headers(state(tokens=3.0, over=None), T0, spent=1)
    assert members(headers["RateLimit"]) == ['"burst";r=2;t=0', '"queued";r=7']


@given(wait=st.floats(0.001, 3600), seed=st.integers(0, 2**32))
def test_retry_after_is_never_early_and_spreads_at_most_half_again(wait: float, seed: int) -> None:
    value = retry_after(wait, random.Random(seed))
    assert value >= wait
    assert value <= max(1, -(-wait // 1)) * 1.5 + 1


def test_retry_after_spreads_a_crowd_over_several_seconds() -> None:
    rng = random.Random(7)
    values = [retry_after(10.0, rng) for _ in range(200)]
    assert min(values) >= 10
    assert len(set(values)) >= 4  # a crowd of throttled clients does not come back in one second


def test_a_throttled_submission_is_a_429_problem_carrying_the_headers() -> None:
    headers = throttled_headers(state(), T0, random.Random(1))
    assert headers is not None
    response = problem_response(RateLimited("over 0.5 submissions/s", headers), "/v1/jobs")
    body = json.loads(bytes(response.body))
    assert (response.status_code, response.media_type) == (429, PROBLEM_JSON)
    assert body["type"].endswith("/rate-limited")
    for name in ("Retry-After", "RateLimit-Policy", "RateLimit"):
        assert response.headers[name] == headers[name]
