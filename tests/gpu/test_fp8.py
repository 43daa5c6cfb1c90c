"""The FP8 levers on a real GPU: the FP8 attention kernel at Mochi's head size against bf16 SDPA (and against
the emulated kernel the CPU tests use), and the tiny Mochi rendered with float8 linears near its bf16 render.

Skipped on the CPU with the reason (torchao's float8 and FlashAttention-3's FP8 SDPA are CUDA kernels), and on
a GPU that cannot run a lever, with the start-up check's refusal as the reason. bench/run_on_gpu.sh runs them
on a lent GPU; the full-size figures come from bench/mochi_gpu.py.
"""

from __future__ import annotations

import os

import numpy as np
import numpy.typing as npt
import pytest
import torch
import torch.nn.functional as F

os.environ["HF_HUB_OFFLINE"] = "1"

from gpu_consumers.render.base import RenderRequest
from gpu_consumers.render.deviation import psnr, relative_error
from gpu_consumers.render.fp8 import check_fp8, emulated_fp8_attention, flash3_fp8_attention
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


def require(options: MochiOptions) -> None:
    try:
        check_fp8(options, "cuda")
    except ConfigurationError as exc:
        pytest.skip(f"this GPU refuses it: {exc}")


def render(options: MochiOptions) -> npt.NDArray[np.uint8]:
    renderer = MochiRenderer(
        lambda: build_tiny_mochi_pipeline(torch.bfloat16),
        device="cuda",
        name="tiny-fp8",
        max_sequence_length=MAX_SEQUENCE_LENGTH,
        options=options,
    )
    renderer.load()
    return renderer.render(REQUEST, lambda stage, step, total: None, lambda: False).frames


def test_fp8_attention_kernel_at_mochi_head_size() -> None:
    require(MochiOptions(fp8_attention=True))
    generator = torch.Generator(device="cuda").manual_seed(0)
    q, k, v = (
        torch.randn(1, 24, 2048, 128, device="cuda", dtype=torch.bfloat16, generator=generator)
        for _ in range(3)
    )
    with torch.inference_mode():
        exact = F.scaled_dot_product_attention(q, k, v).float().cpu().numpy()
        fp8 = flash3_fp8_attention(q, k, v, None).float().cpu().numpy()
        emulated = emulated_fp8_attention(q, k, v, None).float().cpu().numpy()
    assert relative_error(fp8, exact) < 0.05
    # the CPU tests' emulation rounds the inputs as the kernel does; the kernel adds its FP8 P·V on top
    assert relative_error(fp8, emulated) < 0.05


def test_fp8_linear_render_stays_near_bf16() -> None:
    require(MochiOptions(fp8_linear=True))
    reference = render(MochiOptions())
    frames = render(MochiOptions(fp8_linear=True))
    # random tiny weights amplify rounding; the real-weight gate is in the README
    assert psnr(frames, reference) > 20.0
