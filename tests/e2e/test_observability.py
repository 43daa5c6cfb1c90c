"""A real Prometheus scrapes every service of the session's pipeline while a job runs end to end; then every
dashboard panel's query is evaluated through Prometheus' HTTP API and must be valid and return series."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from reelstream_client import Client

from devstack.process import free_port
from devstack.prometheus import PrometheusService, find_prometheus
from devstack.services import Pipeline
from tests.e2e.support import SMALL, wait_status
from tests.webhook_receiver import webhook_receiver

DASHBOARDS = sorted((Path(__file__).parents[2] / "dashboards").glob("*.json"))
NVML_ONLY = (
    "reelstream_gpu_utilization_ratio",
    "reelstream_gpu_memory_",
)  # exported only where NVML sees a GPU


@pytest.fixture(scope="module")
def prometheus(running_pipeline: Pipeline, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    targets = dict(running_pipeline.config.metrics_ports)
    assert targets, "the pipeline serves no metrics ports"
    root = tmp_path_factory.mktemp("prometheus")
    rules = tuple(DASHBOARDS[0].parent / name for name in ("alerts.yml", "slo_rules.yml"))  # recordings too
    service = PrometheusService(
        root / "data", root / "logs", free_port(), targets, interval_seconds=1, rule_files=rules
    )
    process = service.process(find_prometheus(os.environ), os.environ)
    process.start()
    try:
        process.wait_ready(service.is_ready, 60, "ready (GET /-/ready)")
        yield service.url
    finally:
        process.stop(10)


def query(url: str, expr: str) -> list[dict[str, Any]]:
    """The instant vector of `expr`; an invalid query fails the test at once (400 from the API)."""
    response = httpx.get(f"{url}/api/v1/query", params={"query": expr}, timeout=10)
    body = response.json()
    assert response.status_code == 200, f"{expr}: {body.get('error')}"
    assert body["status"] == "success", f"{expr}: {body.get('error')}"
    result: list[dict[str, Any]] = body["data"]["result"]
    return result


def eventually(check: Callable[[], list[dict[str, Any]]], within: float, what: str) -> list[dict[str, Any]]:
    deadline = time.monotonic() + within
    while True:
        result = check()
        if result or time.monotonic() > deadline:
            assert result, f"no series within {within:g}s: {what}"
            return result
        time.sleep(0.5)  # polling Prometheus with a deadline: the condition is the query's result


def panel_queries() -> list[tuple[str, str]]:
    return [
        (f"{path.stem} / {panel['title']}", target["expr"])
        for path in DASHBOARDS
        for panel in json.loads(path.read_text())["panels"]
        for target in panel["targets"]
    ]


def test_every_dashboard_query_returns_series_after_an_end_to_end_job(
    prometheus: str, running_pipeline: Pipeline, client_a: Client
) -> None:
    jobs = set(running_pipeline.config.metrics_ports)

    def all_up() -> list[dict[str, Any]]:
        up = [s for s in query(prometheus, "up == 1") if s["metric"]["job"] in jobs]
        return up if len(up) == len(jobs) else []

    up = eventually(all_up, 60, f"every service scraped ({sorted(jobs)})")
    assert {s["metric"]["job"] for s in up} == jobs

    with webhook_receiver() as receiver:
        job = client_a.submit(**{"prompt": "a lighthouse at dusk", **SMALL, "webhook_url": receiver.url})
        wait_status(client_a, job.id, {"succeeded"}, timeout=120)
        receiver.wait_for(lambda d: json.loads(d.body)["data"]["id"] == job.id)
    # the job's success has been scraped from the scheduler and its webhook from the notifier
    eventually(lambda: query(prometheus, 'reelstream_job_events_total{event="succeeded"} > 0'), 30, "success")
    eventually(lambda: query(prometheus, "reelstream_webhook_deliveries_total > 0"), 30, "webhook")
    # the long-job estimator scored the job at admission and judged its verdict when the render ended
    assert isinstance(client_a.get(job.id).long_probability, float)
    judged = "sum(reelstream_long_job_predictions_total) > 0"
    eventually(lambda: query(prometheus, judged), 30, "the estimator's verdict judged")

    gpus = {s["metric"]["gpu"] for s in query(prometheus, "reelstream_worker_info")}
    queries = panel_queries()
    assert len(queries) >= 20
    for title, expr in queries:
        if any(name in expr for name in NVML_ONLY) and gpus <= {"cpu"}:
            query(prometheus, expr)  # valid, though CPU workers have no NVML series
            continue
        eventually(lambda expr=expr: query(prometheus, expr), 30, f"{title}: {expr}")
