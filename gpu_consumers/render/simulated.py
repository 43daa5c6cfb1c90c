"""A benchmark stand-in for a model: it takes as long as the cost model's prior says the render would,
times a scale, and returns a valid clip of the requested shape. No torch, no weights.

For measuring scheduling over the real pipeline (bench/scheduler_kafka.py): eight of these fit on a CPU
machine where eight GPUs do not. The worker picks it only when REELSTREAM_SIMULATED_RENDER_SCALE is set
(see gpu_consumers.renderers.make_renderer); every job it renders records `simulated` in its settings.

In a gang (gpu_consumers.gang_member) the predicted time is split across the members, as a parallel
renderer would split the work, and every step ends with an all-reduce over the gang's group (the stand-in
for the all-to-alls of sequence parallel): a member that died breaks the others' next step, as it would
on GPUs. Only then is torch imported.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

import numpy as np
import numpy.typing as npt

from gpu_consumers.render.base import (
    DECODE,
    DENOISE,
    ENCODE_TEXT,
    CancelCheck,
    ProgressCallback,
    RenderCanceled,
    RenderedVideo,
    RenderRequest,
)
from gpu_consumers.render.gang import GangContext
from reelstream.cost_model import Shape, work_units
from reelstream.models import FULL, ModelSpec


def simulated_seconds(spec: ModelSpec, shape: Shape, scale: float, tier: str = FULL) -> float:
    """What the cost prior of the model's `tier` predicts for a render of `shape`, times `scale`."""
    return spec.prior_for(tier) * work_units(shape) * scale


class SimulatedRenderer:
    """Serves `spec`'s model (the one the slot advertises) by waiting out the predicted denoising time, step
    by step, so that progress and cancellation behave as a real render's do."""

    def __init__(self, spec: ModelSpec, scale: float) -> None:
        if not scale > 0:
            raise ValueError(f"the simulated render scale must be > 0, got {scale!r}")
        self.spec, self.name, self.scale = spec, spec.id, scale
        self._stop = threading.Event()  # never set: an interruptible wait, not a sleep

    @property
    def settings(self) -> dict[str, str]:
        return {"simulated": f"{self.scale:g}× the cost model's prior"}

    def load(self) -> None:
        return None

    def render(
        self,
        request: RenderRequest,
        on_progress: ProgressCallback,
        is_canceled: CancelCheck,
        *,
        gang: GangContext | None = None,
    ) -> RenderedVideo:
        on_progress(ENCODE_TEXT, 0, 1)
        on_progress(ENCODE_TEXT, 1, 1)
        steps = request.num_inference_steps
        share = gang.world_size if gang is not None else 1
        per_step = simulated_seconds(self.spec, request, self.scale, request.tier) / steps / share
        exchange = _exchange(gang) if gang is not None else None
        for step in range(1, steps + 1):
            self._stop.wait(per_step)  # the simulated GPU time of one denoising step
            if exchange is not None:
                exchange(step)
            on_progress(DENOISE, step, steps)
            if is_canceled():
                raise RenderCanceled(f"canceled after denoise step {step} of {steps}")
        on_progress(DECODE, 0, 1)
        frames = _frames(request)
        on_progress(DECODE, 1, 1)
        return RenderedVideo(frames, request.fps)


def _exchange(gang: GangContext) -> Callable[[int], None]:
    """One all-reduce over the gang per step; raises (RuntimeError) when a member is gone."""
    import torch
    import torch.distributed as dist

    def exchange(step: int) -> None:
        total = torch.tensor([step], dtype=torch.int64)
        dist.all_reduce(total, group=gang.group)
        if int(total.item()) != step * gang.world_size:
            raise RuntimeError(f"the gang is out of step at step {step}")

    return exchange


def _frames(request: RenderRequest) -> npt.NDArray[np.uint8]:
    """A moving gradient, the same for the same seed: cheap to make, and a real clip to encode."""
    t = np.arange(request.num_frames, dtype=np.uint16)[:, None, None]
    y = np.arange(request.height, dtype=np.uint16)[None, :, None]
    x = np.arange(request.width, dtype=np.uint16)[None, None, :]
    base = ((x + y + 4 * t + request.seed % 256) % 256).astype(np.uint8)
    return np.stack([base, base[:, ::-1, :], np.full_like(base, 128)], axis=-1)
