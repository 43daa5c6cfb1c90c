"""The JSON representation of a job: nested records appear field by field, as copies."""

from __future__ import annotations

import json
from dataclasses import asdict, replace
from datetime import UTC, datetime

from schemas.events import Artifact, ErrorInfo, JobState, JobStatus, RenderParams
from schemas.views import job_resource

NOW = datetime(2026, 1, 2, 3, 4, 5, 678000, tzinfo=UTC)


def finished_job() -> JobStatus:
    return JobStatus(
        job_id="job_1",
        tenant_id="acme",
        state=JobState.FAILED,
        prompt="a red fox",
        created_at=NOW,
        updated_at=NOW,
        params=RenderParams("tiny-mochi", 64, 48, 7, 24, 2, 4.5, 42),
        artifact=Artifact(
            key="acme/job_1/1/video.mp4",
            sha256="0" * 64,
            bytes=1234,
            content_type="video/mp4",
            duration_seconds=0.29,
            frames=7,
            width=64,
            height=48,
            fps=24.0,
            render_settings={"attention": "auto"},
        ),
        error=ErrorInfo("render_failed", "out of memory", retriable=True),
    )


def test_nested_records_are_shown_as_dataclasses_asdict_shows_them() -> None:
    status = finished_job()
    resource = job_resource(status)
    assert status.params is not None
    assert status.artifact is not None
    assert status.error is not None
    for name, record in (
        ("parameters", status.params),
        ("artifact", status.artifact),
        ("error", status.error),
    ):
        assert json.dumps(resource[name]) == json.dumps(asdict(record))  # same fields, same order


def test_the_resource_is_a_copy_changing_it_leaves_the_job_alone() -> None:
    status = finished_job()
    job_resource(status)["artifact"]["render_settings"]["attention"] = "changed"
    assert status.artifact is not None
    assert status.artifact.render_settings == {"attention": "auto"}


def test_a_job_shows_the_long_job_estimators_verdict() -> None:
    resource = job_resource(replace(finished_job(), predicted_long=True, long_probability=0.83))
    assert (resource["predicted_long"], resource["long_probability"]) == (True, 0.83)
    assert job_resource(finished_job())["long_probability"] is None  # admitted before the estimator
