"""The seam between the worker loop and a model: what a renderer is given and what it returns."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np
import numpy.typing as npt

from gpu_consumers.render.gang import GangContext
from reelstream.errors import ReelstreamError
from reelstream.models import FULL

# Stage names are the `RenderStage` symbols of the Avro contract (schemas/avro).
ENCODE_TEXT = "encode_text"
DENOISE = "denoise"
DECODE = "decode"
ENCODE_VIDEO = "encode_video"
UPLOAD = "upload"


@dataclass(frozen=True)
class RenderRequest:
    """Fully resolved parameters of one render; only `tier` has a default, the tier every model has."""

    prompt: str
    negative_prompt: str | None
    width: int
    height: int
    num_frames: int
    fps: int
    num_inference_steps: int
    guidance_scale: float
    seed: int
    tier: str = FULL  # how the steps run: the model's `Tier` (reelstream.models) by name


@dataclass(frozen=True)
class RenderedVideo:
    """Frames as uint8 RGB, shape (num_frames, height, width, 3); `settings`: what this render ran with
    beyond the renderer's own levers (e.g. its tier's cache), for the artifact's record."""

    frames: npt.NDArray[np.uint8]
    fps: int
    settings: Mapping[str, str] = field(default_factory=dict)


# on_progress(stage, step, total): step/total count denoising steps; other stages report (0, 1) then (1, 1).
ProgressCallback = Callable[[str, int, int], None]
CancelCheck = Callable[[], bool]


class RenderCanceled(ReelstreamError):
    """Raised inside a render when its cancel check turned true; the render stops at the next step."""

    code = "canceled"


class RenderTimeout(ReelstreamError):
    """The render ran past its deadline (reelstream.cost_model.RenderDeadline) and was stopped at a step
    boundary: the slot is free again; the scheduler retries the job once, on another slot if it can."""

    code = "render_timeout"
    retriable = True


class RenderError(ReelstreamError):
    """A render that failed for a reason of its own (bad parameters, model error, out of memory)."""

    code = "render_failed"


class DeviceLost(ReelstreamError):
    """The GPU's context is broken: every later job would fail. The worker reports the attempt as failed
    (retriable elsewhere) and exits, so its orchestrator restarts it on a fresh context."""

    code = "device_lost"
    retriable = True


class RenderStuck(DeviceLost):
    """A render past its deadline that did not stop within the grace period: its thread cannot be stopped,
    so the attempt is reported `render_timeout` and the worker process ends (its supervisor restarts it)."""

    code = "render_timeout"


class Renderer(Protocol):
    name: str

    @property
    def settings(self) -> dict[str, str]:
        """The levers this renderer runs with (attention kernel, VAE tiling, ...), for every job's record."""
        ...

    def load(self) -> None:
        """Load weights once, at worker start-up (never per job); fail loudly if weights are missing."""

    def render(
        self,
        request: RenderRequest,
        on_progress: ProgressCallback,
        is_canceled: CancelCheck,
        *,
        gang: GangContext | None = None,
    ) -> RenderedVideo:
        """Blocking; run it in a worker thread. Raises RenderCanceled or RenderError.

        With a `gang`, every member calls this with the same request; only the leader's video is used."""
        ...
