"""The usage view's aggregates in the local store answer exactly what adding up the attempts would: a
record read again for the same attempt counts once (replaced), a tombstone removes it, and a window's
whole days come from the per-day totals while its partial days come attempt by attempt."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from ingest.usage_report import parse_query, tenant_report, tenants_report, within
from ingest.usage_view import UsageView
from reelstream.local_store import LocalStore
from schemas.events import GpuUsageRecorded
from schemas.serde import AvroSerde
from tests.kafka_clients import MemoryRegistry
from tests.local_stores import fresh_namespace
from tests.samples import usage_record

NOW = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)
TENANTS, MODELS, OUTCOMES = ("t1", "t2", "t12"), ("m1", "m2"), ("succeeded", "failed", "canceled")


def view_over(local_store: LocalStore) -> UsageView:
    return UsageView("unused:9092", AvroSerde(MemoryRegistry()), fresh_namespace(local_store))


def apply(view: UsageView, record: GpuUsageRecorded | str) -> None:
    """One record as the consume loop hands it over (a str: a tombstone of that attempt), then committed."""
    if isinstance(record, str):
        view._on_tombstone(record)
    else:
        view._on_stored(record.attempt_id, record, b"")
    view.batch.commit()


records = st.builds(
    lambda n, tenant, model, outcome, seconds, minutes: usage_record(
        attempt_id=f"j{n}/1",
        tenant_id=tenant,
        model=model,
        outcome=outcome,
        gpu_seconds=seconds,
        occurred_at=NOW - timedelta(minutes=minutes),
    ),
    st.integers(0, 12),
    st.sampled_from(TENANTS),
    st.sampled_from(MODELS),
    st.sampled_from(OUTCOMES),
    st.floats(0, 1e4, allow_nan=False),
    st.integers(0, 5 * 24 * 60),
)
changes = st.lists(st.one_of(records, st.integers(0, 12).map(lambda n: f"j{n}/1")), max_size=40)
windows = st.tuples(st.integers(0, 6 * 24 * 60), st.integers(1, 6 * 24 * 60))


@settings(max_examples=60, deadline=None)
@given(changes, windows, st.sampled_from(("day", "model")))
def test_reports_from_the_store_equal_the_sum_of_the_kept_attempts(
    local_store: LocalStore,
    seen: list[GpuUsageRecorded | str],
    window: tuple[int, int],
    group_by: str,
) -> None:
    view = view_over(local_store)
    kept: dict[str, GpuUsageRecorded] = {}
    for change in seen:
        apply(view, change)
        if isinstance(change, str):
            kept.pop(change, None)
        else:
            kept[change.attempt_id] = change
    back, length = window
    start = NOW - timedelta(minutes=back)
    params = {"from": start.isoformat(), "to": (start + timedelta(minutes=length)).isoformat()}
    query = parse_query({**params, "group_by": group_by}, NOW)
    for tenant in TENANTS:
        mine = [r for r in kept.values() if r.tenant_id == tenant]
        assert tenant_report(tenant, view.pieces(query, tenant), query) == tenant_report(
            tenant, within(mine, query), query
        )
    operator = parse_query(params, NOW, groups=("tenant",))
    assert tenants_report(view.pieces(operator), operator) == tenants_report(
        within(kept.values(), operator), operator
    )


def test_a_repeat_counts_once_and_whole_days_are_read_as_totals(local_store: LocalStore) -> None:
    view = view_over(local_store)
    day = datetime(2026, 12, 3, 10, tzinfo=UTC)
    for n in range(50):
        apply(view, usage_record(attempt_id=f"j{n}/1", gpu_seconds=1.5, occurred_at=day))
    apply(view, usage_record(attempt_id="j0/1", gpu_seconds=1.5, occurred_at=day))  # read again
    apply(view, usage_record(attempt_id="j1/1", gpu_seconds=4.0, occurred_at=day))  # replaced
    query = parse_query({"from": "2026-12-01", "to": "2026-12-05"}, NOW)
    pieces = list(view.pieces(query, "t1"))
    assert len(pieces) == 1  # one day, one model: one row read, not 50 attempts
    assert (pieces[0].attempts, pieces[0].gpu_micros) == (50, 49 * 1_500_000 + 4_000_000)
    report = tenant_report("t1", pieces, query)
    assert (report["total"]["attempts"], report["total"]["gpu_seconds"]) == (50, 77.5)
