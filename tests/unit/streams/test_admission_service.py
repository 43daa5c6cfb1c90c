"""Admission as a plain service: commands in, records out, its state in a dict (no Kafka, no Faust)."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reelstream.errors import InvalidRecordError
from reelstream.long_jobs import LongJobEstimator
from reelstream.settings import TenantLimit
from schemas import events as ev
from schemas.topics import SCHEDULER_INBOX, TENANT_LIMITS
from streams.admission_policy import PoolCapacity
from streams.admission_service import AdmissionService, Output, Record, Rejection
from streams.long_job_tracking import LongJobTracker
from streams.tenant_quota import TenantQuota
from tests.samples import T0


class DictStore:
    """The AdmissionStore port over three dicts."""

    def __init__(self) -> None:
        self.pools: dict[str, bytes] = {}
        self.charges: dict[str, float] = {}
        self.quotas: dict[str, TenantQuota] = {}

    def pool(self, job_id: str) -> bytes | None:
        return self.pools.get(job_id)

    def set_pool(self, job_id: str, stored: bytes) -> None:
        self.pools[job_id] = stored

    def charged(self, job_id: str) -> float | None:
        return self.charges.get(job_id)

    def set_charged(self, job_id: str, seconds: float | None) -> None:
        if seconds is None:
            self.charges.pop(job_id, None)
        else:
            self.charges[job_id] = seconds

    def quota(self, tenant_id: str) -> TenantQuota | None:
        return self.quotas.get(tenant_id)

    def set_quota(self, tenant_id: str, quota: TenantQuota) -> None:
        self.quotas[tenant_id] = quota


def service_factory(limit: TenantLimit | None = None, **overrides: Any) -> AdmissionService:
    fields: dict[str, Any] = dict(
        pool_id="gpu-b",
        capacity=PoolCapacity(),
        default_model="tiny-mochi",
        limits_of=lambda tenant_id: limit or TenantLimit(running=3),
        pool_partition=lambda pool_id: {"gpu-a": 0, "gpu-b": 1}[pool_id],
    )
    return AdmissionService(**{**fields, **overrides})


def submit(job_id: str = "j1", tenant: str = "t1", at: float = 0.0, **params: Any) -> ev.SubmitJob:
    requested = ev.RequestedParams(**{"model": "tiny-mochi", **params})
    occurred = T0 + timedelta(seconds=at)
    return ev.SubmitJob(
        job_id=job_id, tenant_id=tenant, prompt="a fox", params=requested, occurred_at=occurred
    )


def finished(job_id: str = "j1", tenant: str = "t1", at: float = 1.0) -> ev.JobFinished:
    occurred = T0 + timedelta(seconds=at)
    return ev.JobFinished(job_id=job_id, tenant_id=tenant, state=ev.JobState.SUCCEEDED, occurred_at=occurred)


def to_scheduler(outputs: list[Output]) -> list[Record]:
    return [o for o in outputs if isinstance(o, Record) and o.topic == SCHEDULER_INBOX]


def test_a_submission_is_admitted_to_its_pools_inbox_partition_with_the_tenants_running_cap() -> None:
    counted: list[tuple[str, str]] = []
    store = DictStore()
    outputs = service_factory(counted=lambda d, t: counted.append((d, t))).handle(submit(), store)

    [limits, admitted] = outputs
    assert isinstance(limits, Record)
    assert (limits.topic, limits.key) == (TENANT_LIMITS, "t1")  # the tenant's state first: its first
    assert isinstance(admitted, Record)
    assert (admitted.topic, admitted.key, admitted.partition) == (SCHEDULER_INBOX, "gpu-b", 1)
    assert isinstance(admitted.value, ev.JobAdmitted)
    assert (admitted.value.job_id, admitted.value.running_cap) == ("j1", 3)
    assert store.pools == {"j1": b"gpu-b"}
    assert store.quotas["t1"].queued == 1
    assert counted == [("admit", "t1")]


def test_a_low_latency_tenants_gang_limit_rides_on_its_admitted_jobs() -> None:
    service = service_factory(limit=TenantLimit(gang=4))
    [_, admitted] = service.handle(submit(), DictStore())
    assert isinstance(admitted, Record)
    assert isinstance(admitted.value, ev.JobAdmitted)
    assert admitted.value.max_gang_slots == 4
    [_, plain] = service_factory().handle(submit(), DictStore())
    assert isinstance(plain, Record)
    assert isinstance(plain.value, ev.JobAdmitted)
    assert plain.value.max_gang_slots is None


def test_a_submission_seen_again_is_sent_again_uncharged() -> None:
    service, store = service_factory(), DictStore()
    service.handle(submit(), store)
    quota = store.quotas["t1"]
    again = service.handle(submit(at=0.5), store)
    assert [r.value.job_id for r in to_scheduler(again)] == ["j1"]
    assert store.quotas["t1"] == quota


def test_an_invalid_submission_is_rejected_and_remembered_as_rejected() -> None:
    store = DictStore()
    [rejection] = service_factory().handle(submit(width=30), store)
    assert isinstance(rejection, Rejection)
    assert rejection.status.state == ev.JobState.REJECTED
    assert rejection.event_type == ev.JobEventType.REJECTED
    assert store.pools == {"j1": b""}
    assert store.quotas == {}  # a rejected submission is not charged


def test_a_tenant_over_its_burst_is_rate_limited() -> None:
    service, store = service_factory(TenantLimit(rate=0.001, burst=1)), DictStore()
    assert to_scheduler(service.handle(submit("j1"), store))
    outputs = service.handle(submit("j2", at=0.1), store)
    [rejection] = [o for o in outputs if isinstance(o, Rejection)]
    assert rejection.status.error is not None
    assert rejection.status.error.code == "rate_limited"
    assert not to_scheduler(outputs)


def test_a_finished_job_frees_its_place_once() -> None:
    counted: list[tuple[str, str]] = []
    service, store = service_factory(counted=lambda d, t: counted.append((d, t))), DictStore()
    service.handle(submit(), store)
    service.handle(finished(), store)
    assert store.quotas["t1"].queued == 0
    assert service.handle(finished(at=2.0), store) == []
    assert store.quotas["t1"].queued == 0
    assert counted == [("admit", "t1"), ("released", "t1")]


def test_a_cancellation_goes_to_the_pool_that_admitted_the_job() -> None:
    service, store = service_factory(), DictStore()
    service.handle(submit(), store)
    [forwarded] = service.handle(ev.CancelJob(job_id="j1", tenant_id="t1"), store)
    assert isinstance(forwarded, Record)
    assert isinstance(forwarded.value, ev.CancelRequested)
    assert (forwarded.topic, forwarded.partition) == (SCHEDULER_INBOX, 1)


def test_a_command_without_a_tenant_is_refused_as_an_invalid_record() -> None:
    with pytest.raises(InvalidRecordError):
        service_factory().handle(submit(tenant=""), DictStore())


def test_limit_state_is_published_only_when_it_changed() -> None:
    service, store = service_factory(), DictStore()
    service.handle(submit(), store)
    quota = store.quotas["t1"]
    assert service.limit_state("t1", quota, T0.timestamp() + 0.1) == []


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["submit", "finish"]), st.integers(0, 5)), max_size=40))
def test_a_tenants_queued_count_is_its_admitted_jobs_not_yet_finished(
    steps: list[tuple[str, int]],
) -> None:
    service, store = service_factory(TenantLimit(rate=1000, burst=1000, queued=3)), DictStore()
    live: set[str] = set()
    for at, (what, n) in enumerate(steps):
        job_id = f"j{n}"
        if what == "submit":
            if to_scheduler(service.handle(submit(job_id, at=at), store)) and store.pools[job_id] == b"gpu-b":
                live.add(job_id)
        else:
            service.handle(finished(job_id, at=at), store)
            live.discard(job_id)
        quota = store.quotas.get("t1")
        assert (quota.queued if quota else 0) == len(live)
        assert len(live) <= 3


def test_an_admitted_job_carries_the_long_job_estimators_verdict() -> None:
    outputs = service_factory().handle(submit(num_frames=163), DictStore())
    [admitted] = [r.value for r in to_scheduler(outputs)]
    assert isinstance(admitted, ev.JobAdmitted)
    assert admitted.long_probability is not None
    assert 0.0 < admitted.long_probability < 1.0
    assert admitted.predicted_long == (admitted.long_probability >= 0.5)


def test_a_finished_render_is_judged_once_per_model_and_taught_to_the_estimator() -> None:
    judged: list[tuple[str, str]] = []
    tracker = LongJobTracker(
        LongJobEstimator(threshold_seconds=60.0), judged=lambda m, o: judged.append((m, o))
    )
    service, store = service_factory(long_jobs=tracker), DictStore()
    service.handle(submit(), store)
    done = replace(finished(), model="tiny-mochi", predicted_long=False, render_seconds=90.0)
    service.handle(done, store)
    service.handle(replace(done, event_id="again"), store)  # written again by a restarted scheduler
    assert judged == [("tiny-mochi", "fn")]
    assert tracker.estimator.observed == 1
    failed = replace(finished("j2"), state=ev.JobState.FAILED, predicted_long=True)
    service.handle(submit("j2"), store)
    service.handle(failed, store)
    assert judged == [("tiny-mochi", "fn")]  # no render time, no truth
