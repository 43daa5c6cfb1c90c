"""Parsing POST /v1/jobs bodies: JSON shape here, value rules from reelstream.params, resolved values out."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import pytest

from ingest.errors import MalformedRequest
from ingest.submission import (
    accepted_status,
    json_depth,
    parse_json_object,
    parse_submission,
    placeholder_of,
    submit_command,
)
from reelstream.errors import InvalidRecordError
from reelstream.http_settings import WebhookTargetPolicy
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


def test_null_is_refused_and_numbers_accept_integers_and_integers_integral_numbers() -> None:
    """An optional field is omitted, never null (the OpenAPI document says so: no field is nullable)."""
    assert fields_of({"prompt": "p", "seed": None, "negative_prompt": None}) == ["negative_prompt", "seed"]
    submission = parse({"prompt": "p", "guidance_scale": 5, "seed": 7.0})
    assert submission.params.guidance_scale == 5.0
    assert submission.params.seed == 7
    assert isinstance(submission.params.seed, int)
    assert fields_of({"prompt": "p", "seed": 7.5}) == ["seed"]


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


# ---- hostile input (#21): depth, NUL and lone surrogates, webhook targets ----------------------------


@pytest.mark.parametrize(
    ("raw", "field"),
    [
        (b'{"prompt": "a \\ud800 fox"}', "prompt"),
        (b'{"prompt": "a \\u0000 fox"}', "prompt"),
        (b'{"prompt": "p", "negative_prompt": "\\udfff"}', "negative_prompt"),
        (b'{"prompt": "p", "metadata": {"k": "\\ud834"}}', "metadata"),
        (b'{"prompt": "p", "metadata": {"\\u0000": "v"}}', "metadata"),
        (b'{"prompt": "p", "\\ud800": 1}', "body"),
        (b'{"prompt": "p", "webhook_url": "https://h.example/\\u0000"}', "webhook_url"),
    ],
)
def test_a_nul_or_a_lone_surrogate_is_a_422_naming_the_field(raw: bytes, field: str) -> None:
    with pytest.raises(InvalidRequest) as caught:
        parse_submission(raw, default_model="tiny-mochi")
    assert field in {e.field for e in caught.value.errors}


def test_a_paired_surrogate_is_text() -> None:
    assert parse_submission(b'{"prompt": "a \\ud83e\\udd8a"}', default_model="tiny-mochi").prompt == "a 🦊"


@pytest.mark.parametrize("depth", [65, 1000, 100_000])
def test_json_nested_deeper_than_64_is_malformed(depth: int) -> None:
    raw = b'{"prompt": "p", "metadata": ' + b"[" * depth + b"]" * depth + b"}"
    with pytest.raises(MalformedRequest):
        parse_json_object(raw)


def test_json_nested_64_deep_parses_and_brackets_in_strings_do_not_count() -> None:
    assert json_depth("[" * 64 + "]" * 64) == 64
    assert json_depth('{"a": "[[[[{{{{\\"[["}') == 1
    deep = {"prompt": "[" * 500, "metadata": {"k": "{" * 200}}
    assert parse_json_object(json.dumps(deep).encode())["prompt"] == "[" * 500


@pytest.mark.parametrize(
    ("url", "allow_http", "ok"),
    [
        ("https://hooks.example/h", False, True),
        ("http://hooks.example/h", False, False),
        ("http://hooks.example/h", True, True),
        ("https://127.0.0.1/h", True, False),
        ("https://[2002:7f00:1::1]/h", False, False),
        ("https://hooks.example/" + "a" * 60_000, True, False),
    ],
)
def test_webhook_targets_at_submit(url: str, allow_http: bool, ok: bool) -> None:
    targets = WebhookTargetPolicy(allow_http=allow_http)
    body = json.dumps({"prompt": "p", "webhook_url": url}).encode()
    if ok:
        assert parse_submission(body, default_model="tiny-mochi", targets=targets).webhook_url == url
        return
    with pytest.raises(InvalidRequest) as caught:
        parse_submission(body, default_model="tiny-mochi", targets=targets)
    assert [e.field for e in caught.value.errors] == ["webhook_url"]


def test_an_out_of_range_duration_names_duration_seconds() -> None:
    with pytest.raises(InvalidRequest) as caught:
        parse_submission(b'{"prompt": "p", "duration_seconds": 30}', default_model="tiny-mochi")
    assert [e.field for e in caught.value.errors] == ["duration_seconds"]
