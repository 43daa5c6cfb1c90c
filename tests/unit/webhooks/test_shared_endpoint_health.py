"""Endpoint health shared between notifier replicas (pure): what one replica's attempts change, another
applies, the later state winning; the record on the topic carries it exactly."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from reelstream.webhooks.endpoint_health import EndpointHealth, Gate, HealthPolicy, SharedState, endpoint_of
from streams.webhook_health import record_of, shared_of

POLICY = HealthPolicy(max_in_flight=2, backoff=(5.0, 30.0), retry_after_max=3600.0, disable_after=100.0)
EP = endpoint_of("t1", "https://hooks.example.com/a?token=x")


def _fail(health: EndpointHealth, now: float, retry_after: float | None = None) -> SharedState:
    assert health.admit(EP, now, may_wait=False).gate is Gate.GO
    shared = health.finished(EP, now, ok=False, retry_after=retry_after).shared
    assert shared is not None
    return shared


def test_a_second_replica_honours_the_backoff_the_first_one_saw() -> None:
    a, b = EndpointHealth(POLICY), EndpointHealth(POLICY)
    shared = _fail(a, 1000.0, retry_after=60.0)
    assert b.admit(EP, 1001.0, may_wait=False).gate is Gate.GO  # b knows nothing yet
    b.finished(EP, 1001.0, ok=True)  # (the slot it took back; not a shared change: it was healthy)
    assert b.apply(EP, shared)
    admission = b.admit(EP, 1002.0, may_wait=False)
    assert admission.gate is Gate.DEFER
    assert admission.until == 1060.0


def test_the_failure_window_counts_from_the_first_failure_on_any_replica() -> None:
    a, b = EndpointHealth(POLICY), EndpointHealth(POLICY)
    b.apply(EP, _fail(a, 1000.0))
    assert b.admit(EP, 1101.0, may_wait=False).gate is Gate.GO  # its backoff is over
    finished = b.finished(EP, 1101.0, ok=False)
    assert finished.disable  # failing since 1000 on a: 101 s > the 100 s window
    assert finished.shared is not None
    assert finished.shared.failures == 2


def test_a_success_on_one_replica_clears_the_backoff_on_the_other() -> None:
    a, b = EndpointHealth(POLICY), EndpointHealth(POLICY)
    b.apply(EP, _fail(a, 1000.0))
    assert a.admit(EP, 1010.0, may_wait=False).gate is Gate.GO  # a's backoff (5 s) is over
    cleared = a.finished(EP, 1010.0, ok=True).shared
    assert cleared == SharedState(0, None, 0.0, 1010.0)
    assert b.backoff_until(EP) == 1005.0
    assert b.apply(EP, cleared)
    assert b.admit(EP, 1003.0, may_wait=False).gate is Gate.GO
    assert b.backoff_until(EP) == 0.0


def test_a_success_on_a_healthy_endpoint_shares_nothing() -> None:
    a = EndpointHealth(POLICY)
    assert a.admit(EP, 1000.0, may_wait=False).gate is Gate.GO
    assert a.finished(EP, 1000.0, ok=True).shared is None  # no record per delivery: only changes


def test_an_older_state_does_not_replace_a_later_one() -> None:
    a = EndpointHealth(POLICY)
    later = _fail(a, 2000.0)
    assert not a.apply(EP, SharedState(0, None, 0.0, 1500.0))
    assert a.backoff_until(EP) == later.not_before


@given(
    failures=st.integers(0, 1000),
    since=st.one_of(st.none(), st.integers(1, 4 * 10**9)),
    until=st.integers(0, 4 * 10**9),
    at=st.integers(1, 4 * 10**9),
)
def test_the_topic_record_carries_the_state_exactly(
    failures: int, since: int | None, until: int, at: int
) -> None:
    shared = SharedState(failures, None if since is None else since / 1000, until / 1000, at / 1000)
    record = record_of(EP, shared, disabled=False)
    assert record.tenant_id == "t1"
    assert "token" not in record.endpoint
    assert shared_of(record) == shared


@given(st.lists(st.tuples(st.booleans(), st.floats(0, 50), st.floats(0, 120)), max_size=30))
def test_two_replicas_applying_each_others_changes_in_one_order_agree(
    steps: list[tuple[bool, float, float]],
) -> None:
    """Each step: one replica (a or b) makes an attempt that fails (with a Retry-After) or succeeds; every
    change goes on the topic; both replicas then apply the topic in its order: they end in one state."""
    replicas = (EndpointHealth(POLICY), EndpointHealth(POLICY))
    topic: list[SharedState] = []
    now = 1000.0
    for i, (ok, step, retry_after) in enumerate(steps):
        now += step
        health = replicas[i % 2]
        if health.admit(EP, now, may_wait=False).gate is not Gate.GO:
            continue
        shared = health.finished(EP, now, ok=ok, retry_after=retry_after).shared
        if shared is not None:
            topic.append(shared)
            for other in replicas:
                other.apply(EP, shared)
    assert replicas[0].backoff_until(EP) == replicas[1].backoff_until(EP)
    assert replicas[0].backoff_until(EP) == (topic[-1].not_before if topic else 0.0)
