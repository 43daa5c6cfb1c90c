"""Submissions are judged by the limits of the model they name, as the registry declares them; a model no
pool serves is refused with a 422 naming `model`; the API document's model enum and bounds come from the
models served."""

from __future__ import annotations

import json
from typing import Any

import jsonschema
import pytest

from ingest.openapi import openapi_document
from ingest.problems import problem_response
from ingest.submission import Submission, parse_submission
from reelstream.models import BUILTIN_MODELS, load_registry
from reelstream.params import InvalidRequest
from schemas.events import RequestedParams
from streams.admission_policy import Admit, PoolCapacity, Reject, decide

WITH_FAKE = load_registry("tests.fake_model")
SERVED = frozenset({"tiny-mochi", "fake-clip"})


def submit(body: dict[str, Any], default_model: str = "tiny-mochi") -> Submission:
    return parse_submission(
        json.dumps({"prompt": "a heron", **body}).encode(),
        default_model=default_model,
        models=WITH_FAKE,
        served=SERVED,
    )


def problem_of(body: dict[str, Any], default_model: str = "tiny-mochi") -> dict[str, Any]:
    """The 422 problem+json ingest answers for `body`."""
    with pytest.raises(InvalidRequest) as refused:
        submit(body, default_model)
    response = problem_response(refused.value, "/v1/jobs")
    assert (response.status_code, response.media_type) == (422, "application/problem+json")
    problem: dict[str, Any] = json.loads(bytes(response.body))
    return problem


def messages(problem: dict[str, Any]) -> dict[str, str]:
    return {error["field"]: error["message"] for error in problem["errors"]}


def test_a_model_no_pool_serves_is_a_422_naming_the_field_the_model_and_the_models_served() -> None:
    unserved = messages(problem_of({"model": "mochi-1"}))
    assert unserved == {"model": "model 'mochi-1' is served by no pool; served: fake-clip, tiny-mochi"}
    unknown = messages(problem_of({"model": "sora-9"}))
    assert unknown == {"model": "unknown model 'sora-9'; served: fake-clip, tiny-mochi"}
    # the configured default is refused the same way when no pool serves it
    assert "mochi-1" in messages(problem_of({}, default_model="mochi-1"))["model"]


@pytest.mark.parametrize(
    ("body", "field", "message"),
    [
        ({"width": 36}, "width", "must be a positive multiple of 8 (got 36)"),
        ({"width": 104}, "width", "longer side must be at most 96 (got 104)"),
        ({"width": 72, "height": 72}, "height", "resolution above 64p is not served (shorter side 72)"),
        ({"num_frames": 7}, "num_frames", "must be 4k+1 with k ≥ 1 (got 7)"),
        ({"num_frames": 25}, "num_frames", "clip would be longer than 2 s"),
        ({"duration_seconds": 2.5}, "duration_seconds", "must be in (0, 2] (got 2.5)"),
        ({"fps": 24}, "fps", "must be between 4 and 12 (got 24)"),
        ({"num_inference_steps": 9}, "num_inference_steps", "must be between 1 and 8 (got 9)"),
        ({"guidance_scale": 4.5}, "guidance_scale", "must be between 0 and 2 (got 4.5)"),
        ({"prompt": "x" * 101}, "prompt", "must be at most 100 characters (got 101)"),
        ({"quality": "cinema"}, "quality", "must be one of preview, standard (got 'cinema')"),
        ({"tier": "fast"}, "tier", "model fake-clip has tiers full (got 'fast')"),  # declares no fast tier
        ({"tier": "turbo"}, "tier", "model fake-clip has tiers full (got 'turbo')"),
    ],
)
def test_the_limits_applied_are_those_the_model_declares(
    body: dict[str, Any], field: str, message: str
) -> None:
    assert messages(problem_of({"model": "fake-clip", **body}))[field] == message


