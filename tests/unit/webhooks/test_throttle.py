"""job.progress throttling: at most one per interval per key, bounded memory."""

from __future__ import annotations

import itertools

from hypothesis import given
from hypothesis import strategies as st

from reelstream.webhooks.throttle import ProgressThrottle


def test_one_event_per_interval_per_key() -> None:
    throttle = ProgressThrottle(10.0)
    assert throttle.admit("ep_1/j1", 0.0)
    assert not throttle.admit("ep_1/j1", 9.9)
    assert throttle.admit("ep_2/j1", 9.9)  # another endpoint has its own pace
    assert throttle.admit("ep_1/j1", 10.0)


@given(st.lists(st.tuples(st.sampled_from("abc"), st.floats(0, 1000)), max_size=60))
def test_admitted_events_of_a_key_are_never_closer_than_the_interval(offers: list[tuple[str, float]]) -> None:
    throttle = ProgressThrottle(5.0, capacity=3)  # room for every key: none is forgotten
    admitted: dict[str, list[float]] = {}
    for key, now in sorted(offers, key=lambda o: o[1]):
        if throttle.admit(key, now):
            admitted.setdefault(key, []).append(now)
    for times in admitted.values():
        assert all(b - a >= 5.0 for a, b in itertools.pairwise(times))
    assert len(throttle) <= 3


def test_the_state_is_bounded_forgetting_the_least_recent() -> None:
    throttle = ProgressThrottle(100.0, capacity=2)
    for key in ("a", "b", "c"):
        assert throttle.admit(key, 0.0)
    assert len(throttle) == 2
    assert throttle.admit("a", 1.0)  # forgotten: admitted again
    assert not throttle.admit("c", 1.0)
