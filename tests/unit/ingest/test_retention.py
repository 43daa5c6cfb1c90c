"""Retention: when a finished job and its video expire, and the due-time keys that find the due ones."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from ingest.retention import Expiries, Retention, expires_at, retained_resource, video_expires_at
from reelstream.local_store import LocalStore
from schemas.events import JobState, JobStatus
from tests.local_stores import fresh_namespace
from tests.samples import T0, artifact, job_status

RETENTION = Retention(records=timedelta(days=30), videos=timedelta(days=7))


def finished(state: JobState = JobState.SUCCEEDED, at: timedelta = timedelta(0), **kw: object) -> JobStatus:
    when = T0 + at
    return job_status(state=state, state_times={"queued": T0, state.value: when}, updated_at=when, **kw)


def test_an_active_job_never_expires() -> None:
    running = job_status(state=JobState.RUNNING, artifact=None)
    assert (expires_at(running, RETENTION), video_expires_at(running, RETENTION)) == (None, None)
    assert retained_resource(running, RETENTION)["expires_at"] is None


def test_a_success_loses_its_video_first_then_its_record() -> None:
    done = finished()
    assert video_expires_at(done, RETENTION) == T0 + timedelta(days=7)
    assert expires_at(done, RETENTION) == T0 + timedelta(days=30)
    shown = retained_resource(done, RETENTION)
    assert (shown["content_expires_at"], shown["expires_at"]) == (
        "2026-12-04T12:00:00.123000Z",
        "2026-12-27T12:00:00.123000Z",
    )


def test_a_failure_has_no_video_to_expire() -> None:
    failed = finished(JobState.FAILED, artifact=None)
    assert video_expires_at(failed, RETENTION) is None
    assert expires_at(failed, RETENTION) == T0 + timedelta(days=30)


def test_a_video_never_outlives_its_record() -> None:
    short = Retention(records=timedelta(days=1), videos=timedelta(days=7))
    assert video_expires_at(finished(), short) == expires_at(finished(), short)


@given(
    st.lists(st.integers(min_value=0, max_value=100), max_size=30), st.integers(min_value=0, max_value=140)
)
def test_exactly_the_due_jobs_come_out_once(
    local_store: LocalStore, days_ago: list[int], now_days: int
) -> None:
    expiries = Expiries(RETENTION, fresh_namespace(local_store))
    jobs = [
        finished(at=timedelta(days=d), job_id=f"j{i}", artifact=artifact()) for i, d in enumerate(days_ago)
    ]
    for job in jobs:
        expiries.note(job)
    now = T0 + timedelta(days=now_days)
    records = expiries.due_records(now)
    assert sorted(records) == sorted(j.job_id for j in jobs if expires_at(j, RETENTION) <= now)
    assert sorted(expiries.due_videos(now)) == sorted(
        j.job_id for j in jobs if video_expires_at(j, RETENTION) <= now
    )
    assert expiries.due_records(now) == []  # popped: a sweep sees each once


def test_a_tenants_override_replaces_only_what_it_names() -> None:
    assert RETENTION.overridden(None, None) == RETENTION
    assert RETENTION.overridden(1, None) == Retention(timedelta(days=1), timedelta(days=7))
    assert RETENTION.overridden(None, 2) == Retention(timedelta(days=30), timedelta(days=2))
    shown = retained_resource(finished(), RETENTION.overridden(1, None))
    assert (shown["content_expires_at"], shown["expires_at"]) == (
        "2026-11-28T12:00:00.123000Z",  # a video never outlives its record
        "2026-11-28T12:00:00.123000Z",
    )


def test_each_tenant_is_swept_under_its_own_retention(local_store: LocalStore) -> None:
    short = RETENTION.overridden(1, None)
    expiries = Expiries(
        RETENTION,
        fresh_namespace(local_store),
        lambda tenant_id: short if tenant_id == "brief" else RETENTION,
    )
    for tenant_id in ("brief", "keeps", "brief-but-longer-name"):
        expiries.note(finished(job_id=f"{tenant_id}-job", tenant_id=tenant_id, artifact=artifact()))
    a_day_later = T0 + timedelta(days=1, microseconds=1)
    assert expiries.due_records(a_day_later) == ["brief-job"]
    assert expiries.due_videos(a_day_later) == ["brief-job"]
    assert expiries.due_records(T0 + timedelta(days=29)) == []


def test_a_changed_override_applies_to_jobs_already_noted(local_store: LocalStore) -> None:
    overrides: dict[str, Retention] = {}
    expiries = Expiries(
        RETENTION, fresh_namespace(local_store), lambda tenant_id: overrides.get(tenant_id, RETENTION)
    )
    expiries.note(finished(job_id="old", tenant_id="acme", artifact=None))
    three_days_later = T0 + timedelta(days=3)
    assert expiries.due_records(three_days_later) == []  # 30 days
    overrides["acme"] = RETENTION.overridden(2, None)  # the operator shortens it: nothing recomputed
    assert expiries.due_records(three_days_later) == ["old"]


@given(
    st.lists(
        st.tuples(st.sampled_from(["a", "b", "ab", "c.d"]), st.integers(min_value=0, max_value=60)),
        max_size=30,
    ),
    st.integers(min_value=0, max_value=90),
)
def test_exactly_the_due_jobs_of_every_tenant_come_out_once(
    local_store: LocalStore, jobs_by_tenant: list[tuple[str, int]], now_days: int
) -> None:
    per_tenant = {"a": RETENTION.overridden(1, None), "ab": RETENTION.overridden(45, 3)}
    expiries = Expiries(
        RETENTION, fresh_namespace(local_store), lambda tenant_id: per_tenant.get(tenant_id, RETENTION)
    )
    jobs = [
        finished(at=timedelta(days=d), job_id=f"j{i}", tenant_id=t, artifact=artifact())
        for i, (t, d) in enumerate(jobs_by_tenant)
    ]
    for job in jobs:
        expiries.note(job)
    now = T0 + timedelta(days=now_days)

    def due(when: Callable[[JobStatus, Retention], datetime | None]) -> list[str]:
        return sorted(
            j.job_id for j in jobs if (w := when(j, per_tenant.get(j.tenant_id, RETENTION))) and w <= now
        )

    assert sorted(expiries.due_records(now)) == due(expires_at)
    assert sorted(expiries.due_videos(now)) == due(video_expires_at)
    assert expiries.due_records(now) == expiries.due_videos(now) == []
