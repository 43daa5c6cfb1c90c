"""Structured logs of the real processes: every service writes JSON lines, and a job's lines carry its job id
and the trace id (and a span id) of the very trace the OTLP receiver got for that job."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from typing import Any

from reelstream_client import Client

from devstack.services import Pipeline
from schemas.topics import JOB_EVENTS, RENDER_DISPATCH
from tests.e2e.conftest import TENANT_A_KEY
from tests.e2e.support import SMALL, wait_status
from tests.otlp_receiver import ReceivedSpan, TraceReceiver
from tests.webhook_receiver import webhook_receiver

SERVICES = {
    "ingest": "reelstream-ingest",
    "admission": "reelstream-admission",
    "scheduler": "reelstream-scheduler",
    "notifier": "reelstream-notifier",
    "worker-0": "reelstream-worker",
    "worker-1": "reelstream-worker",
}
# the INFO lines a job leaves: accepted by ingest, admitted, rendered by a worker, its webhook delivered
JOB_LINES = {"reelstream-ingest", "reelstream-admission", "reelstream-worker", "reelstream-notifier"}
DEADLINE_S = 30.0


def read_lines(log_dir: Path) -> dict[str, list[dict[str, Any]]]:
    """Every service's log as parsed JSON lines (a line that is not JSON fails the test)."""
    parsed: dict[str, list[dict[str, Any]]] = {}
    for name in SERVICES:
        text = (log_dir / f"{name}.log").read_text(errors="replace")
        parsed[name] = []
        for number, line in enumerate(text.splitlines(), 1):
            try:
                parsed[name].append(json.loads(line))
            except json.JSONDecodeError as exc:
                raise AssertionError(f"{name}.log:{number} is not a JSON line: {line!r}") from exc
    return parsed


def job_lines(log_dir: Path, job_id: str) -> list[dict[str, Any]]:
    return [e for lines in read_lines(log_dir).values() for e in lines if e.get("job_id") == job_id]


def job_spans(spans: list[ReceivedSpan], job_id: str) -> list[ReceivedSpan]:
    trace_ids = {s.trace_id for s in spans if s.attributes.get("job_id") == job_id}
    return [s for s in spans if s.trace_id in trace_ids]


def settled(lines: list[dict[str, Any]], spans: list[ReceivedSpan]) -> bool:
    span_ids = {s.span_id for s in spans}
    return {e["service"] for e in lines} >= JOB_LINES and all(e.get("span_id") in span_ids for e in lines)


async def test_a_jobs_log_lines_carry_its_job_id_and_its_trace(
    client_a: Client, otlp_traces: TraceReceiver, running_pipeline: Pipeline
) -> None:
    log_dir = running_pipeline.log_dir
    with webhook_receiver() as hooks:
        body = {"prompt": "a kite over the dunes", **SMALL, "webhook_url": hooks.url, "seed": 11}
        job = await asyncio.to_thread(client_a.submit, **body)
        await asyncio.to_thread(wait_status, client_a, job.id, {"succeeded"})
        await asyncio.to_thread(hooks.wait_for, lambda d: json.loads(d.body)["data"]["id"] == job.id)

    deadline = time.monotonic() + DEADLINE_S  # spans are exported in batches, lines written as they happen
    lines, spans = job_lines(log_dir, job.id), job_spans(otlp_traces.snapshot(), job.id)
    while not settled(lines, spans) and time.monotonic() < deadline:
        await asyncio.sleep(0.2)
        lines, spans = job_lines(log_dir, job.id), job_spans(otlp_traces.snapshot(), job.id)

    assert spans, "the receiver got no span of the job"
    [trace_id] = {s.trace_id for s in spans}
    assert {e["service"] for e in lines} >= JOB_LINES, lines
    assert [e for e in lines if e.get("trace_id") != trace_id] == []
    span_ids = {s.span_id for s in spans}
    assert [e for e in lines if e.get("span_id") not in span_ids] == []

    [rendered] = [e for e in lines if e["message"] == "render succeeded"]
    assert rendered["topic"] == RENDER_DISPATCH.name
    assert rendered["partition"] == rendered["slot"]
    assert isinstance(rendered["offset"], int)
    delivered = [e for e in lines if e["service"] == "reelstream-notifier"]  # a stream stage's record context
    assert {(e["topic"], type(e["partition"]), type(e["offset"])) for e in delivered} == {
        (JOB_EVENTS.name, int, int)
    }
    assert {e["tenant"] for e in delivered} == {"tenant-a"}
    [accepted] = [e for e in lines if e["service"] == "reelstream-ingest"]
    assert accepted["tenant"] == "tenant-a"

    for name, entries in read_lines(log_dir).items():  # every line JSON (read_lines), of its service
        assert {e["service"] for e in entries} <= {SERVICES[name]}
        assert all({"ts", "level", "logger", "message"} <= e.keys() for e in entries)
    everything = "".join(p.read_text() for p in log_dir.glob("*.log"))
    assert "a kite over the dunes" not in everything  # prompts: only their length and hash
    assert TENANT_A_KEY not in everything  # credentials never
    assert "X-Amz-Signature" not in everything  # nor presigned URLs
