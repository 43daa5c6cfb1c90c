"""The FP8 levers on a real GPU: the tiny Mochi renders with each lever on and stays near its bf16 render.

Skipped on the CPU with the reason (torchao's float8 and FlashAttention-3's FP8 SDPA are CUDA kernels);
bench/run_on_gpu.sh runs them on a lent GPU. The full-size figures come from bench/mochi_gpu.py.
"""

from __future__ import annotations

import os

import numpy as np
import pytest
import torch

os.environ["HF_HUB_OFFLINE"] = "1"

from gpu_consumers.render.base import RenderRequest
from gpu_consumers.render.deviation import deviation
from gpu_consumers.render.fp8 import check_fp8
from gpu_consumers.render.mochi import MochiRenderer
from gpu_consumers.render.options import MochiOptions
from gpu_consumers.render.tiny_mochi import MAX_SEQUENCE_LENGTH, build_tiny_mochi_pipeline
from reelstream.errors import ConfigurationError

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(
        not torch.cuda.is_available(), reason="FP8 kernels need a CUDA GPU (sm89+; sm90 for attention)"
    ),
]

REQUEST = RenderRequest(
    prompt="a red boat on the sea at sunset",
    negative_prompt=None,
    width=64,
    height=64,
    num_frames=13,
    fps=10,
    num_inference_steps=4,
    guidance_scale=4.5,
    seed=7,
)


def render(options: MochiOptions) -> np.ndarray:  # type: ignore[type-arg]
    renderer = MochiRenderer(
        lambda: build_tiny_mochi_pipeline(torch.bfloat16),
        device="cuda",
        name="tiny-fp8",
        max_sequence_length=MAX_SEQUENCE_LENGTH,
        options=options,
    )
    renderer.load()
    frames = renderer.render(REQUEST, lambda stage, step, total: None, lambda: False).frames
    return frames


@pytest.mark.parametrize("lever", ["fp8_linear", "fp8_attention"])
def test_fp8_render_stays_near_bf16(lever: str) -> None:
    options = MochiOptions(**{lever: True})
    try:
        check_fp8(options, "cuda")
    except ConfigurationError as exc:
        pytest.skip(f"this GPU cannot run {lever}: {exc}")
    reference = render(MochiOptions())
    frames = render(options)
    measured = deviation(np.zeros(1), np.zeros(1), frames, reference)
    # random tiny weights amplify rounding; the real-weight gate is in the README
    assert measured.frames_psnr_db > 20.0, measured
