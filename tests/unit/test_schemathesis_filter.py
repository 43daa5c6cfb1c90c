"""The contract test's filter drops only the refusals of rules no schema can state, recognised by their own
problem type or message (as reelstream.params words them), never by the field alone."""

from __future__ import annotations

import json
from types import SimpleNamespace
from typing import Any

import pytest

from ingest.submission import parse_submission
from ingest.usage_report import BEFORE_TO
from reelstream.params import InvalidRequest
from tests.reliability.schemathesis_hooks import filter_failure


def _errors_of(body: dict[str, Any]) -> list[dict[str, str]]:
    with pytest.raises(InvalidRequest) as refused:
        parse_submission(json.dumps({"prompt": "a heron", **body}).encode(), default_model="tiny-mochi")
    return [{"field": e.field, "message": e.message} for e in refused.value.errors]


def _kept(path: str, problem: dict[str, Any], code: str = "ST202", status: int = 422) -> bool:
    response = SimpleNamespace(status_code=status, json=lambda: problem)
    return bool(filter_failure(None, SimpleNamespace(code=code), SimpleNamespace(path=path), response))


@pytest.mark.parametrize(
    "body",
    [
        {"num_frames": 301, "fps": 24},  # 12.5 s at 24 fps: longer than 10 s
        {"width": 1024, "height": 1024},  # shorter side above 768
        {"width": 784, "height": 800, "model": "mochi-1"},  # shorter side 784
    ],
)
def test_the_rules_between_render_fields_are_dropped(body: dict[str, Any]) -> None:
    assert not _kept("/v1/jobs", {"errors": _errors_of(body)})


def test_the_rules_a_schema_states_are_kept() -> None:
    assert _kept("/v1/jobs", {"errors": _errors_of({"width": 40})})  # not a multiple of 16
    assert _kept("/v1/jobs", {"errors": _errors_of({"num_frames": 8})})  # not 6k+1
    mixed = _errors_of({"width": 1024, "height": 1024}) + _errors_of({"fps": 0})
    assert _kept("/v1/jobs", {"errors": mixed})  # one refusal a schema could state: counted


def test_only_the_named_problem_types_and_the_usage_window_are_dropped() -> None:
    assert not _kept("/v1/jobs", {"type": "https://reelstream.dev/problems/idempotency-key-reused"})
    assert not _kept("/v1/jobs/x", {"type": "https://reelstream.dev/problems/workload-too-large"})
    assert _kept("/v1/jobs", {"type": "https://reelstream.dev/problems/invalid-request", "errors": []})
    assert not _kept("/v1/usage", {"errors": [{"field": "from", "message": BEFORE_TO}]})
    assert _kept("/v1/usage", {"errors": [{"field": "to", "message": "not an instant"}]})
    assert _kept("/v1/limits", {"errors": [{"field": "x", "message": "y"}]})
    assert _kept("/v1/jobs", {"errors": _errors_of({"num_frames": 301, "fps": 24})}, code="ST201")
