"""schemathesis' own CLI against a running ingest API, as a client author would run it: every check
(`--checks all`: server errors, status codes, content types, headers, response schemas, schema-valid
requests accepted, schema-violating requests refused, SSE event schemas, auth ...) and every phase
(examples, coverage, fuzzing, stateful). 0 failures: the OpenAPI document is the contract the server keeps.

Bounded (`--max-examples`, a fixed seed) so it stays within a few minutes; the case count is printed
(`pytest -s`). The one filtered failure kind is explained in schemathesis_hooks.py.
"""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from reelstream.endpoints import Endpoints
from tests.integration.ingest.support import RunningApi, api_with_roles

ROOT = Path(__file__).resolve().parents[2]
MAX_EXAMPLES = 4  # per operation and phase: ~1,000 cases
SEED = 21
RUN_TIMEOUT_S = 540.0
HOOKS = "tests.reliability.schemathesis_hooks"


@pytest.fixture(scope="module")
async def contract_api(stack: Endpoints, topics: None) -> AsyncIterator[RunningApi]:
    tenant = f"contract-{uuid.uuid4().hex[:10]}"
    async with api_with_roles(stack, {"root": tenant}, admins=["root"]) as api:
        yield api


def _st() -> str:
    return str(Path(sys.executable).with_name("st"))


async def test_schemathesis_finds_no_failure_with_every_check_and_phase(
    contract_api: RunningApi, tmp_path: Path
) -> None:
    command = [
        _st(),
        "run",
        f"{contract_api.base_url}/openapi.json",
        "--checks",
        "all",
        "--phases",
        "examples,coverage,fuzzing,stateful",
        "--max-examples",
        str(MAX_EXAMPLES),
        "--seed",
        str(SEED),
        "--workers",
        "1",  # two threads can trip CPython 3.11's ast.parse inside hypothesis (a SystemError, not ours)
        "--request-timeout",
        "20",
        "--header",
        f"Authorization: Bearer {contract_api.keys['root']}",
        "--no-color",
    ]
    env = {
        **os.environ,
        "SCHEMATHESIS_HOOKS": "tests.reliability.schemathesis_hooks",
        "PYTHONPATH": str(ROOT),
    }
    process = await asyncio_run(command, env, tmp_path)  # its cache and reports stay out of the tree
    output = process.stdout
    counts = re.search(r"(\d+) generated", output)
    print(f"\nschemathesis: {counts.group(0) if counts else 'no count'}; exit {process.returncode}")
    assert process.returncode == 0, output[-12_000:]
    assert counts is not None
    assert int(counts.group(1)) > 500


async def asyncio_run(command: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    """Run the CLI in a thread, so this test's event loop keeps serving the API it calls."""

    def run() -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            command,
            env=env,
            cwd=cwd,
            capture_output=True,
            text=True,
            timeout=RUN_TIMEOUT_S,
            check=False,
        )

    return await asyncio.to_thread(run)
