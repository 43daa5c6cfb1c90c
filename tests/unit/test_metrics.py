"""Metrics: label sets stay bounded (no job id, prompt, URL or raw tenant), values come from the adapters'
outputs, and every dashboard and alert query names only metrics the code exports."""

from __future__ import annotations

import json
import re
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import Route
from starlette.testclient import TestClient

from reelstream.lag import LagExporter, partition_lags
from reelstream.load_metrics import frames_class, prompt_words_class
from reelstream.long_task_metrics import LONG_TASK_FAILED_TWICE
from reelstream.metrics import (
    HttpMetricsMiddleware,
    Metrics,
    WorkerMetrics,
    attempt_label,
    route_template,
    shape_class,
)
from schemas import events as ev
from streams.scheduling import Output, SchedulerState, apply
from tests.samples import T0, render_params

ROOT = Path(__file__).parents[2]
DASHBOARDS = sorted((ROOT / "dashboards").glob("*.json"))
NVML_ONLY = {
    "reelstream_gpu_utilization_ratio",
    "reelstream_gpu_memory_used_bytes",
    "reelstream_gpu_memory_total_bytes",
}


def series(metrics: Metrics) -> list[tuple[str, dict[str, str]]]:
    return [(s.name, s.labels) for family in metrics.registry.collect() for s in family.samples]


def admitted(job_id: str, tenant: str, prompt: str) -> ev.JobAdmitted:
    return ev.JobAdmitted(
        job_id=job_id,
        tenant_id=tenant,
        pool_id="default",
        prompt=prompt,
        params=render_params(),
        submitted_at=T0,
        occurred_at=T0,
        webhook_url=f"https://hooks.example.test/{job_id}?token=secret",
    )


def scheduled(events: list[ev.InboxEvent]) -> tuple[SchedulerState, list[Output]]:
    state, outputs = SchedulerState("default"), []
    for event in events:
        state, out = apply(state, event)
        outputs += out
    return state, outputs


def test_scheduler_labels_are_bounded_whatever_the_jobs_and_tenants() -> None:
    metrics = Metrics({"tenant-7": "premium"})
    events: list[ev.InboxEvent] = [
        admitted(f"job-{i}", f"tenant-{i % 50}", f"prompt number {i}") for i in range(200)
    ]
    beat = ev.WorkerHeartbeat(
        worker_id="w0",
        pool_id="default",
        slot=0,
        state=ev.WorkerState.IDLE,
        renderer="tiny-mochi",
        occurred_at=T0,
    )
    state, outputs = scheduled([*events, beat])
    metrics.expect_pools(["default"])
    metrics.scheduler_outputs("default", outputs)
    metrics.scheduler_state(state)

    samples = series(metrics)
    values = {v for _, labels in samples for v in labels.values()}
    assert not any(v.startswith(("job-", "prompt", "https://")) for v in values)
    assert {labels["tenant_class"] for _, labels in samples if "tenant_class" in labels} == {
        "premium",
        "other",
    }
    assert len(samples) < 1000  # 200 jobs of 50 tenants: the series count depends on neither
    queued = {
        labels["priority"]: value
        for (name, labels), value in zip(samples, _values(metrics), strict=True)
        if name == "reelstream_scheduler_queued_jobs"
    }
    assert queued == {"high": 0, "normal": 199, "low": 0}  # one of the 200 went to slot 0
    assert (
        metrics.registry.get_sample_value(
            "reelstream_job_events_total", {"pool": "default", "event": "queued", "tenant_class": "premium"}
        )
        == 4
    )  # tenant-7 has every 50th job
    assert (
        metrics.registry.get_sample_value(
            "reelstream_queue_wait_seconds_count", {"pool": "default", "priority": "normal"}
        )
        == 1
    )


def _values(metrics: Metrics) -> list[float]:
    return [s.value for family in metrics.registry.collect() for s in family.samples]


def test_terminal_statuses_give_end_to_end_durations() -> None:
    metrics = Metrics()
    _, outputs = scheduled([admitted("j1", "t1", "p")])
    (publish,) = outputs
    done = replace(
        publish.status,  # type: ignore[union-attr]
        state=ev.JobState.SUCCEEDED,
        updated_at=T0 + timedelta(seconds=42),
    )
    metrics.scheduler_outputs("default", [type(publish)(done, ev.JobEventType.SUCCEEDED)])  # type: ignore[call-arg]
    labels = {"pool": "default", "state": "succeeded", "tenant_class": "other"}
    assert metrics.registry.get_sample_value("reelstream_job_duration_seconds_sum", labels) == 42


