"""Usage metering on the real pipeline: the GPU-seconds a tenant is metered equal the workers' measured busy
time (within 1 %), a canceled attempt counts, an attempt's record published again counts once, another
tenant sees none of it, and the SDK, the CLI, the operator's totals and the metric agree."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from prometheus_client.parser import text_string_to_metric_families
from reelstream_client import Client
from reelstream_client.cli.main import main as cli_main

from devstack.services import PipelineConfig
from reelstream.endpoints import Endpoints
from reelstream.kafka.clients import Publisher, new_producer, sender_of
from schemas.events import GpuUsageRecorded, new_id
from schemas.serde import AvroSerde
from schemas.topics import USAGE_EVENTS
from tests.e2e.conftest import (
    OPERATOR_KEY,
    USAGE_CLASS,
    USAGE_KEY,
    USAGE_OTHER_KEY,
    USAGE_TENANT,
)
from tests.e2e.support import SMALL, EventTail, wait_status

WORKERS = ("worker-0", "worker-1")  # the tiny-mochi slots, whose /metrics the pipeline serves
SLOW = {**SMALL, "width": 256, "height": 256, "num_frames": 61, "num_inference_steps": 200}


def _samples(port: int) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=10).text
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def _sum(pipeline: PipelineConfig, name: str, match: Callable[[dict[str, str]], bool]) -> float:
    total = 0.0
    for worker in WORKERS:
        for (sample, labels), value in _samples(pipeline.metrics_ports[worker]).items():
            if sample == name and match(dict(labels)):
                total += value
    return total


def _metered(pipeline: PipelineConfig) -> float:
    """What the workers' usage metric says the test tenant's class used (it is alone in its class)."""
    return _sum(
        pipeline, "reelstream_usage_gpu_seconds_total", lambda labels: labels["tenant_class"] == USAGE_CLASS
    )


def _serving(pipeline: PipelineConfig, deadline: float) -> None:
    """Wait until every worker serves /metrics (a worker loads its model before it starts serving)."""
    for worker in WORKERS:
        while True:
            try:
                _samples(pipeline.metrics_ports[worker])
                break
            except httpx.TransportError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)  # polling the port with a deadline: the condition is an answer


def _idle_busy_seconds(pipeline: PipelineConfig, within: float = 120.0) -> float:
    """The workers' busy seconds once no attempt runs: unchanged while every worker sent two heartbeats
    (a running attempt adds to it at each one)."""
    deadline = time.monotonic() + within
    _serving(pipeline, deadline)
    busy = lambda: _sum(pipeline, "reelstream_worker_busy_seconds_total", lambda _: True)  # noqa: E731
    beats = lambda: _sum(pipeline, "reelstream_worker_heartbeats_total", lambda _: True)  # noqa: E731
    while time.monotonic() < deadline:
        before, first_beats = busy(), beats()
        while beats() < first_beats + 2 * len(WORKERS) and time.monotonic() < deadline:
            time.sleep(0.2)  # polling /metrics with a deadline: the condition is the heartbeat count
        if busy() == before:
            return before
    raise TimeoutError("the workers never went idle")


def _poll(
    read: Callable[[], dict[str, object]], done: Callable[[dict[str, object]], bool]
) -> dict[str, object]:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        answer = read()
        if done(answer):
            return answer
        time.sleep(0.2)  # polling the API with a deadline: the condition is the view's content
    raise TimeoutError(f"never: {answer}")


async def _usage_records(stack: Endpoints, serde: AvroSerde, job_ids: set[str]) -> list[GpuUsageRecorded]:
    consumer = AIOKafkaConsumer(
        bootstrap_servers=stack.kafka_bootstrap, enable_auto_commit=False, **stack.kafka_security.aiokafka()
    )
    await consumer.start()
    found: list[GpuUsageRecorded] = []
    try:
        tps = [TopicPartition(USAGE_EVENTS.name, p) for p in range(USAGE_EVENTS.partitions)]
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        ends = await consumer.end_offsets(tps)
        while [tp for tp in tps if await consumer.position(tp) < ends[tp]]:
            for records in (await consumer.getmany(timeout_ms=500)).values():
                for record in records:
                    value = await serde.deserialize(USAGE_EVENTS, record.value)
                    if value.job_id in job_ids:
                        assert record.key == value.attempt_id.encode()
                        found.append(value)
    finally:
        await consumer.stop()
    return found


def _get(pipeline: PipelineConfig, key: str, path: str, **params: str) -> httpx.Response:
    return httpx.get(
        f"{pipeline.api_url}{path}", params=params, headers={"Authorization": f"Bearer {key}"}, timeout=10
    )


async def test_usage_equals_busy_time_counts_cancels_once_and_stays_with_its_tenant(
    pipeline: PipelineConfig, stack: Endpoints, serde: AvroSerde, capsys: pytest.CaptureFixture[str]
) -> None:
    since = (datetime.now(UTC) - timedelta(minutes=1)).isoformat()
    busy_before = await asyncio.to_thread(_idle_busy_seconds, pipeline)
    metered_before = _metered(pipeline)
    with Client(pipeline.api_url, USAGE_KEY) as client:
        async with EventTail(stack, serde) as tail:
            done = [await asyncio.to_thread(client.submit, prompt="a kite", **SMALL) for _ in range(2)]
            slow = await asyncio.to_thread(client.submit, prompt="a slow kite", **SLOW)
            await asyncio.to_thread(wait_status, client, slow.id, {"running"}, lambda j: j.stage == "denoise")
            await asyncio.to_thread(client.cancel, slow.id)
            finals = {
                job.id: (await tail.until_terminal(job.id))[-1].status.state.value for job in (*done, slow)
            }
        assert finals == {done[0].id: "succeeded", done[1].id: "succeeded", slow.id: "canceled"}
        busy = await asyncio.to_thread(_idle_busy_seconds, pipeline) - busy_before

        expected = lambda u: u["total"]["attempts"] == 3  # noqa: E731
        report = _poll(lambda: _get(pipeline, USAGE_KEY, "/v1/usage", **{"from": since}).json(), expected)
        total = report["total"]
        assert isinstance(total, dict)
        print(
            f"\nusage: metered {total['gpu_seconds']:.6f} GPU-s, workers' busy time {busy:.6f} s"
        )  # pytest -s
        assert abs(total["gpu_seconds"] - busy) <= 0.01 * busy, (total, busy)
        assert total["gpu_seconds_by_outcome"]["canceled"] > 0
        assert total["frames"] == 2 * SMALL["num_frames"]
        assert abs((_metered(pipeline) - metered_before) - busy) <= 0.01 * busy

        by_model = await asyncio.to_thread(client.usage, start=since, group_by="model")
        assert [(row.model, row.attempts) for row in by_model.data] == [("tiny-mochi", 3)]
        assert by_model.total.gpu_seconds == pytest.approx(total["gpu_seconds"])

        # the canceled attempt's record published again (a worker's retry): still one attempt
        records = await _usage_records(stack, serde, {slow.id})
        assert [(r.tenant_id, r.outcome, r.attempt_id) for r in records] == [
            (USAGE_TENANT, "canceled", f"{slow.id}/1")
        ]
        sentinel = dataclasses.replace(
            records[0], attempt_id=f"{new_id()}/1", tenant_id="tenant-usage-sentinel"
        )
        producer = new_producer(stack.kafka_bootstrap, "e2e-usage-redelivery", stack.kafka_security)
        await producer.start()
        try:
            publisher = Publisher(sender_of(producer), serde)
            await publisher.publish(USAGE_EVENTS, records[0].attempt_id, records[0])
            await publisher.publish(USAGE_EVENTS, sentinel.attempt_id, sentinel)
        finally:
            await producer.stop()
        tenants = lambda u: [row["tenant"] for row in u["data"]]  # type: ignore[index]  # noqa: E731
        totals = _poll(
            lambda: _get(pipeline, OPERATOR_KEY, "/v1/admin/usage", **{"from": since}).json(),
            lambda u: "tenant-usage-sentinel" in tenants(u),
        )
        again = _get(pipeline, USAGE_KEY, "/v1/usage", **{"from": since}).json()
        assert again["total"] == total  # the redelivered record replaced itself
        mine = [row for row in totals["data"] if row["tenant"] == USAGE_TENANT]  # type: ignore[union-attr]
        assert mine == [{"tenant": USAGE_TENANT, **total}]

    # another tenant sees none of it; only the operator sees every tenant; bad fields are named
    other = _get(pipeline, USAGE_OTHER_KEY, "/v1/usage", **{"from": since}).json()
    assert other["tenant"] == "tenant-usage-other"
    assert (other["total"]["attempts"], other["data"]) == (0, [])
    assert _get(pipeline, USAGE_KEY, "/v1/admin/usage").status_code == 403
    refused = _get(pipeline, USAGE_KEY, "/v1/usage", group_by="week")
    assert refused.status_code == 422
    assert refused.headers["content-type"].startswith("application/problem+json")
    assert [e["field"] for e in refused.json()["errors"]] == ["group_by"]

    capsys.readouterr()  # what the test printed so far is not the CLI's
    env = {"REELSTREAM_API_URL": pipeline.api_url, "REELSTREAM_API_KEY": USAGE_KEY}
    assert await asyncio.to_thread(cli_main, ["usage", "--from", since, "--json"], env) == 0
    printed = json.loads(capsys.readouterr().out)
    assert (printed["from"] is not None, printed["total"]) == (True, total)
