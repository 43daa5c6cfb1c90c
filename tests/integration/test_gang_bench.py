"""bench/run_on_gpus.sh, dry-run on CPU: two gloo processes, the tiny model, gangs of 1 and 2.

The multi-GPU benchmark only runs where a multi-GPU machine is lent; this keeps its script, launcher and
JSON lines from rotting in the meantime.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.render

ROOT = Path(__file__).resolve().parents[2]


def test_the_multi_gpu_bench_runs_gangs_of_one_and_two_on_cpu(tmp_path: Path) -> None:
    env = {**os.environ, "OUT": str(tmp_path), "NPROC": "2", "PYTHON": sys.executable, "BENCH_TIMEOUT": "280"}
    args = ["--preset", "tiny", "--device", "cpu", "--gangs", "1,2,8", "--steps", "3"]
    command = ["bash", "bench/run_on_gpus.sh", *args]
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    rows = [json.loads(line) for line in (tmp_path / "gang.jsonl").read_text().splitlines()]
    setup, *gangs = rows
    assert setup["phase"] == "setup"
    assert setup["world_size"] == 2
    assert setup["heads"] == 4
    assert [row["gang"] for row in gangs] == [1, 2]  # a gang of 8 does not fit two processes: not run
    assert gangs[1]["plan"] == "2 ranks: CFG split 2 x Ulysses 1"
    for row in gangs:
        assert row["frames"] == 7  # the leader decoded the whole video
        assert len(row["step_s"]) == 3
        assert row["render_s_at_64_steps_derived"] > row["render_s"] > row["denoise_s"] > 0
    assert (tmp_path / "gang-bench.log").stat().st_size > 0
