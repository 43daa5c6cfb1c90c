"""The operator's pool view on the real pipeline: a rendering job shows on its slot, busy with its job, tenant
and model, through the API, the SDK and the CLI; once it ends the slot shows idle again. A tenant's key is
refused."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from reelstream_client import Client, PermissionDenied
from reelstream_client.cli.main import main as cli_main

from devstack.services import PipelineConfig
from tests.e2e.conftest import OPERATOR_KEY
from tests.e2e.support import SMALL, wait_status

SLOW = {**SMALL, "width": 256, "height": 256, "num_frames": 61, "num_inference_steps": 200}
Slots = list[dict[str, Any]]


def _slots(pipeline: PipelineConfig) -> Slots:
    """Every slot of every pool, as `GET /v1/admin/pool` answers (a 503 while the view catches up: none)."""
    headers = {"Authorization": f"Bearer {OPERATOR_KEY}"}
    response = httpx.get(f"{pipeline.api_url}/v1/admin/pool", headers=headers, timeout=10)
    if response.status_code == 503:
        assert response.headers["content-type"] == "application/problem+json"
        return []
    response.raise_for_status()
    return [slot for pool in response.json()["data"] for slot in pool["slots"]]


def _wait_slots(pipeline: PipelineConfig, holds: Callable[[Slots], bool], timeout: float = 60) -> Slots:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        slots = _slots(pipeline)
        if holds(slots):
            return slots
        time.sleep(0.1)  # polling the API with a deadline: the condition is the pool's state
    raise TimeoutError(f"the pool never reached the state asked for; last seen {_slots(pipeline)}")


def _holding(job_id: str, slots: Slots) -> list[dict[str, Any]]:
    return [s for s in slots if s["job"] is not None and s["job"]["id"] == job_id]


def test_a_rendering_job_holds_its_slot_then_the_slot_is_idle(
    pipeline: PipelineConfig, client_a: Client, capsys: pytest.CaptureFixture[str]
) -> None:
    job = client_a.submit(prompt="a lighthouse in fog", **SLOW)
    wait_status(client_a, job.id, {"running"}, lambda j: j.stage == "denoise", timeout=120)

    slots = _wait_slots(pipeline, lambda s: bool(_holding(job.id, s)))
    (slot,) = _holding(job.id, slots)
    assert slot["state"] == "busy"
    assert (slot["job"]["tenant"], slot["job"]["model"], slot["job"]["attempt"]) == (
        "tenant-a",
        "tiny-mochi",
        1,
    )
    assert "lighthouse" not in json.dumps(slots)  # never a prompt

    with Client(pipeline.api_url, OPERATOR_KEY) as operator:
        seen = [s for pool in operator.pool().data for s in pool.slots if s.slot == slot["slot"]]
    assert [(s.state, s.job.id if s.job else None) for s in seen] == [("busy", job.id)]
    env = {"REELSTREAM_API_URL": pipeline.api_url, "REELSTREAM_API_KEY": OPERATOR_KEY}
    capsys.readouterr()  # what the test printed so far is not the CLI's
    assert cli_main(["pool", "--json"], env) == 0
    printed = json.loads(capsys.readouterr().out)
    assert job.id in [s["job"]["id"] for p in printed["data"] for s in p["slots"] if s["job"]]
    assert cli_main(["pool"], env) == 0
    table = [line.split("\t") for line in capsys.readouterr().out.splitlines()]
    assert [str(slot["slot"]), "busy"] in [row[:2] for row in table if job.id in row]

    with pytest.raises(PermissionDenied):
        client_a.pool()  # a tenant's key: the platform operator's view only

    client_a.cancel(job.id)
    wait_status(client_a, job.id, {"canceled"}, timeout=120)
    slots = _wait_slots(
        pipeline, lambda s: any(x["slot"] == slot["slot"] and x["state"] == "idle" for x in s)
    )
    assert _holding(job.id, slots) == []
    with Client(pipeline.api_url, OPERATOR_KEY) as operator:
        after = [s for pool in operator.pool().data for s in pool.slots if s.slot == slot["slot"]]
    assert [(s.state, s.job) for s in after] == [("idle", None)]
