"""Benchmark: the GPU's idle gap between renders on one slot with a backlog, and where a render's time goes.

    .venv/bin/python bench/render_gap.py [--jobs 20]

Starts its own stack and one worker (tiny renderer, CPU), submits `--jobs` at once (so the slot always has
work waiting), waits for all of them, and reads the worker's /metrics:
  - the idle gap (`reelstream_worker_idle_gap_seconds`): from one render's GPU work (denoise + decode) to
    the start of the next render;
  - the mean of each stage (`reelstream_render_stage_duration_seconds`): encode_text, denoise, decode,
    encode_video (MP4 encode, decode-verify, poster), upload;
  - all of it twice in one run, on one stack: without overlap (REELSTREAM_WORKER_MAX_FINISHING=0: a slot
    runs one render start to outcome) and with it (1: the next render's GPU part runs while the previous one
    finishes), and the ratio of the two gaps, measured (docs/architecture.md, "No idle gap between renders").
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
import time
from pathlib import Path

import httpx
from prometheus_client.parser import text_string_to_metric_families

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench_common import BODY, bench_config, throwaway_stack

from devstack.process import free_port
from devstack.services import Pipeline
from reelstream.endpoints import Endpoints

STAGES = ("encode_text", "denoise", "decode", "encode_video", "upload")


def run(jobs: int, overlap_first: bool) -> None:
    with throwaway_stack() as (endpoints, log_dir):
        gaps = {}
        for finishing in (1, 0) if overlap_first else (0, 1):  # either order: a cold start costs more
            print(f"--- REELSTREAM_WORKER_MAX_FINISHING={finishing}")
            gaps[finishing] = run_once(endpoints, log_dir / f"finishing-{finishing}", jobs, finishing)
        print(f"idle gap with overlap / without: {gaps[1] * 1000:.1f} / {gaps[0] * 1000:.1f} ms", end="")
        print(f" = ratio {gaps[1] / gaps[0]:.2f} (measured, same run)")


def run_once(endpoints: Endpoints, log_dir: Path, jobs: int, finishing: int) -> float:
    """One pipeline with the setting, `jobs` at once; the mean idle gap."""
    key, config = bench_config("*=rate:1000,burst:1000,queued:100000")
    port = free_port()
    config = dataclasses.replace(
        config,
        metrics_ports={"worker-0": port},
        extra_env={**config.extra_env, "REELSTREAM_WORKER_MAX_FINISHING": str(finishing)},
    )
    log_dir.mkdir(parents=True, exist_ok=True)
    pipeline = Pipeline(config, log_dir)
    try:
        pipeline.start(endpoints, os.environ, timeout=180)
        auth = {"Authorization": f"Bearer {key}"}
        with httpx.Client(base_url=config.api_url, headers=auth, timeout=30) as api:
            began = time.monotonic()
            ids = [api.post("/v1/jobs", json=BODY).raise_for_status().json()["id"] for _ in range(jobs)]
            wait_all(api, ids, deadline=time.monotonic() + 60 + 30 * jobs)
            print(f"{jobs} jobs done in {time.monotonic() - began:.1f} s (submit to last success)")
        return report(httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=10).text, jobs)
    finally:
        pipeline.stop()


def wait_all(api: httpx.Client, ids: list[str], deadline: float) -> None:
    pending = set(ids)
    while pending:
        if time.monotonic() > deadline:
            raise SystemExit(f"{len(pending)} jobs not finished in time")
        for job_id in sorted(pending):
            state = api.get(f"/v1/jobs/{job_id}").raise_for_status().json()["status"]  # the job's state
            if state in ("succeeded", "failed", "canceled"):
                if state != "succeeded":
                    raise SystemExit(f"job {job_id} {state}")
                pending.discard(job_id)
                break
        else:
            api.get("/v1/jobs", params={"limit": 1})  # one request's pause between rounds, not a sleep


def report(metrics: str, jobs: int) -> float:
    sums: dict[tuple[str, str], float] = {}
    for family in text_string_to_metric_families(metrics):
        for sample in family.samples:
            if sample.name.startswith("reelstream_worker_idle_gap_seconds_"):
                sums[(sample.name.rsplit("_", 1)[-1], "gap")] = sample.value
            elif sample.name.startswith("reelstream_render_stage_duration_seconds_"):
                stage = sample.labels.get("stage", "")
                kind = sample.name.rsplit("_", 1)[-1]
                sums[(kind, stage)] = sums.get((kind, stage), 0.0) + sample.value

    def mean(name: str) -> float:
        count = sums.get(("count", name), 0.0)
        return sums.get(("sum", name), 0.0) / count if count else float("nan")

    shape = (
        f"{BODY['width']}x{BODY['height']}, {BODY['num_frames']} frames, {BODY['num_inference_steps']} steps"
    )
    print(f"{jobs} jobs at once, tiny renderer ({shape}), 1 worker, {os.cpu_count()} cores")
    for stage in STAGES:
        print(f"  stage {stage:<13} mean {mean(stage) * 1000:8.1f} ms")
    gap, finish = mean("gap"), mean("encode_video") + mean("upload")
    gaps = sums.get(("count", "gap"), 0.0)
    print(f"idle gap between renders     mean {gap * 1000:8.1f} ms over {gaps:.0f} gaps")
    print(f"the finish                   mean {finish * 1000:8.1f} ms (encode, verify, poster, upload)")
    return gap


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--jobs", type=int, default=20)
    parser.add_argument("--overlap-first", action="store_true", help="run with the overlap first")
    args = parser.parse_args()
    run(args.jobs, args.overlap_first)
