"""`reelstream dev` restarts a service that crashes, with backoff, and says so: its Supervisor over the e2e
package's real pipeline, ingest SIGKILLed twice behind the pipeline's back, serving again each time."""

from __future__ import annotations

import os
import signal
import time

import httpx
import pytest

from devstack.services import Pipeline
from devstack.supervisor import Backoff, Supervisor
from reelstream.endpoints import Endpoints

DEADLINE_S = 90.0


def ready(api_url: str) -> bool:
    try:
        return httpx.get(f"{api_url}/readyz", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def crash(pipeline: Pipeline, name: str) -> int:
    proc = next(p for p in pipeline.processes if p.name == name)
    assert proc.pid is not None
    os.killpg(proc.pid, signal.SIGKILL)  # as a crash would: the pipeline is not told
    return proc.pid


def supervise_until_serving(supervisor: Supervisor, api_url: str, lines: list[str], restarts: int) -> None:
    """Run the supervisor's checks, as `reelstream dev` does, until ingest restarted and serves again."""
    deadline = time.monotonic() + DEADLINE_S
    while time.monotonic() < deadline:
        supervisor.check(time.monotonic())
        if sum("ingest restarted" in line for line in lines) >= restarts and ready(api_url):
            return
        time.sleep(0.2)  # the supervisor's period (dev: 0.5 s), not a synchronization
    pytest.fail(f"ingest did not serve again within {DEADLINE_S:g}s; the supervisor said: {lines}")


def test_a_crashed_service_is_restarted_with_backoff_and_serves_again(
    running_pipeline: Pipeline, stack: Endpoints
) -> None:
    lines: list[str] = []
    supervisor = Supervisor(running_pipeline, stack, os.environ, lines.append, Backoff(first=0.5))
    supervisor.watch_from(time.monotonic())
    api_url = running_pipeline.config.api_url

    first_pid = crash(running_pipeline, "ingest")
    supervise_until_serving(supervisor, api_url, lines, restarts=1)
    assert lines[0].startswith("ingest exited (status -9); restarting it in 0.5s (crash 1 in a row")
    assert lines[1].startswith("ingest restarted (pid ")
    assert str(first_pid) not in lines[1]

    crash(running_pipeline, "ingest")  # again, soon after: the wait doubles
    supervise_until_serving(supervisor, api_url, lines, restarts=2)
    assert lines[2].startswith("ingest exited (status -9); restarting it in 1s (crash 2 in a row")
    assert [p.name for p in running_pipeline.processes].count("ingest") == 1
