"""GPU utilization and memory per slot, read through NVML (nvidia-ml-py's `pynvml`) at scrape time.

Only the GPU worker registers it, so the render stack's packages stay out of the core and the CPU image.
"""

from __future__ import annotations

from collections.abc import Iterable

from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from reelstream.metrics import gpu_label


class NvmlCollector(Collector):
    """GPU utilization and memory of a slot's device, read through NVML at scrape time (nvidia-ml-py's
    `pynvml`); collects nothing where NVML or the device is unavailable."""

    def __init__(self, pool: str, slot: int, device: str) -> None:
        self.pool, self.slot = pool, str(slot)
        _, _, index = device.partition(":")
        self.index = int(index) if index.isdigit() else 0

    def collect(self) -> Iterable[GaugeMetricFamily]:
        try:
            import pynvml  # type: ignore[import-not-found,unused-ignore]

            pynvml.nvmlInit()
            handle = pynvml.nvmlDeviceGetHandleByIndex(self.index)
            util = pynvml.nvmlDeviceGetUtilizationRates(handle)
            memory = pynvml.nvmlDeviceGetMemoryInfo(handle)
            name = pynvml.nvmlDeviceGetName(handle)
        except Exception:  # no NVML, no driver or no device: no GPU series
            return []
        labels = ["pool", "slot", "gpu"]
        values = [self.pool, self.slot, gpu_label(name.decode() if isinstance(name, bytes) else str(name))]
        utilization = GaugeMetricFamily(
            "reelstream_gpu_utilization_ratio", "GPU busy ratio (NVML)", labels=labels
        )
        utilization.add_metric(values, util.gpu / 100)
        used = GaugeMetricFamily(
            "reelstream_gpu_memory_used_bytes", "GPU memory in use (NVML)", labels=labels
        )
        used.add_metric(values, float(memory.used))
        total = GaugeMetricFamily("reelstream_gpu_memory_total_bytes", "GPU memory (NVML)", labels=labels)
        total.add_metric(values, float(memory.total))
        return [utilization, used, total]
