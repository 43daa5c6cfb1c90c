"""The NVML collector: GPU series only where NVML and the device exist."""

from __future__ import annotations

from prometheus_client import CollectorRegistry

from gpu_consumers.nvml import NvmlCollector


def test_nvml_collector_collects_nothing_without_a_gpu() -> None:
    registry = CollectorRegistry()
    registry.register(NvmlCollector("default", 0, "cuda:7"))
    assert all(not family.samples for family in registry.collect())
