"""When a failed webhook is tried again: verdicts, the tier schedule, Retry-After, expiry (pure rules)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from reelstream.errors import ConfigurationError
from reelstream.settings import parse_seconds_list
from reelstream.webhooks.messages import BLOCKED_TARGET
from reelstream.webhooks.retries import (
    Verdict,
    check_schedule,
    deferred,
    endpoint_key,
    is_expired,
    next_attempt,
    parse_retry_after,
    verdict,
)
from schemas.topics import DEFAULT_WEBHOOK_RETRY_SCHEDULE, retry_tiers, tier_label

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
SCHEDULE = DEFAULT_WEBHOOK_RETRY_SCHEDULE


@pytest.mark.parametrize(
    ("status", "error", "expected"),
    [
        (200, None, Verdict.DELIVERED),
        (204, None, Verdict.DELIVERED),
        (500, None, Verdict.RETRY),
        (503, None, Verdict.RETRY),
        (429, None, Verdict.RETRY),
        (408, None, Verdict.RETRY),
        (301, None, Verdict.RETRY),  # redirects are never followed: a failed attempt
        (307, None, Verdict.RETRY),
        (None, "ConnectError", Verdict.RETRY),
        (None, "ReadTimeout", Verdict.RETRY),
        (410, None, Verdict.GONE),
        (400, None, Verdict.REJECTED),
        (404, None, Verdict.REJECTED),
        (None, BLOCKED_TARGET, Verdict.REJECTED),
        (None, "InvalidURL", Verdict.REJECTED),
        (None, "UnsupportedProtocol", Verdict.REJECTED),
    ],
)
def test_verdicts(status: int | None, error: str | None, expected: Verdict) -> None:
    assert verdict(status, error) is expected


def test_the_default_schedule_is_the_standard_webhooks_one_with_a_topic_per_distinct_delay() -> None:
    assert SCHEDULE == (0, 5, 300, 1800, 7200, 18000, 36000, 36000)
    assert [t.name.rsplit(".", 1)[1] for t in retry_tiers(SCHEDULE)] == ["5s", "5m", "30m", "2h", "5h", "10h"]
    assert {t.partitions for t in retry_tiers(SCHEDULE)} == {12}
    assert tier_label(0.5) == "500ms"
    assert tier_label(90) == "90s"


def test_attempts_follow_the_schedule_then_are_exhausted() -> None:
    waits = []
    attempt = 1
    while (nxt := next_attempt(SCHEDULE, attempt, NOW)) is not None:
        assert nxt.attempt == attempt + 1
        waits.append((nxt.due_at - NOW).total_seconds())
        assert nxt.tier == waits[-1]
        attempt = nxt.attempt
    assert waits == [5, 300, 1800, 7200, 18000, 36000, 36000]
    assert attempt == len(SCHEDULE)


@given(
    st.integers(min_value=1, max_value=len(SCHEDULE) - 1),
    st.one_of(st.none(), st.floats(min_value=0, max_value=100_000, allow_nan=False)),
)
def test_a_retry_is_never_due_before_its_schedule_or_retry_after_and_waits_in_a_tier(
    attempt: int, retry_after: float | None
) -> None:
    nxt = next_attempt(SCHEDULE, attempt, NOW, retry_after)
    assert nxt is not None
    wait = (nxt.due_at - NOW).total_seconds()
    assert wait >= SCHEDULE[attempt] - 1e-6
    assert wait >= min(retry_after or 0, max(SCHEDULE)) - 1e-6  # beyond: the endpoint's backoff holds it
    assert nxt.tier in SCHEDULE[1:]
    assert wait == nxt.tier  # every record of a tier waits exactly its delay: no head blocks a partition


@given(st.floats(min_value=-10, max_value=100_000, allow_nan=False), st.integers(min_value=1, max_value=8))
def test_a_deferred_attempt_keeps_its_number_and_waits_exactly_its_tier(wait: float, attempt: int) -> None:
    nxt = deferred(SCHEDULE, attempt, NOW, NOW.timestamp() + wait)
    assert nxt.attempt == attempt
    assert nxt.tier in SCHEDULE[1:]
    assert (nxt.due_at - NOW).total_seconds() == nxt.tier
    assert nxt.tier >= wait or nxt.tier == max(SCHEDULE)


def test_retry_after_is_capped() -> None:
    assert parse_retry_after("86400", NOW, cap=3600) == 3600
    assert parse_retry_after("9" * 5000, NOW, cap=3600) == 3600  # a huge number is not a crash
    assert parse_retry_after("30", NOW, cap=3600) == 30


def test_retry_after_picks_the_shortest_tier_long_enough() -> None:
    nxt = next_attempt(SCHEDULE, 1, NOW, retry_after=60)
    assert nxt is not None
    assert (nxt.attempt, nxt.tier) == (2, 300)


@pytest.mark.parametrize(
    ("header", "seconds"),
    [
        ("120", 120.0),
        ("0", 0.0),
        ("Fri, 27 Nov 2026 12:01:30 GMT", 90.0),
        ("Fri, 27 Nov 2026 11:00:00 GMT", 0.0),
        (None, None),
        ("", None),
        ("soon", None),
        ("-5", None),
    ],
)
def test_retry_after_header(header: str | None, seconds: float | None) -> None:
    assert parse_retry_after(header, NOW) == seconds


def test_expiry_is_measured_from_when_the_attempt_was_meant_to_happen() -> None:
    assert not is_expired(NOW - timedelta(hours=23), NOW, 24 * 3600)
    assert is_expired(NOW - timedelta(hours=25), NOW, 24 * 3600)


@pytest.mark.parametrize("spec", ["", "5,10", "0", "0,-1"])
def test_bad_schedules_are_configuration_errors(spec: str) -> None:
    with pytest.raises(ConfigurationError):
        check_schedule(parse_seconds_list(spec, "X"))


def test_endpoint_keys_do_not_hold_the_url() -> None:
    url = "https://hooks.example/x?token=secret"
    assert "secret" not in endpoint_key(url)
    assert endpoint_key(url) != endpoint_key(url + "2")
