"""GPU work is bounded at submit: a job whose parameters are each within range but together ask for more
work than its model allows a job (`max_work_units`) or more frame pixels than a slot of the pool holds
(`pool_max_work_units`) is refused: 422 `workload-too-large` at ingest naming the limit, and the same
refusal (`workload_too_large`) from admission for a job produced straight to Kafka."""

from __future__ import annotations

import json
from typing import Any

import pytest

from ingest.openapi import openapi_document
from ingest.problems import problem_response
from ingest.submission import parse_submission
from reelstream.cost_model import work_units
from reelstream.models import BUILTIN_MODELS
from reelstream.params import InvalidRequest, WorkloadTooLarge
from schemas.events import RequestedParams, SubmitJob
from streams.admission_policy import Admit, PoolCapacity, Reject, decide

MOCHI = BUILTIN_MODELS["mochi-1"]
# every parameter within its own range, together ~30× the default clip's work
LARGEST = {"width": 1360, "height": 768, "num_frames": 301, "fps": 30, "num_inference_steps": 200}


def problem(body: dict[str, Any], pool_max_work_units: int | None = None) -> dict[str, Any]:
    with pytest.raises(WorkloadTooLarge) as refused:
        parse_submission(
            json.dumps({"prompt": "a heron", **body}).encode(),
            default_model="mochi-1",
            pool_max_work_units=pool_max_work_units,
        )
    response = problem_response(refused.value, "/v1/jobs")
    assert (response.status_code, response.media_type) == (422, "application/problem+json")
    document: dict[str, Any] = json.loads(bytes(response.body))
    return document


def test_the_largest_of_every_range_at_once_is_refused_naming_the_models_work_limit() -> None:
    document = problem(LARGEST)
    assert document["type"].endswith("/workload-too-large")
    assert document["limit"] == "max_work_units"
    assert document["maximum"] == MOCHI.limits.max_work_units
    assert document["requested"] > document["maximum"]
    assert document["detail"].startswith("prompt workload exceeds resource allocation thresholds")
    assert [e["field"] for e in document["errors"]] == ["num_frames"]  # the first sizing field sent


def test_the_defaults_and_one_large_parameter_fit() -> None:
    for body in (
        {},
        {"width": 1360, "height": 768},
        {"duration_seconds": 10.0},
        {"num_inference_steps": 200},
    ):
        submission = parse_submission(
            json.dumps({"prompt": "a heron", **body}).encode(), default_model="mochi-1"
        )
        assert MOCHI.limits.max_work_units is not None
        assert work_units(submission.params) <= MOCHI.limits.max_work_units


def test_a_job_larger_than_the_pools_largest_slot_is_refused_naming_the_pool_limit() -> None:
    default_frame_pixels = 848 * 480 * 163
    document = problem({"width": 1024, "height": 576}, pool_max_work_units=default_frame_pixels)
    assert document["limit"] == "pool_max_work_units"
    assert (document["maximum"], document["requested"]) == (default_frame_pixels, 1024 * 576 * 163)
    assert [e["field"] for e in document["errors"]] == ["width"]
    # the default shape fits exactly
    parse_submission(
        b'{"prompt": "a heron"}', default_model="mochi-1", pool_max_work_units=default_frame_pixels
    )


def test_a_workload_error_is_an_invalid_request_and_other_errors_come_first() -> None:
    """A request invalid in another way is told that first (its fields), not about its size."""
    with pytest.raises(InvalidRequest) as refused:
        parse_submission(
            json.dumps({"prompt": "a heron", **LARGEST, "fps": 99}).encode(), default_model="mochi-1"
        )
    assert not isinstance(refused.value, WorkloadTooLarge)
    assert [e.field for e in refused.value.errors] == ["fps"]


def test_admission_refuses_the_same_for_a_job_produced_straight_to_kafka() -> None:
    command = SubmitJob(job_id="j1", tenant_id="t1", prompt="a heron", params=RequestedParams(**LARGEST))
    decision = decide(command, None, pool_id="default", default_model="mochi-1")
    assert isinstance(decision, Reject)
    error = decision.event.status.error
    assert error is not None
    assert error.code == "workload_too_large"
    assert "max_work_units" in error.message
    small = SubmitJob(job_id="j2", tenant_id="t1", prompt="a heron", params=RequestedParams(width=1024))
    capacity = PoolCapacity(max_work_units=848 * 480 * 163)
    pool_refused = decide(small, None, pool_id="default", default_model="mochi-1", capacity=capacity)
    assert isinstance(pool_refused, Reject)
    assert pool_refused.event.status.error is not None
    assert "pool_max_work_units" in pool_refused.event.status.error.message
    assert isinstance(decide(small, None, pool_id="default", default_model="mochi-1"), Admit)


def test_the_api_document_states_each_models_work_limit_and_the_problem() -> None:
    document = json.dumps(openapi_document(BUILTIN_MODELS))
    assert f"at most {MOCHI.limits.max_work_units}" in document
    assert "workload-too-large" in document
