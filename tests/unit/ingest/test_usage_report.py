"""Usage reports: the query's fields (each error names its field) and the totals per day, model and tenant."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ingest.usage_report import UsageQuery, parse_query, tenant_report, tenants_report, within
from reelstream.params import InvalidRequest
from tests.samples import usage_record

NOW = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)


def fields_of(params: dict[str, str], groups: tuple[str, ...] = ("day", "model")) -> list[str]:
    with pytest.raises(InvalidRequest) as refused:
        parse_query(params, NOW, groups)
    return [e.field for e in refused.value.errors]


def test_defaults_are_the_last_thirty_days_per_day() -> None:
    assert parse_query({}, NOW) == UsageQuery(NOW - timedelta(days=30), NOW, "day")


def test_dates_and_timestamps_with_offsets() -> None:
    query = parse_query({"from": "2026-12-01", "to": "2026-12-02T01:00:00+01:00", "group_by": "model"}, NOW)
    assert query == UsageQuery(datetime(2026, 12, 1, tzinfo=UTC), datetime(2026, 12, 2, tzinfo=UTC), "model")


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"from": "yesterday"}, "from"),
        ({"to": "2026-13-01"}, "to"),
        ({"to": "2026-12-01T00:00:00"}, "to"),  # no offset
        ({"from": "2026-12-02", "to": "2026-12-01"}, "from"),
        ({"from": "2026-12-01", "to": "2026-12-01"}, "from"),
        ({"group_by": "week"}, "group_by"),
        ({"tenant": "someone-else"}, "tenant"),
    ],
)
def test_bad_fields_are_named(params: dict[str, str], field: str) -> None:
    assert fields_of(params) == [field]


def test_any_rfc_3339_instant_and_any_window_length() -> None:
    early = datetime.min.replace(tzinfo=UTC)
    assert parse_query({"to": "0001-01-02"}, NOW).start == early  # its default from: clamped to year 1
    assert parse_query({"from": "0001-01-01T00:00:00+01:00"}, NOW).start == early
    assert parse_query({"from": "2000-01-01t00:00:00z"}, NOW).start == datetime(2000, 1, 1, tzinfo=UTC)
    leap = parse_query({"from": "2016-12-31T23:59:60Z"}, NOW).start
    assert leap == datetime(2016, 12, 31, 23, 59, 59, tzinfo=UTC)


def test_the_operator_totals_take_no_group_by() -> None:
    assert fields_of({"group_by": "day"}, groups=("tenant",)) == ["group_by"]


def test_a_tenant_report_groups_by_day_and_model_within_the_window() -> None:
    day1, day2 = datetime(2026, 12, 1, 23, 59, tzinfo=UTC), datetime(2026, 12, 2, 0, 1, tzinfo=UTC)
    records = [
        usage_record(attempt_id="a/1", gpu_seconds=2.0, occurred_at=day1, model="m1"),
        usage_record(attempt_id="a/2", gpu_seconds=3.0, occurred_at=day2, model="m2", outcome="canceled"),
        usage_record(attempt_id="b/1", gpu_seconds=5.0, occurred_at=day2, model="m1", outcome="timed_out"),
        usage_record(attempt_id="c/1", gpu_seconds=7.0, occurred_at=datetime(2026, 12, 3, tzinfo=UTC)),
    ]
    window = {"from": "2026-12-01", "to": "2026-12-03"}
    query = parse_query(window, NOW)
    by_day = tenant_report("t1", within(records, query), query)
    assert by_day["total"]["attempts"] == 3
    assert by_day["total"]["gpu_seconds"] == 10.0
    assert by_day["total"]["frames"] == 13  # frames of the succeeded attempts only
    assert by_day["total"]["gpu_seconds_by_outcome"] == {
        "succeeded": 2.0,
        "failed": 0.0,
        "canceled": 3.0,
        "timed_out": 5.0,
    }
    assert [(r["day"], r["gpu_seconds"]) for r in by_day["data"]] == [
        ("2026-12-01", 2.0),
        ("2026-12-02", 8.0),
    ]
    query = parse_query({**window, "group_by": "model"}, NOW)
    by_model = tenant_report("t1", within(records, query), query)
    assert [(r["model"], r["attempts"]) for r in by_model["data"]] == [("m1", 2), ("m2", 1)]
    assert (by_model["from"], by_model["to"]) == ("2026-12-01T00:00:00Z", "2026-12-03T00:00:00Z")


def test_operator_totals_are_per_tenant() -> None:
    at = datetime(2026, 12, 5, tzinfo=UTC)
    records = [
        usage_record(attempt_id="a/1", tenant_id="t1", gpu_seconds=1.5, occurred_at=at),
        usage_record(attempt_id="b/1", tenant_id="t2", gpu_seconds=2.5, occurred_at=at),
        usage_record(attempt_id="b/2", tenant_id="t2", gpu_seconds=1.0, occurred_at=at),
    ]
    query = parse_query({}, NOW, groups=("tenant",))
    report = tenants_report(within(records, query), query)
    assert [(r["tenant"], r["attempts"], r["gpu_seconds"]) for r in report["data"]] == [
        ("t1", 1, 1.5),
        ("t2", 2, 3.5),
    ]
    assert report["total"]["gpu_seconds"] == 5.0


@given(st.lists(st.tuples(st.floats(0, 1e4), st.integers(0, 40 * 24)), max_size=30))
def test_the_rows_add_up_to_the_total(items: list[tuple[float, int]]) -> None:
    records = [
        usage_record(attempt_id=f"j{n}/1", gpu_seconds=s, occurred_at=NOW - timedelta(hours=h))
        for n, (s, h) in enumerate(items)
    ]
    for group_by in ("day", "model"):
        query = parse_query({"group_by": group_by}, NOW)
        report = tenant_report("t1", within(records, query), query)
        assert sum(r["attempts"] for r in report["data"]) == report["total"]["attempts"]
        assert sum(r["gpu_seconds"] for r in report["data"]) == pytest.approx(report["total"]["gpu_seconds"])
        inside = [r for r in records if NOW - timedelta(days=30) <= r.occurred_at < NOW]
        assert report["total"]["attempts"] == len(inside)
