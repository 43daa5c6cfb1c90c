"""Each webhook endpoint's bound, backoff and failure window (pure rules)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from reelstream.webhooks.endpoint_health import (
    EndpointHealth,
    Gate,
    HealthPolicy,
    endpoint_of,
)

BACKOFF = (0.5, 1.0, 5.0)


def health(**overrides: object) -> EndpointHealth:
    fields: dict[str, object] = dict(
        max_in_flight=2, backoff=BACKOFF, retry_after_max=3600.0, disable_after=100.0
    )
    fields.update(overrides)
    return EndpointHealth(HealthPolicy(**fields))  # type: ignore[arg-type]


def test_an_endpoint_is_a_tenants_origin_whatever_the_path() -> None:
    a = endpoint_of("t1", "https://hooks.example.com/a/job-1?token=x")
    assert a == endpoint_of("t1", "https://hooks.example.com/b/job-2")
    assert a != endpoint_of("t2", "https://hooks.example.com/a/job-1")  # another tenant's
    assert a != endpoint_of("t1", "https://hooks.example.com:8443/a")
    assert "token" not in a
    assert "job-1" not in a


# an operation: (endpoint, 'admit' | 'admit-retry' | 'ok' | 'fail', clock step)
Op = tuple[int, str, float]
OPS = st.lists(
    st.tuples(
        st.integers(0, 2),
        st.sampled_from(["admit", "admit-retry", "ok", "fail"]),
        st.floats(0, 3, allow_nan=False),
    ),
    max_size=80,
)


@given(OPS)
def test_never_more_attempts_in_flight_to_one_endpoint_than_its_bound(ops: list[Op]) -> None:
    h = health()
    now = 0.0
    held = {0: 0, 1: 0, 2: 0}
    for endpoint, op, step in ops:
        now += step
        key = f"e{endpoint}"
        if op.startswith("admit"):
            admission = h.admit(key, now, may_wait=op == "admit")
            if admission.gate is Gate.GO:
                held[endpoint] += 1
            elif admission.gate is Gate.DEFER:
                assert admission.until > now
            else:
                assert op == "admit"  # a retry never waits
        elif held[endpoint]:
            held[endpoint] -= 1
            h.finished(key, now, ok=op == "ok")
        assert held[endpoint] <= 2
        assert h.in_flight(key) == held[endpoint]


def test_a_failing_endpoint_backs_off_on_its_own_and_others_go_on() -> None:
    h = health()
    assert h.admit("slow", 0.0, may_wait=True).gate is Gate.GO
    first = h.finished("slow", 10.0, ok=False)
    assert first.backoff_until == 10.5
    assert not first.disable
    assert h.admit("slow", 10.2, may_wait=True) == h.admit("slow", 10.3, may_wait=False)
    assert h.admit("slow", 10.2, may_wait=True).until == 10.5
    assert h.admit("fast", 10.2, may_wait=False).gate is Gate.GO  # another endpoint does not wait
    assert h.admit("slow", 10.6, may_wait=True).gate is Gate.GO
    assert h.finished("slow", 11.0, ok=False).backoff_until == 12.0  # the second delay
    assert h.admit("slow", 12.0, may_wait=True).gate is Gate.GO
    assert h.finished("slow", 12.0, ok=False).backoff_until == 17.0
    assert h.admit("slow", 17.0, may_wait=True).gate is Gate.GO
    assert h.finished("slow", 17.0, ok=False).backoff_until == 22.0  # the last delay repeats
    assert h.admit("slow", 22.0, may_wait=True).gate is Gate.GO
    assert h.finished("slow", 22.0, ok=True).backoff_until == 0.0  # a success clears it
    assert h.admit("slow", 22.0, may_wait=True).gate is Gate.GO


def test_a_busy_endpoint_lets_a_few_first_attempts_wait_and_defers_retries() -> None:
    h = health()
    assert [h.admit("e", 0.0, may_wait=True).gate for _ in range(2)] == [Gate.GO, Gate.GO]
    assert h.admit("e", 0.0, may_wait=False).gate is Gate.DEFER
    assert h.admit("e", 0.0, may_wait=True).gate is Gate.WAIT
    h.waiting("e", +1)
    h.waiting("e", +1)
    deferred = h.admit("e", 0.0, may_wait=True)  # as many waiting as it has slots: no more
    assert (deferred.gate, deferred.until) == (Gate.DEFER, BACKOFF[0])


@pytest.mark.parametrize(("asked", "until"), [(30.0, 30.0), (86_400.0, 3600.0), (None, 0.5), (0.1, 0.5)])
def test_retry_after_holds_only_that_endpoint_and_is_capped(asked: float | None, until: float) -> None:
    h = health()
    h.admit("e", 0.0, may_wait=True)
    assert h.finished("e", 0.0, ok=False, retry_after=asked).backoff_until == until
    assert h.admit("other", 0.0, may_wait=False).gate is Gate.GO


def test_an_endpoint_failing_for_the_whole_window_is_disabled() -> None:
    h = health(disable_after=100.0)
    verdicts = []
    for now in (0.0, 40.0, 95.0, 100.0):
        assert h.admit("e", now, may_wait=False).gate is Gate.GO
        verdicts.append(h.finished("e", now, ok=False).disable)
    assert verdicts == [False, False, False, True]


def test_a_success_within_the_window_starts_it_again() -> None:
    h = health(disable_after=100.0)
    for now, ok in ((0.0, False), (60.0, True), (70.0, False), (150.0, False)):
        assert h.admit("e", now, may_wait=False).gate is Gate.GO
        assert not h.finished("e", now, ok=ok).disable


def test_healthy_idle_endpoints_are_forgotten() -> None:
    h = health()
    for i in range(100):
        assert h.admit(f"e{i}", 0.0, may_wait=True).gate is Gate.GO
        h.finished(f"e{i}", 0.0, ok=True)
    assert len(h) == 0
