"""A tenant's quota: a submission takes a token and a queue place, or is refused and costs nothing."""

from __future__ import annotations

import pytest

from reelstream.errors import ConfigurationError
from reelstream.settings import TenantLimit, parse_tenant_limits
from schemas import events as ev
from streams.admission_policy import Reject, rate_limited
from streams.tenant_quota import Charged, OverLimit, TenantQuota, charge, released


def test_the_queue_cap_refuses_until_a_job_leaves_the_queue() -> None:
    limit = TenantLimit(rate=100, burst=100, queued=2)
    quota = None
    for _ in range(2):
        verdict = charge(quota, limit, 0.0)
        assert isinstance(verdict, Charged)
        quota = verdict.quota
    assert quota is not None
    assert quota.queued == 2
    refused = charge(quota, limit, 0.0)
    assert isinstance(refused, OverLimit)
    assert "queued" in refused.reason
    assert refused.quota == quota  # a refused submission takes nothing
    assert isinstance(charge(released(quota), limit, 0.0), Charged)


def test_the_rate_refuses_with_the_time_until_the_next_token() -> None:
    limit = TenantLimit(rate=0.5, burst=1, queued=10)
    first = charge(None, limit, 10.0)
    assert isinstance(first, Charged)
    second = charge(first.quota, limit, 11.0)
    assert isinstance(second, OverLimit)
    assert second.retry_after_seconds == pytest.approx(1.0)
    assert isinstance(charge(second.quota, limit, 12.0), Charged)


def test_released_never_goes_below_zero_and_quotas_round_trip() -> None:
    quota = TenantQuota(charge(None, TenantLimit(), 5.0).quota.bucket, 0)
    assert released(quota).queued == 0
    assert TenantQuota.decode(quota.encode()) == quota


def test_a_rate_limited_rejection_says_rate_limited() -> None:
    command = ev.SubmitJob(job_id="j1", tenant_id="t1", prompt="a red fox", params=ev.RequestedParams())
    rejection = rate_limited(command, "over 1 submissions/s")
    assert isinstance(rejection, Reject)
    assert rejection.event.type == ev.JobEventType.REJECTED
    assert rejection.event.status.error is not None
    assert rejection.event.status.error.code == "rate_limited"
    assert not rejection.event.status.error.retriable


def test_tenant_limits_are_parsed_with_a_default_for_everyone_else() -> None:
    limits = parse_tenant_limits("tenant-a=rate:0.5,burst:5,queued:100; *=rate:1,burst:10,queued:1000")
    assert limits.of("tenant-a") == TenantLimit(rate=0.5, burst=5, queued=100)
    assert limits.of("anyone") == TenantLimit(rate=1, burst=10, queued=1000)
    assert parse_tenant_limits("").of("anyone") == TenantLimit()
    assert parse_tenant_limits("b=rate:2").of("b") == TenantLimit(rate=2)
    assert parse_tenant_limits("fast=rate:2,gang:4").of("fast") == TenantLimit(rate=2, gang=4)


@pytest.mark.parametrize(
    "spec",
    ["a", "a=rate", "a=speed:1", "a=rate:x", "a=rate:0", "=rate:1", "a=burst:0", "a=gang:3", "a=gang:0"],
)
def test_malformed_tenant_limits_are_refused(spec: str) -> None:
    with pytest.raises(ConfigurationError):
        parse_tenant_limits(spec)
