"""Retention: when a finished job and its video expire, and the due-time keys that find the due ones."""

from __future__ import annotations

from datetime import timedelta

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
