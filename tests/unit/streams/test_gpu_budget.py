"""The GPU-seconds budget: charged at admission, published in the limit state, and given back for work the
tenant never got (ended before starting, or failed); kept for what the GPU did for it."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from reelstream.cost_model import work_units
from reelstream.models import BUILTIN_MODELS
from reelstream.settings import TenantLimit
from schemas import events as ev
from schemas.topics import TENANT_LIMITS
from streams.limit_state import limit_state
from streams.rate_limit import Bucket
from streams.tenant_quota import GpuBudget, TenantQuota, charge, refundable, refunded
from tests.samples import T0
from tests.unit.streams.test_admission_service import DictStore, service_factory, submit

BUDGET = GpuBudget(seconds=1000.0, window_seconds=3600.0)
SLOW = GpuBudget(seconds=1.0, window_seconds=1e9)  # refills next to nothing in a test's seconds
S = ev.JobState


def _finished(state: ev.JobState, started: bool | None, at: float = 2.0) -> ev.JobFinished:
    return ev.JobFinished(
        job_id="j1", tenant_id="t1", state=state, started=started, occurred_at=T0 + timedelta(seconds=at)
    )


@pytest.mark.parametrize(
    ("state", "started", "refund"),
    [
        (S.CANCELED, False, True),  # canceled while queued
        (S.EXPIRED, False, True),  # its deadline passed in the queue
        (S.FAILED, True, True),  # failed by the platform (admission validated it)
        (S.FAILED, False, True),
        (S.CANCELED, True, False),  # the tenant stopped work the GPU was doing for it
        (S.SUCCEEDED, True, False),
        (S.CANCELED, None, False),  # an older scheduler did not say: taken as started
    ],
)
def test_what_is_refunded(state: ev.JobState, started: bool | None, refund: bool) -> None:
    assert refundable(_finished(state, started)) is refund


@given(tokens=st.floats(0, 1000), seconds=st.floats(0.001, 5000), elapsed=st.floats(0, 10_000))
def test_a_refund_never_fills_the_budget_past_full_nor_takes_anything(
    tokens: float, seconds: float, elapsed: float
) -> None:
    quota = TenantQuota(Bucket(1.0, 0.0), 1, Bucket(tokens, 0.0))
    after = refunded(quota, seconds, BUDGET, elapsed)
    assert after.gpu is not None
    before = min(BUDGET.seconds, tokens + elapsed * BUDGET.seconds / BUDGET.window_seconds)
    assert before - 1e-6 <= after.gpu.tokens <= BUDGET.seconds
    assert (after.bucket, after.queued) == (quota.bucket, quota.queued)


def test_the_limit_state_publishes_budget_window_and_remaining() -> None:
    limit = TenantLimit(rate=10.0, burst=10.0, queued=5)
    verdict = charge(None, limit, 0.0, gpu_seconds=250.0, budget=BUDGET)
    state = limit_state("t1", verdict.quota, limit, 0.0, BUDGET)
    assert (state.gpu_budget_seconds, state.gpu_window_seconds) == (1000.0, 3600.0)
    assert state.gpu_remaining_seconds == 750.0
    assert limit_state("t1", verdict.quota, limit, 0.0).gpu_remaining_seconds is None  # no budget


def _remaining(outputs: list[object]) -> list[float | None]:
    return [o.value.gpu_remaining_seconds for o in outputs if getattr(o, "topic", None) == TENANT_LIMITS]  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("state", "started", "refund"), [(S.CANCELED, False, True), (S.SUCCEEDED, True, False)]
)
def test_admission_gives_a_refundable_jobs_charge_back_once(
    state: ev.JobState, started: bool, refund: bool
) -> None:
    service = service_factory(limit=TenantLimit(rate=10.0, burst=10.0, queued=5), gpu_budget=SLOW)
    store = DictStore()
    first = service.handle(submit(num_frames=7, width=64, height=48), store)
    params = first[-1].value.params  # type: ignore[attr-defined]
    charged = store.charges["j1"]
    assert charged == pytest.approx(min(1.0, BUILTIN_MODELS[params.model].cost_prior * work_units(params)))
    assert 0 < charged < 1.0
    assert _remaining(first) == [pytest.approx(1.0 - charged, abs=1e-3)]

    after = service.handle(_finished(state, started, at=2.0), store)
    assert store.charges == {}  # forgotten once the job finished, whatever its outcome
    left = 1.0 if refund else 1.0 - charged
    assert _remaining(after) == [pytest.approx(left, abs=1e-3)]  # published with the queue's place freed
    again = service.handle(replace(_finished(state, started, at=3.0), event_id=ev.new_id()), store)
    assert again == []  # a JobFinished written again frees and refunds nothing
