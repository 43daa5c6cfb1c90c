"""The limit state admission publishes, and the throttle that publishes it only when it changes."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from hypothesis import given
from hypothesis import strategies as st

from reelstream.settings import TenantLimit
from schemas.events import TenantLimitsSet
from streams.limit_state import StateThrottle, limit_from_settings, limit_state, material_change
from streams.rate_limit import Bucket
from streams.tenant_quota import Charged, TenantQuota, charge, released
from tests.samples import T0

LIMIT = TenantLimit(rate=0.5, burst=2, queued=3, running=1)
START = T0.timestamp()


def drained() -> TenantQuota:
    quota = None
    for _ in range(2):
        verdict = charge(quota, LIMIT, START)
        assert isinstance(verdict, Charged)
        quota = verdict.quota
    assert quota is not None
    return quota


def test_a_full_bucket_is_over_nothing() -> None:
    state = limit_state("t1", TenantQuota(Bucket(2.0, START)), LIMIT, START)
    assert (state.over, state.throttled_until, state.tokens, state.full_at) == (None, None, 2.0, T0)
    assert (state.rate, state.burst, state.queued_cap, state.running_cap) == (0.5, 2.0, 3, 1)


def test_a_drained_bucket_is_over_rate_until_its_next_token_and_full_after_burst_over_rate() -> None:
    state = limit_state("t1", drained(), LIMIT, START + 1)
    assert state.over == "rate"
    assert state.tokens == 0.5
    assert state.tokens_at == T0 + timedelta(seconds=1)
    assert state.throttled_until == T0 + timedelta(seconds=2)
    assert state.full_at == T0 + timedelta(seconds=4)
    assert state.queued == 2


def test_a_full_queue_is_over_queued_with_no_known_end() -> None:
    state = limit_state("t1", TenantQuota(Bucket(2.0, START), queued=3), LIMIT, START)
    assert (state.over, state.throttled_until) == ("queued", None)


def test_going_over_publishes_at_once_but_small_changes_wait_for_the_interval() -> None:
    full = limit_state("t1", TenantQuota(Bucket(2.0, START)), LIMIT, START)
    one_taken = limit_state("t1", TenantQuota(Bucket(1.0, START), 1), LIMIT, START + 0.1)
    over = limit_state("t1", drained(), LIMIT, START + 0.2)
    assert material_change(None, full)
    assert not material_change(full, one_taken)  # a whole token less, but within the interval
    assert material_change(full, one_taken, min_interval=0.05)
    assert material_change(one_taken, over)  # over: published at once


def test_refused_commands_while_over_publish_nothing_new() -> None:
    over = limit_state("t1", drained(), LIMIT, START + 0.2)
    again = limit_state("t1", drained(), LIMIT, START + 0.4)  # same next-token time, more refill
    assert over.throttled_until == again.throttled_until
    assert not material_change(over, again)
    throttle = StateThrottle()
    assert throttle.due(over)
    assert not throttle.due(again)


def test_new_limits_publish_at_once() -> None:
    before = limit_state("t1", drained(), LIMIT, START)
    raised = TenantLimit(rate=10, burst=2, queued=3, running=1)
    after = limit_state("t1", drained(), raised, START)
    assert after.over is None or after.throttled_until != before.throttled_until
    assert material_change(before, after)


def test_admin_set_limits_become_tenant_limits() -> None:
    record = TenantLimitsSet(tenant_id="t1", rate=2.0, burst=5.0, queued=50, running=None)
    assert limit_from_settings(record) == TenantLimit(rate=2.0, burst=5.0, queued=50, running=None)


def test_a_tenant_held_at_its_rate_publishes_about_once_per_interval_not_per_command() -> None:
    limit = TenantLimit(rate=50, burst=100, queued=10**9)
    throttle, quota, published = StateThrottle(min_interval=1.0), None, 0
    for i in range(20_000):  # 200 commands a second against 50 a second, for 100 s
        now = START + i / 200
        quota = charge(quota, limit, now).quota
        published += throttle.due(limit_state("t1", quota, limit, now))
    assert published <= 100 + 5


@given(
    steps=st.lists(
        st.tuples(
            st.floats(0, 3),  # seconds since the step before (commands come in any order: and back)
            st.booleans(),  # a command charged (else a job finished)
            st.sampled_from([LIMIT, TenantLimit(rate=1, burst=2, queued=1), TenantLimit(rate=9, burst=9)]),
        ),
        max_size=60,
    ),
    backwards=st.booleans(),
)
def test_next_state_is_the_state_exactly_when_it_is_due(
    steps: list[tuple[float, bool, TenantLimit]], backwards: bool
) -> None:
    """The shortcut that skips building a state that cannot be due agrees with building it every time."""
    built, skipped = StateThrottle(min_interval=1.0), StateThrottle(min_interval=1.0)
    quota, now = None, START
    for gap, submitted, limit in steps:
        now += -gap / 3 if backwards and gap < 0.5 else gap
        quota = charge(quota, limit, now).quota if submitted or quota is None else released(quota)
        state = limit_state("t1", quota, limit, now)
        got, due = skipped.next_state("t1", quota, limit, now), built.due(state)
        assert (got is not None) == due
        assert got is None or replace(got, event_id=state.event_id) == state  # each build: a new event id
