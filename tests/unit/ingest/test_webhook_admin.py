"""The bodies of the webhook admin routes: every bad field is named (422), nothing else gets through."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from ingest.errors import MalformedRequest
from ingest.webhook_admin import parse_endpoint_request, parse_secret_request
from reelstream.http_settings import WebhookTargetPolicy
from reelstream.params import InvalidRequest
from tests.samples import T0


def test_a_secret_needs_no_body_and_may_expire() -> None:
    assert parse_secret_request(b"", T0) is None
    assert parse_secret_request(b"{}", T0) is None
    later = T0 + timedelta(days=1)
    assert parse_secret_request(json.dumps({"expires_at": later.isoformat()}).encode(), T0) == later


@pytest.mark.parametrize(
    "body",
    [
        {"expires_at": "tomorrow"},
        {"expires_at": "2020-01-01T00:00:00"},  # no offset
        {"expires_at": None},  # omitted, never null
        {"expires_at": 5},
        {"secret": "whsec_Zm9v"},  # values are generated, never chosen
    ],
)
def test_bad_secret_requests_are_refused(body: dict[str, object]) -> None:
    with pytest.raises(InvalidRequest):
        parse_secret_request(json.dumps(body).encode(), T0)


def test_an_endpoint_is_a_url_with_an_optional_filter() -> None:
    body = {
        "url": "https://hooks.example/a?t=1",
        "event_types": ["job.failed", "job.succeeded", "job.failed"],
    }
    url, types, text = parse_endpoint_request(json.dumps(body).encode())
    assert (url, types, text) == ("https://hooks.example/a?t=1", ["job.failed", "job.succeeded"], None)
    plain = b'{"url": "http://h.example", "description": "ops"}'
    assert parse_endpoint_request(plain, WebhookTargetPolicy(allow_http=True))[1:] == ([], "ops")


@pytest.mark.parametrize(
    ("body", "fields"),
    [
        ({}, {"url"}),
        ({"url": "ftp://h.example/x"}, {"url"}),
        ({"url": "/relative"}, {"url"}),
        ({"url": "http://h.example"}, {"url"}),  # https only, unless the deployment allows http
        ({"url": "https://169.254.169.254/latest"}, {"url"}),  # a literal non-public address
        ({"url": "https://h.example/" + "a" * 2048}, {"url"}),
        ({"url": "https://h.example", "event_types": ["job.dispatched"]}, {"event_types"}),  # not offered
        ({"url": "https://h.example", "event_types": "job.failed"}, {"event_types"}),
        ({"url": "https://h.example", "event_types": [1]}, {"event_types"}),
        ({"url": "https://h.example", "description": "x" * 201}, {"description"}),
        ({"url": "https://h.example", "secret": "s"}, {"secret"}),
        ({"url": 5, "event_types": ["nope"]}, {"url"}),
    ],
)
def test_bad_endpoint_requests_name_their_fields(body: dict[str, object], fields: set[str]) -> None:
    with pytest.raises(InvalidRequest) as caught:
        parse_endpoint_request(json.dumps(body).encode())
    assert {e.field for e in caught.value.errors} == fields


def test_an_endpoint_body_that_is_not_json_is_malformed() -> None:
    with pytest.raises(MalformedRequest):
        parse_endpoint_request(b"url=https://h.example")
