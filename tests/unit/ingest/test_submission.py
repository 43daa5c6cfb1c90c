"""Parsing POST /v1/jobs bodies: JSON shape here, value rules from reelstream.params, resolved values out."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import pytest

from ingest.errors import MalformedRequest
from ingest.submission import accepted_status, parse_submission, placeholder_of, submit_command
from reelstream.errors import InvalidRecordError
from reelstream.params import InvalidRequest, validate_submission
from schemas.events import JobState, RequestedParams


def parse(body: Any) -> Any:
    return parse_submission(json.dumps(body).encode(), default_model="tiny-mochi")


def fields_of(body: Any) -> list[str]:
    with pytest.raises(InvalidRequest) as raised:
        parse(body)
    return [e.field for e in raised.value.errors]


def test_every_unknown_field_and_wrong_type_is_named_at_once() -> None:
    body = {"prompt": 3, "colour": "red", "size": 1, "fps": 2.5, "guidance_scale": "4", "metadata": "x"}
    assert sorted(fields_of(body)) == ["colour", "fps", "guidance_scale", "metadata", "prompt", "size"]


@pytest.mark.parametrize("value", [True, 1.0, "7", [7]])
def test_integers_must_be_json_integers(value: Any) -> None:
    assert fields_of({"prompt": "p", "num_frames": value}) == ["num_frames"]


def test_null_means_absent_and_numbers_accept_integers() -> None:
    submission = parse({"prompt": "p", "seed": None, "guidance_scale": 5, "negative_prompt": None})
    assert submission.params.guidance_scale == 5.0
    assert submission.negative_prompt is None
    assert submission.params.seed >= 0


@pytest.mark.parametrize("body", [b"", b"{", b"\xff", b'{"prompt": Infinity}', b"[1,]"])
def test_what_is_not_json_is_malformed(body: bytes) -> None:
    with pytest.raises(MalformedRequest):
        parse_submission(body, default_model="tiny-mochi")


def test_value_rules_are_those_of_params() -> None:
    assert fields_of({"prompt": " "}) == ["prompt"]
    assert fields_of({"prompt": "p", "width": 850, "webhook_url": "ftp://x"}) == ["width", "webhook_url"]


def test_preview_quality_starts_from_the_smaller_size_and_fewer_steps() -> None:
    preview = parse({"prompt": "fox", "quality": "preview"}).params
    standard = parse({"prompt": "fox"}).params

    assert (preview.width, preview.height, preview.num_inference_steps) == (32, 32, 2)
    assert (standard.width, standard.height, standard.num_inference_steps) == (64, 48, 4)
    assert (preview.quality, standard.quality) == ("preview", "standard")


def test_explicit_values_win_over_the_quality() -> None:
    params = parse({"prompt": "fox", "quality": "preview", "width": 48, "num_inference_steps": 3}).params

    assert (params.width, params.height, params.num_inference_steps) == (48, 32, 3)


def test_an_unknown_quality_is_named() -> None:
    assert fields_of({"prompt": "fox", "quality": "ultra"}) == ["quality"]


def test_the_command_carries_resolved_values_that_validate_to_the_same_render() -> None:
    submission = parse(
        {"prompt": "fox", "duration_seconds": 0.5, "metadata": {"k": "v"}, "quality": "preview"}
    )
    command = submit_command(submission, "tenant-1")
    assert command.params.duration_seconds is None
    assert command.params.seed == submission.params.seed
    again = validate_submission(
        command.prompt, None, command.params, None, command.metadata, default_model="mochi-1"
    )
    assert again == submission.params


def test_the_placeholder_is_accepted_version_zero_with_resolved_parameters() -> None:
    submission = parse({"prompt": "fox"})
    command = submit_command(submission, "tenant-1", job_id="j-1")
    placeholder = accepted_status(command, submission.params)
    assert (placeholder.job_id, placeholder.tenant_id) == ("j-1", "tenant-1")
    assert (placeholder.state, placeholder.version, placeholder.params) == (
        JobState.ACCEPTED,
        0,
        submission.params,
    )
    assert placeholder.created_at == command.occurred_at
    assert placeholder.state_times == {"accepted": command.occurred_at}


@pytest.mark.parametrize("body", [{"prompt": "fox"}, {"prompt": "fox", "seed": 7, "quality": "preview"}])
def test_the_placeholder_is_rebuilt_from_the_command_alone(body: dict[str, Any]) -> None:
    """The status view keeps the command's record, not the placeholder: what it rebuilds is what was shown."""
    submission = parse(body)
    command = submit_command(submission, "tenant-1")
    assert placeholder_of(command) == accepted_status(command, submission.params)


def test_a_command_with_unresolved_parameters_has_no_placeholder() -> None:
    command = submit_command(parse({"prompt": "fox"}), "tenant-1")
    unresolved = dataclasses.replace(command, params=RequestedParams(model="tiny-mochi"))
    with pytest.raises(InvalidRecordError):
        placeholder_of(unresolved)
