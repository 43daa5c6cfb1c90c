"""Pure parts of the HTTP edge: bearer parsing, the API key table, the problem table, the OpenAPI document."""

from __future__ import annotations

import json

import pytest
from starlette.routing import Route

from ingest.app import create_app
from ingest.auth import Principal, StaticApiKeys, bearer_token
from ingest.console import is_static
from ingest.errors import JobNotFound, JobStateConflict, MalformedRequest, NotReady, Unauthenticated
from ingest.openapi import openapi_document
from ingest.problems import PROBLEM_JSON, problem_response
from ingest.retention import Retention, retained_resource
from ingest.routes import JobJSONResponse
from ingest.sse import format_event
from reelstream.endpoints import Endpoints
from reelstream.kafka.clients import BrokerUnavailableError
from reelstream.params import FieldError, InvalidRequest
from reelstream.settings import IngestSettings, PipelineSettings
from schemas.views import job_resource
from tests.samples import job_status

ENDPOINTS = Endpoints("127.0.0.1:1", "http://127.0.0.1:1", "http://127.0.0.1:1", "a", "s", "b")


@pytest.mark.parametrize(
    ("header", "token"),
    [
        ("Bearer abc", "abc"),
        ("bearer  abc ", "abc"),
        ("Basic abc", None),
        ("Bearer", None),
        ("", None),
        (None, None),
    ],
)
def test_bearer_token(header: str | None, token: str | None) -> None:
    assert bearer_token(header) == token


async def test_static_keys_name_the_tenant_and_nothing_else() -> None:
    keys = StaticApiKeys({"k-alice": "alice", "k-bob": "bob"})
    assert await keys.authenticate("k-alice") == Principal("alice")
    principal = await keys.authenticate("k-bob")
    assert principal is not None
    assert principal.tenant_id == "bob"
    for wrong in ["", "k-alic", "k-alice ", "K-ALICE", "alice"]:
        assert await keys.authenticate(wrong) is None


@pytest.mark.parametrize(
    ("error", "status"),
    [
        (MalformedRequest("x"), 400),
        (Unauthenticated("x"), 401),
        (JobNotFound("j"), 404),
        (JobStateConflict("x"), 409),
        (InvalidRequest([FieldError("width", "bad")]), 422),
        (BrokerUnavailableError("kafka said no: internal detail"), 503),
        (NotReady("x"), 503),
        (RuntimeError("internal detail"), 500),
    ],
)
def test_the_problem_table(error: Exception, status: int) -> None:
    response = problem_response(error, "/v1/jobs")
    body = json.loads(bytes(response.body))
    assert response.status_code == body["status"] == status
    assert response.media_type == PROBLEM_JSON
    assert {"type", "title", "status", "detail", "instance"} <= set(body)
    assert body["instance"] == "/v1/jobs"
    assert "internal detail" not in body["detail"]
    assert ("www-authenticate" in response.headers) == (status == 401)
    assert ("retry-after" in response.headers) == (status == 503)
    if status == 422:
        assert body["errors"] == [{"field": "width", "message": "bad"}]


def test_the_openapi_job_schema_has_exactly_the_fields_of_the_job_resource() -> None:
    schema = openapi_document()["components"]["schemas"]["Job"]
    assert set(schema["properties"]) == set(retained_resource(job_status(), Retention()))


def test_the_openapi_document_describes_every_route_of_the_app() -> None:
    app = create_app(IngestSettings(pipeline=PipelineSettings(endpoints=ENDPOINTS)))  # no I/O until served
    paths = openapi_document()["paths"]
    described = {(m.upper(), p) for p, ops in paths.items() for m in ops}
    routed = {
        (m, r.path)
        for r in app.routes
        if isinstance(r, Route) and not is_static(r)  # not the console's and /docs' static pages
        for m in (r.methods or ())
        if m != "HEAD"
    }
    assert routed == described


def test_an_event_is_one_status_record_with_the_version_as_id() -> None:
    status = job_status(version=12)
    text = format_event(status)
    assert text.endswith("\n\n")
    assert text.count("\n\n") == 1
    lines = text.strip().split("\n")
    assert lines[:2] == ["event: status", "id: 12"]
    assert json.loads(lines[2].removeprefix("data: ")) == job_resource(status)


def test_a_job_response_is_the_job_resource_as_json_whatever_renders_it() -> None:
    status = job_status(metadata={"café": "naïve"})
    body = JobJSONResponse(retained_resource(status, Retention()), status_code=202).body
    assert json.loads(body) == retained_resource(status, Retention())
    assert "café".encode() in body  # UTF-8, not \\u escapes
    huge = JobJSONResponse({"seed": 2**70})  # beyond orjson's 64 bits: rendered by the json module
    assert json.loads(huge.body) == {"seed": 2**70}
