"""The dev supervisor's restart policy: doubling waits for crashes in a row, capped, reset by a stable run."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from devstack.supervisor import Backoff


def test_crashes_in_a_row_double_the_wait_up_to_the_cap() -> None:
    backoff = Backoff(first=1.0, longest=8.0, stable_after=60.0)
    waits = []
    now = 0.0
    for _ in range(6):
        backoff.started("worker-0", now)
        now += 2.0  # crashes 2 s after each start
        waits.append(backoff.delay("worker-0", now))
    assert waits == [1.0, 2.0, 4.0, 8.0, 8.0, 8.0]


def test_a_service_that_ran_a_while_starts_over_and_services_count_apart() -> None:
    backoff = Backoff(first=1.0, longest=30.0, stable_after=60.0)
    backoff.started("ingest", 0.0)
    backoff.started("notifier", 0.0)
    assert backoff.delay("ingest", 1.0) == 1.0
    backoff.started("ingest", 2.0)
    assert backoff.delay("ingest", 3.0) == 2.0
    assert backoff.delay("notifier", 3.0) == 1.0  # its own count
    backoff.started("ingest", 5.0)
    assert backoff.delay("ingest", 5.0 + 60.0) == 1.0  # it ran 60 s: a first crash again


@given(st.lists(st.floats(min_value=0.0, max_value=1000.0), min_size=1, max_size=50))
def test_the_wait_is_always_within_first_and_longest(uptimes: list[float]) -> None:
    backoff = Backoff(first=0.5, longest=30.0, stable_after=60.0)
    now = 0.0
    for uptime in uptimes:
        backoff.started("s", now)
        now += uptime
        assert 0.5 <= backoff.delay("s", now) <= 30.0