def test_shapes_and_attempts_fall_into_a_few_classes() -> None:
    shapes = {
        shape_class(w, h, f)
        for w in range(16, 1400, 16)
        for h in range(16, 800, 16)
        for f in range(1, 302, 6)
    }
    assert len(shapes) <= 24
    assert shape_class(848, 480, 163) == "480p_m"
    assert [attempt_label(a) for a in (1, 4, 5, 99)] == ["1", "4", "5+", "5+"]


def test_worker_metrics_time_stages_renders_and_busy_slots() -> None:
    metrics = Metrics()
    worker = WorkerMetrics(metrics, "default", 3, "NVIDIA H100 80GB HBM3", "mochi-1")
    params = render_params(width=848, height=480, num_frames=163)

    def progress(stage: ev.RenderStage) -> ev.RenderProgress:
        return ev.RenderProgress(
            job_id="j", slot=3, attempt=1, stage=stage, step=0, total_steps=1, progress=0
        )

    def beat(busy: bool) -> ev.WorkerHeartbeat:
        state = ev.WorkerState.BUSY if busy else ev.WorkerState.IDLE
        return ev.WorkerHeartbeat(
            worker_id="w",
            pool_id="default",
            slot=3,
            state=state,
            renderer="mochi-1",
            job_id="j" if busy else None,
        )

    worker.reported(beat(False), None, now=0)
    worker.reported(ev.RenderStarted(job_id="j", slot=3, attempt=1, worker_id="w"), params, now=1)
    worker.reported(progress(ev.RenderStage.ENCODE_TEXT), params, now=1)
    worker.reported(progress(ev.RenderStage.DENOISE), params, now=3)
    worker.reported(progress(ev.RenderStage.DENOISE), params, now=9)  # same stage: no new timing
    worker.reported(beat(True), params, now=10)
    busy = {"pool": "default", "slot": "3"}
    assert metrics.registry.get_sample_value("reelstream_worker_busy_seconds_total", busy) == 9  # so far
    worker.reported(progress(ev.RenderStage.UPLOAD), params, now=20)
    done = ev.RenderFailed(job_id="j", slot=3, attempt=1, error=ev.ErrorInfo("x", "y", False))
    worker.reported(done, params, now=21)

    get = metrics.registry.get_sample_value
    gpu = "NVIDIA_H100_80GB_HBM3"
    assert get("reelstream_render_stage_duration_seconds_sum", {"stage": "encode_text", "gpu": gpu}) == 2
    assert get("reelstream_render_stage_duration_seconds_sum", {"stage": "denoise", "gpu": gpu}) == 17
    assert get("reelstream_render_stage_duration_seconds_sum", {"stage": "upload", "gpu": gpu}) == 1
    labels = {"shape": "480p_m", "gpu": gpu, "outcome": "failed"}
    assert get("reelstream_render_duration_seconds_sum", labels) == 20
    assert get("reelstream_worker_busy_seconds_total", busy) == 20  # from the start to the outcome
    assert get("reelstream_worker_heartbeats_total", {"pool": "default", "slot": "3"}) == 2


def test_http_requests_are_labelled_by_route_template() -> None:
    metrics = Metrics()

    async def ok(request: Any) -> PlainTextResponse:
        return PlainTextResponse("ok")

    routes = [Route("/v1/jobs/{job_id}", ok, methods=["GET"])]
    app = Starlette(routes=routes)
    app.add_middleware(HttpMetricsMiddleware, metrics=metrics, route_of=route_template(routes))
    with TestClient(app) as client:
        client.get("/v1/jobs/secret-job-id")
        client.get("/nowhere/else?token=x")
        client.request("BREW", "/v1/jobs/x")
    get = metrics.registry.get_sample_value
    assert (
        get(
            "reelstream_http_requests_total", {"route": "/v1/jobs/{job_id}", "method": "GET", "status": "200"}
        )
        == 1
    )
    assert (
        get("reelstream_http_requests_total", {"route": "unmatched", "method": "GET", "status": "404"}) == 1
    )
    assert (
        get(
            "reelstream_http_requests_total",
            {"route": "/v1/jobs/{job_id}", "method": "other", "status": "405"},
        )
        == 1
    )


def test_lag_rows_skip_uncommitted_partitions() -> None:
    from aiokafka import TopicPartition

    tp0, tp1 = TopicPartition("t", 0), TopicPartition("t", 1)
    rows = partition_lags({"g": {tp0: 5, tp1: -1}}, {tp0: 12, tp1: 3})
    assert [(r.group, r.partition, r.lag) for r in rows] == [("g", 0, 7)]


