"""The usage view on a scratch copy of the usage topic, on the real broker: restarted over its local store
it reads only the records written while it was down, and its reports are those of a view that replayed
everything: an attempt read again counts once, a tombstone removes it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from aiokafka import AIOKafkaProducer

from ingest.usage_report import parse_query, tenant_report, tenants_report
from ingest.usage_view import UsageView
from reelstream.endpoints import Endpoints
from reelstream.local_store import LocalStore
from schemas.events import GpuUsageRecorded
from schemas.serde import AvroSerde
from schemas.topics import USAGE_EVENTS, Topic
from tests.integration.ingest.support import raw_producer_of, scratch_copy
from tests.samples import usage_record

DEADLINE = 20.0
NOW = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)


@pytest.fixture
async def usage_topic(stack: Endpoints, topics: None) -> AsyncIterator[Topic[GpuUsageRecorded]]:
    """A fresh topic with the usage contract, deleted afterwards."""
    async with scratch_copy(stack, USAGE_EVENTS, "usage") as topic:
        yield topic


@pytest.fixture
async def raw_producer(stack: Endpoints) -> AsyncIterator[AIOKafkaProducer]:
    async with raw_producer_of(stack) as producer:
        yield producer


def reports(view: UsageView) -> list[dict[str, Any]]:
    """Day and model reports of both tenants, and the operator's totals, over whole and partial days."""
    out = []
    for window in ({"from": "2026-11-20", "to": "2026-12-07"}, {"from": "2026-12-01T06:00:00Z"}):
        for group_by in ("day", "model"):
            query = parse_query({**window, "group_by": group_by}, NOW)
            out += [tenant_report(t, view.pieces(query, t), query) for t in ("t-a", "t-b")]
        operator = parse_query(window, NOW, groups=("tenant",))
        out.append(tenants_report(view.pieces(operator), operator))
    return out


async def test_a_restarted_usage_view_reads_only_the_tail_and_reports_the_same(
    usage_topic: Topic[GpuUsageRecorded],
    raw_producer: AIOKafkaProducer,
    serde: AvroSerde,
    stack: Endpoints,
    tmp_path: Path,
) -> None:
    async def put(*records: GpuUsageRecorded, gone: str | None = None) -> None:
        for record in records:
            raw = serde.serialize(USAGE_EVENTS, record)
            await raw_producer.send_and_wait(usage_topic.name, raw, key=record.attempt_id.encode())
        if gone is not None:
            await raw_producer.send_and_wait(usage_topic.name, None, key=gone.encode())

    def attempt(n: int, **overrides: Any) -> GpuUsageRecorded:
        at = NOW - timedelta(hours=7 * n)
        fields: dict[str, Any] = {"tenant_id": "t-a" if n % 3 else "t-b", "model": f"m{n % 2}"}
        return usage_record(attempt_id=f"j{n}/1", job_id=f"j{n}", occurred_at=at, **{**fields, **overrides})

    def view_over(store: LocalStore) -> UsageView:
        return UsageView(
            stack.kafka_bootstrap,
            serde,
            store.namespace(b"usage"),
            topic=usage_topic,
            security=stack.kafka_security,
        )

    await put(*(attempt(n, gpu_seconds=1.25 * n) for n in range(30)))
    store = LocalStore(str(tmp_path / "state")).open()
    try:
        first = view_over(store)
        await first.start()
        async with asyncio.timeout(DEADLINE):
            await first.wait_caught_up()
        assert first.records_read == 30
        await first.stop()
        # while it is down: two attempts read again (one with a new value), one removed, five new ones
        await put(attempt(3, gpu_seconds=3.75), attempt(4, gpu_seconds=99.0), gone="j5/1")
        await put(*(attempt(n, gpu_seconds=0.5) for n in range(30, 35)))
        warm = view_over(store)
        await warm.start()
        async with asyncio.timeout(DEADLINE):
            await warm.wait_caught_up()
        assert warm.records_read == 8  # the tail only, not the 30 before it
        warm_reports = reports(warm)
        await warm.stop()

        cold_store = LocalStore(str(tmp_path / "cold")).open()
        try:
            cold = view_over(cold_store)  # an empty disk: replays all 38 records
            await cold.start()
            async with asyncio.timeout(DEADLINE):
                await cold.wait_caught_up()
            assert cold.records_read == 38
            assert reports(cold) == warm_reports
            await cold.stop()
        finally:
            cold_store.close()
    finally:
        store.close()

    totals = warm_reports[4]["total"]  # the operator's, over the whole window: each kept attempt once
    kept = {n: 1.25 * n for n in range(30)} | {3: 3.75, 4: 99.0} | dict.fromkeys(range(30, 35), 0.5)
    del kept[5]
    in_window = [
        s for n, s in kept.items() if NOW - timedelta(hours=7 * n) >= datetime(2026, 11, 20, tzinfo=UTC)
    ]
    assert totals["attempts"] == len(in_window)
    assert totals["gpu_seconds"] == pytest.approx(sum(in_window))
