"""Benchmark: the pipeline's own overheads with the tiny renderer and one worker.

    .venv/bin/python bench/pipeline_overheads.py [--jobs 200]

Starts its own stack and services (as `reelstream dev` does), then submits jobs one at a time so a slot is
idle at each submission, and prints P50/P95/P99 of
  (a) submit → 202 (HTTP round trip incl. the broker's ack, on a kept-alive connection),
  (b) 202 → render started (admission + scheduler + dispatch + worker pick-up),
  (c) render finished → webhook received (scheduler + notifier + HTTP delivery).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from datetime import datetime
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench_common import BODY, bench_config, throwaway_stack

from devstack.services import Pipeline
from tests.webhook_receiver import webhook_receiver


def percentiles(values: list[float]) -> str:
    qs = statistics.quantiles(values, n=100, method="inclusive")
    return f"P50 {qs[49] * 1000:8.1f} ms   P95 {qs[94] * 1000:8.1f} ms   P99 {qs[98] * 1000:8.1f} ms"


def _ts(iso: str) -> float:
    return datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()


def run(jobs: int) -> None:
    key, config = bench_config("*=rate:1000,burst:1000,queued:100000")  # the path, not limits
    with throwaway_stack() as (endpoints, log_dir):
        pipeline = Pipeline(config, log_dir)
        try:
            pipeline.start(endpoints, os.environ, timeout=120)
            auth = {"Authorization": f"Bearer {key}"}
            with httpx.Client(base_url=config.api_url, headers=auth, timeout=30) as api:
                measure(api, jobs)
        finally:
            pipeline.stop()


def measure(api: httpx.Client, jobs: int) -> None:
    """Submissions go over one kept-alive connection, as the SDK (`reelstream_client.Client`) sends them
    (the old `reelstream.client` opened a new client per call: its set-up alone was ~20 ms of this row)."""
    submit, start, notify = [], [], []
    with webhook_receiver() as receiver:
        for i in range(jobs + 5):  # the first five warm up the connection and caches
            t0 = time.time()
            job = api.post("/v1/jobs", json={**BODY, "webhook_url": receiver.url}).raise_for_status().json()
            t_accepted = time.time()
            hook = receiver.wait_for(lambda d, j=job["id"]: json.loads(d.body)["data"]["id"] == j)
            received = time.time()
            data = json.loads(hook.body)["data"]
            if i < 5:
                continue
            submit.append(t_accepted - t0)
            start.append(_ts(data["timestamps"]["running"]) - t_accepted)
            notify.append(received - _ts(data["timestamps"]["succeeded"]))
    print(f"{jobs} jobs, tiny renderer, 1 worker, {os.cpu_count()} cores")
    print(f"(a) submit → 202              {percentiles(submit)}")
    print(f"(b) 202 → render started       {percentiles(start)}")
    print(f"(c) render done → webhook      {percentiles(notify)}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--jobs", type=int, default=200)
    run(parser.parse_args().jobs)
