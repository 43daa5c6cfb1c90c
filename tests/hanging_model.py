"""A model whose renderer hangs, for the render deadline's end-to-end test: registered like any extra model
(REELSTREAM_EXTRA_MODELS), served by a slot of its own. A prompt containing `stuck` hangs in a way the
render's cancel check cannot reach (a kernel that never returns); any other prompt renders as fake-clip."""

from __future__ import annotations

import dataclasses
import threading

from gpu_consumers.render.base import CancelCheck, ProgressCallback, RenderedVideo, Renderer, RenderRequest
from gpu_consumers.render.simulated import SimulatedRenderer
from reelstream.models import ModelSpec
from reelstream.settings import RenderSettings
from tests.fake_model import FAKE_CLIP

HANGING_CLIP = dataclasses.replace(
    FAKE_CLIP,
    id="fake-hang",
    display_name="fake clip that hangs on request (a test double)",
    renderer="tests.hanging_model:build_renderer",
)

MODELS = (HANGING_CLIP,)


class HangingRenderer(SimulatedRenderer):
    def __init__(self, spec: ModelSpec) -> None:
        super().__init__(spec, 1.0)
        self._never = threading.Event()

    def render(
        self, request: RenderRequest, on_progress: ProgressCallback, is_canceled: CancelCheck
    ) -> RenderedVideo:
        if "stuck" in request.prompt:
            self._never.wait()  # never set: the process ends around it
        return super().render(request, on_progress, is_canceled)


def build_renderer(spec: ModelSpec, device: str, render: RenderSettings) -> Renderer:
    return HangingRenderer(spec)
