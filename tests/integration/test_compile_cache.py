"""Compiled once per node: a second worker start on the same compile cache folder takes the compiled code from
it (inductor's C++ backend on the CPU here; Triton kernels on a GPU, the same cache folder)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.render

START_TIMEOUT_S = 600  # one cold compile of the tiny model's blocks: ~30 s on an idle 2-core machine


def start(cache_dir: Path) -> dict[str, float]:
    """One worker-like start in a fresh process: load the tiny renderer compiled, warm up one shape."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path), "HF_HUB_OFFLINE": "1"}
    done = subprocess.run(
        [sys.executable, "-m", "tests.compile_probe", str(cache_dir)],
        capture_output=True,
        text=True,
        env=env,
        timeout=START_TIMEOUT_S,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    counts: dict[str, float] = json.loads(done.stdout.strip().splitlines()[-1])
    return counts


def test_the_second_start_takes_its_compiled_graphs_from_the_cache(tmp_path: Path) -> None:
    cache = tmp_path / "compile"

    first = start(cache)
    second = start(cache)

    assert first["graphs"] >= 1, first
    assert first["cache_misses"] >= 1, first  # compiled afresh, into the folder
    assert any((cache / "inductor").iterdir())
    assert second["graphs"] == first["graphs"], second  # dynamo traces again in every process...
    assert second["cache_hits"] >= 1, second  # ...but inductor takes the code from the cache
    assert second["cache_misses"] < first["cache_misses"], (first, second)
