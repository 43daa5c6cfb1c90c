"""The TypeScript client package (clients/typescript) against the running pipeline, in Node: submit (an
Idempotency-Key replay answers the same job), get, list, a field's problem+json as a typed ApiError, and the
event stream followed to success."""

from __future__ import annotations

import json
import os
import shutil
import subprocess

import pytest

from devstack.services import PipelineConfig
from tests.e2e.conftest import TENANT_A_KEY
from tests.e2e.console_browser import ROOT, TS_CLIENT, ensure_console_built

SMOKE = TS_CLIENT / "e2e" / "smoke.mjs"


def test_the_typescript_client_submits_gets_lists_and_follows_a_job(pipeline: PipelineConfig) -> None:
    node = shutil.which("node")
    if node is None:
        pytest.fail("node is missing: the TypeScript client needs Node 20 (make test says how)")
    ensure_console_built()  # builds the package (dist/) first when the console is not built
    env = {**os.environ, "REELSTREAM_API_URL": pipeline.api_url, "REELSTREAM_API_KEY": TENANT_A_KEY}
    result = subprocess.run(
        [node, str(SMOKE)], cwd=ROOT, env=env, capture_output=True, text=True, timeout=240, check=False
    )
    assert result.returncode == 0, result.stderr[-4000:]
    outcome = json.loads(result.stdout.strip().splitlines()[-1])
    assert outcome["same_on_replay"] is True
    assert outcome["got"] == outcome["id"]
    assert outcome["seed"] == 3
    assert outcome["listed"] is True
    assert outcome["problem"]["status"] == 422
    assert "width" in outcome["problem"]["fields"]
    assert outcome["statuses"][-1] == "succeeded", outcome["statuses"]