def test_what_one_model_refuses_another_may_allow() -> None:
    """Width 40 and 9 frames are fake-clip's own rules (multiples of 8, 4k+1); tiny-mochi refuses both."""
    fake = submit({"model": "fake-clip", "width": 40, "num_frames": 9}).params
    assert (fake.model, fake.width, fake.height, fake.num_frames, fake.fps) == ("fake-clip", 40, 24, 9, 8)
    assert (fake.num_inference_steps, fake.guidance_scale) == (3, 1.0)  # its defaults
    tiny = messages(problem_of({"model": "tiny-mochi", "width": 40, "num_frames": 9}))
    assert tiny == {
        "width": "must be a positive multiple of 16 (got 40)",
        "num_frames": "must be 6k+1 with k ≥ 1 (got 9)",
    }
    preview = submit({"model": "fake-clip", "quality": "preview"}).params
    assert (preview.width, preview.height, preview.num_inference_steps) == (24, 16, 1)
    defaults = submit({"model": "fake-clip", "duration_seconds": 1.9}).params
    assert defaults.num_frames == 13  # 4·3+1: the count of the rule nearest 1.9 s at 8 fps within 2 s


def test_admission_judges_a_job_produced_straight_to_kafka_by_the_same_registry() -> None:
    def command(model: str) -> Any:
        from schemas.events import SubmitJob

        return SubmitJob(job_id="j1", tenant_id="t1", prompt="a heron", params=RequestedParams(model=model))

    capacity = PoolCapacity(models=SERVED)
    admitted = decide(
        command("fake-clip"),
        None,
        pool_id="default",
        default_model="tiny-mochi",
        capacity=capacity,
        models=WITH_FAKE,
    )
    assert isinstance(admitted, Admit)
    assert admitted.admitted.params.num_frames == 9
    for model, reason in (("mochi-1", "no slot of this pool serves mochi-1"), ("fake-clip", "unknown model")):
        models = WITH_FAKE if model == "mochi-1" else BUILTIN_MODELS  # fake-clip: not loaded by this one
        refused = decide(
            command(model),
            None,
            pool_id="default",
            default_model="tiny-mochi",
            capacity=capacity,
            models=models,
        )
        assert isinstance(refused, Reject)  # a final `rejected` with its reason, never left waiting
        assert refused.event.status.error is not None
        assert reason in refused.event.status.error.message


def test_the_api_document_offers_the_models_served_with_the_widest_of_their_bounds() -> None:
    request = openapi_document(WITH_FAKE.served(SERVED))["components"]["schemas"]["JobRequest"]
    fields = request["properties"]
    assert fields["model"]["enum"] == ["fake-clip", "tiny-mochi"]
    assert fields["width"] == {"type": "integer", "multipleOf": 8, "minimum": 8, "maximum": 1360}
    assert fields["num_frames"]["enum"][:3] == [5, 7, 9]  # fake-clip's 4k+1 and 6k+1 together
    assert "fake-clip: 4k+1 with k ≥ 1, tiny-mochi: 6k+1 with k ≥ 1" in fields["num_frames"]["description"]
    assert (fields["fps"]["minimum"], fields["fps"]["maximum"]) == (1, 60)
    assert (fields["num_inference_steps"]["minimum"], fields["num_inference_steps"]["maximum"]) == (1, 200)
    assert fields["prompt"]["maxLength"] == 2000
    assert "`fake-clip`" in request["description"]
    assert "`mochi-1`" not in request["description"]

    builtin = openapi_document()["components"]["schemas"]["JobRequest"]["properties"]
    assert builtin["model"]["enum"] == list(BUILTIN_MODELS.ids)
    assert builtin["width"]["multipleOf"] == 16
    assert builtin["duration_seconds"]["maximum"] == 10.0
    only_tiny = openapi_document(BUILTIN_MODELS.served(frozenset({"tiny-mochi"})))
    assert only_tiny["components"]["schemas"]["JobRequest"]["properties"]["model"]["enum"] == ["tiny-mochi"]


