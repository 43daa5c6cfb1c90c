"""Key rotation's pure parts: the overlap request and the old key's shortened life."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from ingest import api_keys
from ingest.key_rotation import DEFAULT_OVERLAP_SECONDS, parse_rotate_request, retiring
from reelstream.params import InvalidRequest

NOW = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)


def test_the_overlap_defaults_to_a_day_and_is_bounded() -> None:
    assert parse_rotate_request(b"") == timedelta(seconds=DEFAULT_OVERLAP_SECONDS)
    assert parse_rotate_request(b'{"overlap_seconds": 0}') == timedelta(0)
    for body in (b'{"overlap_seconds": -1}', b'{"overlap_seconds": 99999999}', b'{"overlap": 1}'):
        with pytest.raises(InvalidRequest):
            parse_rotate_request(body)


def test_the_old_key_ends_after_the_overlap_but_never_later_than_it_would_have() -> None:
    _, forever = api_keys.mint("acme", ["viewer"], now=NOW)
    shortened = retiring(forever, timedelta(hours=1), NOW)
    assert shortened.expires_at == NOW + timedelta(hours=1)
    assert shortened.occurred_at == NOW  # a later version: the key table keeps it
    assert api_keys.merged(forever, shortened) is shortened
    _, soon = api_keys.mint("acme", ["viewer"], expires_at=NOW + timedelta(minutes=5), now=NOW)
    assert retiring(soon, timedelta(hours=1), NOW) is soon
