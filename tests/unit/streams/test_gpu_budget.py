"""A tenant's GPU-seconds budget per window (on by default): each admitted job takes its expected GPU seconds
from a bucket of `seconds` refilled over the window; over it the tenant's submissions are refused
`rate_limited` (with the wait), and a refused one takes nothing."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from reelstream.config.registry import Registry
from reelstream.settings import TenantLimit
from streams.tenant_quota import Charged, GpuBudget, OverLimit, TenantQuota, charge

LIMIT = TenantLimit(rate=1000, burst=1000, queued=10_000)
BUDGET = GpuBudget(seconds=3600.0, window_seconds=3600.0)  # one GPU-hour an hour


def test_the_budget_is_on_by_default() -> None:
    fields = Registry.model_fields
    assert fields["tenant_gpu_seconds_per_window"].default == 14400.0  # four GPU-hours
    assert fields["tenant_budget_window_seconds"].default == 3600.0  # an hour


def test_over_its_budget_a_tenant_is_refused_until_the_window_refills_it() -> None:
    quota: TenantQuota | None = None
    for _ in range(6):  # six 10-minute jobs fill the hour
        verdict = charge(quota, LIMIT, 0.0, 600.0, BUDGET)
        assert isinstance(verdict, Charged)
        quota = verdict.quota
    refused = charge(quota, LIMIT, 0.0, 600.0, BUDGET)
    assert isinstance(refused, OverLimit)
    assert "GPU seconds" in refused.reason
    assert refused.retry_after_seconds == 600.0  # a tenth of the window refills one job
    assert refused.quota.queued == 6
    assert refused.quota.bucket == quota.bucket if quota else False  # no submission token taken
    assert isinstance(charge(refused.quota, LIMIT, 600.0, 600.0, BUDGET), Charged)


def test_a_job_larger_than_the_whole_budget_takes_all_of_it_rather_than_never_running() -> None:
    verdict = charge(None, LIMIT, 0.0, 10 * 3600.0, BUDGET)
    assert isinstance(verdict, Charged)
    assert isinstance(charge(verdict.quota, LIMIT, 1.0, 2.0, BUDGET), OverLimit)  # 1 s refilled 1


def test_the_budget_state_survives_encoding_and_a_quota_stored_before_it_reads_as_full() -> None:
    verdict = charge(None, LIMIT, 0.0, 600.0, BUDGET)
    assert isinstance(verdict, Charged)
    assert TenantQuota.decode(verdict.quota.encode()) == verdict.quota
    old = TenantQuota(verdict.quota.bucket, 1)  # stored before budgets existed
    assert TenantQuota.decode(old.encode()).gpu is None
    assert isinstance(charge(old, LIMIT, 0.0, 3600.0, BUDGET), Charged)


@settings(max_examples=100, deadline=None)
@given(
    jobs=st.lists(
        st.tuples(st.floats(0, 60, allow_nan=False), st.floats(1, 2000, allow_nan=False)), max_size=60
    )
)
def test_admitted_gpu_seconds_never_exceed_the_budget_plus_what_the_window_refilled(
    jobs: list[tuple[float, float]],
) -> None:
    quota: TenantQuota | None = None
    now, admitted = 0.0, 0.0
    for gap, seconds in jobs:
        now += gap
        verdict = charge(quota, LIMIT, now, seconds, BUDGET)
        if isinstance(verdict, Charged):
            admitted += min(seconds, BUDGET.seconds)
        quota = verdict.quota
    assert admitted <= BUDGET.seconds + now * BUDGET.seconds / BUDGET.window_seconds + 1e-6
