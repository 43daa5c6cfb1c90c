"""The body of PUT /v1/admin/tenants/{tenant}/limits: rate and burst required, every field in range."""

from __future__ import annotations

import json

import pytest

from ingest.admin import parse_limits
from reelstream.params import InvalidRequest
from reelstream.settings import TenantLimit


def test_rate_and_burst_suffice_and_the_rest_defaults() -> None:
    assert parse_limits(b'{"rate": 2, "burst": 5}') == TenantLimit(rate=2.0, burst=5.0, running=None)
    full = parse_limits(b'{"rate": 0.5, "burst": 1, "queued": 7, "running": 2, "gang": 4}')
    assert full == TenantLimit(rate=0.5, burst=1.0, queued=7, running=2, gang=4)


@pytest.mark.parametrize(
    ("body", "fields"),
    [
        ({"burst": 5}, {"rate"}),
        ({"rate": 0, "burst": 0.5}, {"rate", "burst"}),
        ({"rate": 1, "burst": 1, "queued": 0}, {"queued"}),
        ({"rate": 1, "burst": 1, "running": 0}, {"running"}),
        ({"rate": 1, "burst": 1, "gang": 3}, {"gang"}),  # not a power of two
        ({"rate": 1, "burst": 1, "gang": 0}, {"gang"}),
        ({"rate": 1, "burst": 1, "gang": 128}, {"gang"}),
        ({"rate": "fast", "burst": 1}, {"rate"}),
        ({"rate": 1, "burst": 1, "priority": "high"}, {"priority"}),
    ],
)
def test_out_of_range_missing_mistyped_or_unknown_fields_are_named(
    body: dict[str, object], fields: set[str]
) -> None:
    with pytest.raises(InvalidRequest) as caught:
        parse_limits(json.dumps(body).encode())
    assert {e.field for e in caught.value.errors} == fields
