"""A second model family, registered the way a deployment adds one: this module, named in
REELSTREAM_EXTRA_MODELS, declares its `MODELS`; its renderer factory serves it with the simulated renderer
(no torch, no weights). Its limits differ from Mochi's on purpose (size multiple 8, frames 4k+1, at most
2 s), so tests can tell that the limits applied are the model's own."""

from __future__ import annotations

import dataclasses

from gpu_consumers.render.base import Renderer
from gpu_consumers.render.simulated import SimulatedRenderer
from reelstream.models import Bounds, Defaults, FrameRule, Limits, ModelSpec, Preset
from reelstream.settings import RenderSettings

DEFAULT_RENDER_SECONDS = 0.2  # what the simulated renderer takes for a default clip

FAKE_CLIP = ModelSpec(
    id="fake-clip",
    display_name="fake clip (a test double of a second model family)",
    defaults=Defaults(
        width=40, height=24, fps=8, duration_seconds=1.0, num_inference_steps=3, guidance_scale=1.0
    ),
    limits=Limits(
        prompt_chars=100,
        max_duration_seconds=2.0,
        size_multiple=8,
        max_short_side=64,
        max_long_side=96,
        steps=Bounds(1, 8, "steps"),
        guidance_scale=Bounds(0, 2),
        fps=Bounds(4, 12, "frames per second"),
    ),
    presets={"preview": Preset(width=24, height=16, num_inference_steps=1)},
    frame_rule=FrameRule(step=4, offset=1),
    cost_prior=DEFAULT_RENDER_SECONDS / (40 * 24 * 9 * 3),  # 9 frames × 40×24 × 3 steps, no guidance pass
    renderer="tests.fake_model:build_renderer",
    license="none: a test double",
)

# the same family at a larger size: registered with it, but served by no pool in the e2e tests
FAKE_CLIP_HD = dataclasses.replace(
    FAKE_CLIP,
    id="fake-clip-hd",
    display_name="fake clip HD (a test double no pool serves)",
    defaults=dataclasses.replace(FAKE_CLIP.defaults, width=96, height=64),
)

MODELS = (FAKE_CLIP, FAKE_CLIP_HD)


def build_renderer(spec: ModelSpec, device: str, render: RenderSettings) -> Renderer:
    """Renders `spec` as the benchmarks' stand-in does: its cost prior's time, a real clip of the shape."""
    return SimulatedRenderer(spec, 1.0)
