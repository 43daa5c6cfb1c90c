"""The GPU benchmark's dry run: every phase's code path on the CPU with the tiny model, so the device script
(bench/run_on_gpu.sh -> bench/mochi_gpu.py) cannot rot between the sessions that are lent a GPU."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]

pytestmark = pytest.mark.render


def test_dry_run_writes_a_line_for_every_phase(tmp_path: Path) -> None:
    out = tmp_path / "bench.jsonl"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    done = subprocess.run(
        [sys.executable, "bench/mochi_gpu.py", "--dry-run", "--json", str(out)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    by_phase = {row["phase"]: row for row in rows}
    errors = [row for row in rows if "error" in row or "skipped" in row]
    assert errors == [], errors
    assert set(by_phase) >= {
        "setup",
        "steps",
        "quality_reference",
        "fast",
        "compiled",
        "e2e",
        "fp8",
        "budget",
    }
    assert by_phase["compiled"]["graph_breaks"] == 0
    assert by_phase["e2e"]["mp4_bytes"] > 0
    assert by_phase["e2e"]["settings"]["fp8_linear"] == "off"
    fast = by_phase["fast"]
    runs, steps = (int(n) for n in fast["last_block_runs"].split("/"))
    assert runs < steps  # the cache skipped work
    assert 0 < fast["latent_rel_error"] < 0.5
    fp8 = by_phase["fp8"]
    assert fp8["levers"] == ["fp8_attention"]
    assert fp8["attention_kernel"] == "emulated"
    assert fp8["fp8_attention_calls"] > 0
    assert fp8["compiled_seconds_per_step"] > 0  # the FP8 processor inside the compiled blocks
    assert 0 < fp8["latent_rel_error"] < 0.1
    assert fp8["gate_failures"] == []
    assert "needs a CUDA GPU" in fp8["refused"]["fp8_linear"]  # torchao's float8 refuses the CPU
