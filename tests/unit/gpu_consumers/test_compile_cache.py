"""The compile cache folder and the compile counters, without compiling
(tests/integration/test_compile_cache.py compiles twice on one folder)."""

from __future__ import annotations

from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry

from gpu_consumers.render.compile_cache import CompileCounts, use_compile_cache
from reelstream.worker_speed_metrics import SlotSpeed, WorkerSpeedMetrics

CACHE_VARIABLES = ("TORCHINDUCTOR_CACHE_DIR", "TRITON_CACHE_DIR", "TORCHINDUCTOR_FX_GRAPH_CACHE")


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in (*CACHE_VARIABLES, "TORCHINDUCTOR_AUTOGRAD_CACHE"):
        monkeypatch.delenv(name, raising=False)  # monkeypatch puts back what use_compile_cache sets


@pytest.mark.usefixtures("clean_env")
def test_the_caches_of_inductor_and_triton_go_under_the_configured_folder(tmp_path: Path) -> None:
    import os

    root = use_compile_cache(tmp_path / "compile")

    assert root == (tmp_path / "compile").resolve()
    assert os.environ["TORCHINDUCTOR_CACHE_DIR"] == str(root / "inductor")
    assert os.environ["TRITON_CACHE_DIR"] == str(root / "triton")
    assert os.environ["TORCHINDUCTOR_FX_GRAPH_CACHE"] == "1"
    assert (root / "inductor").is_dir()
    assert (root / "triton").is_dir()


@pytest.mark.usefixtures("clean_env")
def test_no_folder_leaves_torch_its_own() -> None:
    import os

    assert use_compile_cache(None) is None
    assert not any(name in os.environ for name in CACHE_VARIABLES)


def test_counts_subtract_to_what_happened_in_between() -> None:
    assert CompileCounts(4, 3, 1) - CompileCounts(2, 2, 0) == CompileCounts(2, 1, 1)


def test_the_slot_counts_each_compilation_and_cache_hit_once() -> None:
    registry = CollectorRegistry()
    speed = SlotSpeed(WorkerSpeedMetrics(registry), "default", 3)
    labels = {"pool": "default", "slot": "3"}

    speed.warmed_up(12.5)
    speed.compiled(misses=2, hits=0)  # the warm-up
    speed.compiled(misses=2, hits=0)  # an attempt that compiled nothing
    speed.compiled(misses=3, hits=4)  # an attempt of a new shape, partly cached
    speed.render_started(100.0)  # the slot's first render: no gap yet
    speed.gpu_done(160.0)  # its encode starts: the GPU is free
    speed.gpu_done(161.0)  # its outcome: still free since 160
    speed.render_started(160.25)

    assert registry.get_sample_value("reelstream_worker_warmup_seconds", labels) == 12.5
    assert registry.get_sample_value("reelstream_torch_compilations_total", labels) == 3
    assert registry.get_sample_value("reelstream_torch_compile_cache_hits_total", labels) == 4
    assert registry.get_sample_value("reelstream_worker_idle_gap_seconds_count", labels) == 1
    assert registry.get_sample_value("reelstream_worker_idle_gap_seconds_sum", labels) == 0.25
