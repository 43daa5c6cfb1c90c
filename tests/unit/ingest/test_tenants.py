"""Tenant records (pure parts): the creation request, the ceiling a tenant admin may only lower, the JWT
lifetime rule and the key store view's silence (the revocation bound /readyz enforces)."""

from __future__ import annotations

import math
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from devstack.tenants import tenant_record
from ingest.admin import above_ceiling
from ingest.retention import Retention, longest_video_override
from ingest.tenant_registry import TenantTable, valid_tenant_id
from ingest.tenants import parse_retention_request, parse_tenant_request, tenant_resource
from reelstream.kafka.compacted_view import CompactedView
from reelstream.params import InvalidRequest
from reelstream.settings import TenantLimit, TenantLimits
from schemas.topics import TENANTS

CEILING = tenant_record("acme", TenantLimits(default=TenantLimit(rate=5, burst=10, queued=100, running=3)))


def test_a_creation_request_defaults_to_the_configured_limits_and_names_every_bad_field() -> None:
    defaults = TenantLimits(tenants={"acme": TenantLimit(rate=2.0)})
    no_overrides = (None, None)  # the platform's retention settings
    parsed = parse_tenant_request(b'{"id": "acme"}', defaults)
    assert parsed == ("acme", "acme", TenantLimit(rate=2.0), no_overrides)
    with_overrides = b'{"id": "acme", "retention_days": 9, "video_retention_days": 2}'
    assert parse_tenant_request(with_overrides, defaults)[3] == (9, 2)
    with pytest.raises(InvalidRequest) as refused:
        parse_tenant_request(
            b'{"id": "a b", "name": "", "retention_days": 0, "video_retention_days": 3651,'
            b' "limits": {"burst": 1}}',
            defaults,
        )
    assert {e.field for e in refused.value.errors} == {
        "id",
        "name",
        "retention_days",
        "video_retention_days",
        "limits.rate",
    }


def test_a_retention_request_replaces_both_overrides_and_names_every_bad_field() -> None:
    assert parse_retention_request(b'{"retention_days": 1}') == (1, None)
    assert parse_retention_request(b"{}") == (None, None)  # back to the platform's settings
    with pytest.raises(InvalidRequest) as refused:
        parse_retention_request(b'{"retention_days": 0, "video_retention_days": "7", "name": "x"}')
    assert {e.field for e in refused.value.errors} >= {"video_retention_days", "name"}
    with pytest.raises(InvalidRequest) as refused:
        parse_retention_request(b'{"retention_days": 0, "video_retention_days": 3651}')
    assert {e.field for e in refused.value.errors} == {"retention_days", "video_retention_days"}


def test_a_video_override_never_outlives_the_buckets_lifecycle_rule() -> None:
    longest = longest_video_override(timedelta(days=7))  # the rule deletes objects on day 8
    assert (longest, longest_video_override(timedelta(hours=36)), longest_video_override(timedelta(1))) == (
        7,
        2,
        1,
    )
    assert parse_retention_request(b'{"video_retention_days": 7, "retention_days": 90}', longest) == (90, 7)
    with pytest.raises(InvalidRequest) as refused:
        parse_retention_request(b'{"video_retention_days": 8}', longest)
    assert [(e.field, e.message) for e in refused.value.errors] == [
        ("video_retention_days", "must be between 1 and 7")
    ]
    with pytest.raises(InvalidRequest):
        parse_tenant_request(b'{"id": "acme", "video_retention_days": 8}', TenantLimits(), longest)


def test_the_tables_retention_is_the_default_with_the_records_overrides() -> None:
    table, default = TenantTable(), Retention(timedelta(days=30), timedelta(days=7))
    retention_of = table.retention_lookup(default)
    table.apply(replace(CEILING, retention_days=1))
    table.apply(replace(CEILING, tenant_id="video", video_retention_days=2))
    assert retention_of("acme") == Retention(timedelta(days=1), timedelta(days=7))
    assert retention_of("video") == Retention(timedelta(days=30), timedelta(days=2))
    assert retention_of("unknown") == default
    table.apply(replace(CEILING, retention_days=None))  # the operator cleared it: read at each call
    assert retention_of("acme") == default


@pytest.mark.parametrize(
    ("limit", "over"),
    [
        (TenantLimit(rate=5, burst=10, queued=100, running=3), []),
        (TenantLimit(rate=1, burst=1, queued=1, running=1), []),
        (TenantLimit(rate=6, burst=10, queued=100, running=3), ["rate"]),
        (TenantLimit(rate=5, burst=11, queued=101, running=None), ["burst", "queued", "running"]),
    ],
)
def test_an_admin_may_set_limits_at_or_below_the_ceiling_only(limit: TenantLimit, over: list[str]) -> None:
    assert above_ceiling(limit, CEILING) == over


@given(rate=st.floats(0.01, 100), burst=st.floats(1, 100), queued=st.integers(1, 1000))
def test_limits_within_the_ceiling_are_never_refused(rate: float, burst: float, queued: int) -> None:
    limit = TenantLimit(rate=min(rate, 5), burst=min(burst, 10), queued=min(queued, 100), running=2)
    assert above_ceiling(limit, CEILING) == []


def test_the_table_and_the_resource() -> None:
    table = TenantTable()
    assert not table.exists("acme")
    table.apply(CEILING)
    assert table.exists("acme")
    assert [r.tenant_id for r in table.records()] == ["acme"]
    resource = tenant_resource(CEILING)
    assert resource["limits"] == {"rate": 5.0, "burst": 10.0, "queued": 100, "running": 3, "gang": None}
    assert resource["status"] == "active"
    assert table.remove("acme")
    assert not table.exists("acme")


@pytest.mark.parametrize("tenant", ["", "-lead", "a b", "x" * 129, "ü"])
def test_tenant_ids_have_a_syntax(tenant: str) -> None:
    assert not valid_tenant_id(tenant)


class FakeConsumer:
    """The two calls `silent_seconds` makes: what a fetch response last stamped, per partition."""

    def __init__(self, stamps: dict[int, int | None]) -> None:
        self.stamps = stamps

    def assignment(self) -> set[int]:
        return set(self.stamps)

    def last_poll_timestamp(self, partition: int) -> int | None:
        return self.stamps[partition]


def test_a_view_is_as_silent_as_its_least_recently_fetched_partition() -> None:
    view: CompactedView[Any] = CompactedView("127.0.0.1:1", None, topic=TENANTS, client_id="t")  # type: ignore[arg-type]
    assert view.silent_seconds(1000.0) == math.inf  # never started
    view._started_at = 990.0
    view._consumer = FakeConsumer({0: 998_000, 1: 995_500})  # type: ignore[assignment]
    assert view.silent_seconds(1000.0) == pytest.approx(4.5)
    view._consumer = FakeConsumer({0: 998_000, 1: None})  # type: ignore[assignment]
    assert view.silent_seconds(1000.0) == pytest.approx(10.0)  # a partition never fetched: since start


def test_the_record_keeps_its_time_in_utc() -> None:
    assert CEILING.created_at.tzinfo is not None
    assert CEILING.created_at <= datetime.now(UTC)