def _valid(schema: dict[str, Any], body: dict[str, Any]) -> bool:
    return jsonschema.Draft202012Validator(schema).is_valid(body)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"model": "fake-clip", "width": 104}, "width"),  # fake-clip's longer side is 96; tiny-mochi's 1360
        ({"model": "fake-clip", "num_frames": 7}, "num_frames"),  # 6k+1 is tiny-mochi's, not fake-clip's 4k+1
        ({"model": "fake-clip", "num_inference_steps": 60}, "num_inference_steps"),
        ({"model": "tiny-mochi", "num_frames": 5}, "num_frames"),  # 4k+1 is fake-clip's only
        ({"model": "tiny-mochi", "width": 40}, "width"),  # a multiple of 8, not of 16
        ({"model": "fake-clip", "tier": "fast"}, "tier"),  # tiny-mochi has a fast tier, fake-clip none
    ],
)
def test_a_named_models_own_bounds_are_in_the_document_where_narrower_than_the_widest(
    body: dict[str, Any], field: str
) -> None:
    """With several models served, the document refuses what the named model refuses (not only the widest
    bounds): a request breaking its own limit is invalid by the schema and a 422 naming the field."""
    schema = openapi_document(WITH_FAKE.served(SERVED))["components"]["schemas"]["JobRequest"]
    request = {"prompt": "a heron", **body}
    widest = {k: v for k, v in schema.items() if k != "allOf"}
    assert _valid(widest, request)  # the widest bounds alone take it
    assert not _valid(schema, request)  # the model's own refuse it
    assert field in messages(problem_of(body))


def test_every_model_by_its_defaults_is_valid_and_one_model_has_no_branches() -> None:
    schema = openapi_document(WITH_FAKE.served(SERVED))["components"]["schemas"]["JobRequest"]
    for model in SERVED:
        assert _valid(schema, {"prompt": "a heron", "model": model})
    single = openapi_document(BUILTIN_MODELS.served(frozenset({"tiny-mochi"})))["components"]["schemas"]
    assert "allOf" not in single["JobRequest"]
    assert "JSON Schema cannot state" in single["JobRequest"]["description"]


def test_the_tier_is_resolved_per_model_and_named_when_the_model_lacks_it() -> None:
    assert submit({}).params.tier == "full"  # the default, echoed
    assert submit({"tier": "fast"}).params.tier == "fast"  # tiny-mochi declares one
    assert submit({"tier": "full", "model": "fake-clip"}).params.tier == "full"
    both = messages(problem_of({"tier": "turbo", "quality": "cinema"}))  # every bad field named at once
    assert both == {
        "quality": "must be one of preview, standard (got 'cinema')",
        "tier": "model tiny-mochi has tiers fast, full (got 'turbo')",
    }
    schema = openapi_document(WITH_FAKE.served(SERVED))["components"]["schemas"]["JobRequest"]
    assert schema["properties"]["tier"]["enum"] == ["fast", "full"]
    assert schema["properties"]["tier"]["default"] == "full"
    assert _valid(schema, {"prompt": "a heron", "model": "tiny-mochi", "tier": "fast"})
    assert not _valid(schema, {"prompt": "a heron", "tier": "turbo"})


def test_admission_rejects_a_tier_the_model_lacks_in_a_job_produced_straight_to_kafka() -> None:
    from schemas.events import SubmitJob

    def decided(model: str, tier: str) -> Admit | Reject:
        command = SubmitJob(
            job_id="j1", tenant_id="t1", prompt="a heron", params=RequestedParams(model=model, tier=tier)
        )
        capacity = PoolCapacity(models=SERVED)
        return decide(
            command, None, pool_id="default", default_model="tiny-mochi", capacity=capacity, models=WITH_FAKE
        )

    admitted = decided("tiny-mochi", "fast")
    assert isinstance(admitted, Admit)
    assert admitted.admitted.params.tier == "fast"
    refused = decided("fake-clip", "fast")
    assert isinstance(refused, Reject)
    assert refused.event.status.error is not None
    assert "tier" in refused.event.status.error.message
