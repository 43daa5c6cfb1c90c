"""One trace per job: a job run through the real processes exports, over OTLP/HTTP to a receiver inside the
test, spans of every hop that form one connected tree rooted at the ingest request."""

from __future__ import annotations

import asyncio
import json
import time

from reelstream_client import Client

from tests.e2e.support import SMALL, wait_status
from tests.otlp_receiver import ReceivedSpan, TraceReceiver
from tests.webhook_receiver import webhook_receiver

STAGES = {"encode_text", "denoise", "decode", "encode_video", "upload"}
HOPS = {
    ("reelstream-ingest", "POST /v1/jobs"),
    ("reelstream-admission", "admission process"),
    ("reelstream-scheduler", "scheduler process"),
    ("reelstream-worker", "render"),
    ("reelstream-notifier", "notifier process"),
    ("reelstream-notifier", "webhook deliver"),
}


def _job_trace(spans: list[ReceivedSpan], job_id: str) -> list[ReceivedSpan]:
    trace_ids = {s.trace_id for s in spans if s.attributes.get("job_id") == job_id}
    assert len(trace_ids) <= 1, f"job {job_id} is in several traces: {trace_ids}"
    return [s for s in spans if s.trace_id in trace_ids]


def _complete(trace: list[ReceivedSpan]) -> bool:
    ids = {s.span_id for s in trace}
    return (
        {(s.service, s.name) for s in trace} >= HOPS
        and {s.name for s in trace} >= STAGES
        and all(not s.parent_id or s.parent_id in ids for s in trace)
    )


async def test_a_job_is_one_connected_trace_across_every_service(
    client_a: Client, otlp_traces: TraceReceiver
) -> None:
    with webhook_receiver() as hooks:
        body = {"prompt": "a lighthouse at dusk", **SMALL, "webhook_url": hooks.url, "seed": 7}
        job = await asyncio.to_thread(client_a.submit, **body)
        await asyncio.to_thread(wait_status, client_a, job.id, {"succeeded"})
        await asyncio.to_thread(hooks.wait_for, lambda d: json.loads(d.body)["data"]["id"] == job.id)

    deadline = time.monotonic() + 30
    trace = _job_trace(otlp_traces.snapshot(), job.id)
    while not _complete(trace) and time.monotonic() < deadline:
        await asyncio.sleep(0.5)
        trace = _job_trace(otlp_traces.snapshot(), job.id)

    assert trace, "no span of the job reached the receiver"
    assert {(s.service, s.name) for s in trace} >= HOPS
    by_id = {s.span_id: s for s in trace}
    roots = [s for s in trace if not s.parent_id]
    assert [(r.service, r.name) for r in roots] == [("reelstream-ingest", "POST /v1/jobs")]
    dangling = [s for s in trace if s.parent_id and s.parent_id not in by_id]
    assert not dangling, f"spans whose parent never arrived: {dangling}"

    render = next(s for s in trace if s.name == "render")
    assert render.attributes["job_id"] == job.id
    stages = {s.name for s in trace if s.parent_id == render.span_id}
    assert stages >= STAGES
    # every hop descends from the request, in pipeline order
    chain = []
    span: ReceivedSpan | None = next(s for s in trace if s.name == "webhook deliver")
    while span is not None:
        chain.append(span.service)
        span = by_id.get(span.parent_id)
    order = ["reelstream-ingest", "reelstream-admission", "reelstream-scheduler", "reelstream-worker"]
    positions = [chain[::-1].index(service) for service in order]
    assert positions == sorted(positions), chain[::-1]
    assert chain[0] == "reelstream-notifier"
    consumed = [s for s in trace if s.name.endswith(" process")]
    assert all(
        {"messaging.destination.name", "messaging.kafka.offset"} <= s.attributes.keys() for s in consumed
    )
