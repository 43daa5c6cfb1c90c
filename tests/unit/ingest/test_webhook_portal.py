"""Parsing an endpoint update, a rotation and the delivery log's queries: 422s name their fields."""

from __future__ import annotations

import json

import pytest

from ingest.errors import MalformedRequest
from ingest.webhook_deliveries import parse_since
from ingest.webhook_portal import DEFAULT_OVERLAP_SECONDS, parse_endpoint_update, parse_rotate_request
from reelstream.params import InvalidRequest


def test_an_update_takes_only_what_it_names() -> None:
    body = {"enabled": False, "event_types": ["job.progress", "job.succeeded", "job.progress"]}
    assert parse_endpoint_update(json.dumps(body).encode()) == {
        "enabled": False,
        "event_types": ["job.progress", "job.succeeded"],
    }
    assert parse_endpoint_update(b'{"event_types": []}') == {"event_types": []}  # back to the defaults


@pytest.mark.parametrize(
    ("body", "fields"),
    [
        ({}, {"body"}),
        ({"url": "http://h.example"}, {"url"}),  # https only, as at registration
        ({"url": "https://10.0.0.1/x"}, {"url"}),  # SSRF: a literal non-public address
        ({"enabled": "yes"}, {"enabled"}),
        ({"enabled": None}, {"enabled"}),
        ({"event_types": ["job.nope"]}, {"event_types"}),
        ({"description": "x" * 201}, {"description"}),
        ({"secret": "s"}, {"secret"}),
    ],
)
def test_bad_updates_name_their_fields(body: dict[str, object], fields: set[str]) -> None:
    with pytest.raises(InvalidRequest) as caught:
        parse_endpoint_update(json.dumps(body).encode())
    assert {e.field for e in caught.value.errors} == fields


def test_an_update_that_is_not_json_is_malformed() -> None:
    with pytest.raises(MalformedRequest):
        parse_endpoint_update(b"enabled=false")


def test_a_rotation_overlaps_a_day_unless_told() -> None:
    assert parse_rotate_request(b"") == DEFAULT_OVERLAP_SECONDS
    assert parse_rotate_request(b'{"overlap_seconds": 0}') == 0
    for bad in (b'{"overlap_seconds": -1}', b'{"overlap_seconds": 99999999}', b'{"overlap_seconds": "1"}'):
        with pytest.raises(InvalidRequest) as caught:
            parse_rotate_request(bad)
        assert [e.field for e in caught.value.errors] == ["overlap_seconds"]


@pytest.mark.parametrize("raw", [None, "yesterday", "2026-12-01T00:00:00"])
def test_since_is_a_required_instant_with_an_offset(raw: str | None) -> None:
    with pytest.raises(InvalidRequest) as caught:
        parse_since(raw)
    assert [e.field for e in caught.value.errors] == ["since"]