def exported_names() -> set[str]:
    metrics = Metrics()
    LagExporter("127.0.0.1:1", "x-", metrics.registry)  # no I/O until refresh()
    return {family.name for family in metrics.registry.collect()} | NVML_ONLY


def referenced(expr: str) -> set[str]:
    names = set(re.findall(r"\breelstream_[a-z0-9_]+", expr))
    return {re.sub(r"_(bucket|count|sum|total)$", "", n) for n in names}


def dashboard_exprs() -> list[str]:
    return [
        t["expr"] for path in DASHBOARDS for p in json.loads(path.read_text())["panels"] for t in p["targets"]
    ]


def test_every_dashboard_and_alert_query_uses_exported_metrics() -> None:
    exported = {re.sub(r"_total$", "", n) for n in exported_names()}
    alerts = (ROOT / "dashboards" / "alerts.yml").read_text()
    used = set().union(*(referenced(e) for e in dashboard_exprs()), referenced(alerts))
    assert len(used) >= 15
    assert used <= exported, used - exported


def test_dashboards_have_stable_uids_a_datasource_variable_and_chart_copies() -> None:
    uids = set()
    for path in DASHBOARDS:
        board = json.loads(path.read_text())
        assert board["uid"] == path.stem
        uids.add(board["uid"])
        variables = board["templating"]["list"]
        assert any(v["type"] == "datasource" and v["name"] == "datasource" for v in variables)
        for panel in board["panels"]:
            assert panel["datasource"]["uid"] == "${datasource}"
        assert (ROOT / "charts/reelstream/files/dashboards" / path.name).read_text() == path.read_text()
    assert {
        "reelstream-stream-lag",
        "reelstream-pipeline-slos",
        "reelstream-gpus",
        "reelstream-webhooks",
    } <= uids


def test_a_succeeded_render_is_observed_by_clip_and_prompt_length_class() -> None:
    metrics = Metrics()
    _, outputs = scheduled([admitted("j1", "t1", " ".join(["word"] * 40))])
    (publish,) = outputs
    times = {"running": T0, "succeeded": T0 + timedelta(seconds=95)}
    done = replace(publish.status, state=ev.JobState.SUCCEEDED, state_times=times)  # type: ignore[union-attr]
    metrics.scheduler_outputs("default", [type(publish)(done, ev.JobEventType.SUCCEEDED)])  # type: ignore[call-arg]
    frames = frames_class(done.params.num_frames)  # type: ignore[union-attr]
    labels = {"frames": frames, "prompt_words": "32-63"}
    assert metrics.registry.get_sample_value("reelstream_render_load_seconds_sum", labels) == 95
    assert {frames_class(f) for f in range(1, 400)} == {"0-31", "32-85", "86-169", "170+"}
    assert {prompt_words_class(w) for w in range(0, 1000)} == {"0-15", "16-31", "32-63", "64-127", "128+"}


def test_long_tasks_failed_twice_are_counted_and_only_the_last_one_is_named() -> None:
    metrics = Metrics()
    metrics.expect_pools(["default"])
    count = {"pool": "default"}
    assert metrics.registry.get_sample_value("reelstream_long_tasks_failed_twice_total", count) == 0
    _, outputs = scheduled([admitted("j1", "t1", "p")])
    (publish,) = outputs
    for job in ("job-a", "job-b"):
        failed = replace(
            publish.status,  # type: ignore[union-attr]
            job_id=job,
            state=ev.JobState.FAILED,
            error=ev.ErrorInfo(LONG_TASK_FAILED_TWICE, "render_timeout: stopped", False),
        )
        metrics.scheduler_outputs("default", [type(publish)(failed, ev.JobEventType.FAILED)])  # type: ignore[call-arg]
    plain_failure = replace(failed, job_id="job-c", error=ev.ErrorInfo("render_error", "x", False))
    metrics.scheduler_outputs("default", [type(publish)(plain_failure, ev.JobEventType.FAILED)])  # type: ignore[call-arg]
    assert metrics.registry.get_sample_value("reelstream_long_tasks_failed_twice_total", count) == 2
    named = [
        labels["job_id"]
        for name, labels in series(metrics)
        if name == "reelstream_long_task_failed_twice_last"
    ]
    assert named == ["job-b"]  # one series per pool: the job is named, the series count stays bounded
