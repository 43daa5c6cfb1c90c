"""The FP8 levers on the CPU: per-head quantization, the attention processor on the tiny transformer
(through the emulated kernel), the start-up refusals. The real kernels run under `gpu` (test_fp8_gpu)."""

from __future__ import annotations

import os

import pytest
import torch
import torch.nn.functional as F

os.environ["HF_HUB_OFFLINE"] = "1"

from gpu_consumers.render.fp8 import (
    FP8_MAX,
    Fp8AttentionProcessor,
    check_fp8,
    emulated_fp8_attention,
    enable_fp8_attention,
    fp8_refusal,
    quantize_per_head,
)
from gpu_consumers.render.mochi import tiny_mochi_renderer
from gpu_consumers.render.options import MochiOptions, pin_attention_kernel
from gpu_consumers.render.tiny_mochi import build_tiny_mochi_pipeline
from reelstream.errors import ConfigurationError

pytestmark = [
    pytest.mark.render,
    pytest.mark.filterwarnings("ignore:In CPU autocast, but the target dtype is not supported:UserWarning"),
]


def test_quantize_per_head_scales_each_head_to_the_format_maximum() -> None:
    generator = torch.Generator().manual_seed(0)
    x = torch.randn(2, 3, 16, 8, generator=generator)
    x[1, 2] *= 1e6  # one loud head must not cost the others their precision
    q, scale = quantize_per_head(x)
    assert q.dtype == torch.float8_e4m3fn
    assert scale.shape == (2, 3)
    assert scale.dtype == torch.float32
    assert torch.allclose(q.float().abs().amax(dim=(-2, -1)), torch.full((2, 3), FP8_MAX))
    restored = q.float() * scale[..., None, None]
    # e4m3 keeps 3 mantissa bits: relative rounding error at most 2^-4 per element, and subnormals are
    # spaced 2^-9 apart: an absolute error of at most half of that times the head's scale
    for b, h in ((0, 0), (1, 2)):
        atol = float(scale[b, h]) * 2**-10
        assert torch.allclose(restored[b, h], x[b, h], rtol=2**-4, atol=atol)
    # one scale for the whole tensor would have flushed the quiet heads to zero
    one_scale = float(x.abs().max()) / FP8_MAX
    flushed = (x[0, 0] / one_scale).to(torch.float8_e4m3fn).float() * one_scale
    assert torch.equal(flushed, torch.zeros_like(flushed))


def test_quantize_per_head_of_zeros() -> None:
    q, scale = quantize_per_head(torch.zeros(1, 1, 4, 4))
    assert torch.equal(q.float(), torch.zeros(1, 1, 4, 4))
    assert bool(torch.all(scale > 0))


def test_emulated_attention_stays_close_to_sdpa() -> None:
    torch.manual_seed(0)
    q, k, v = (torch.randn(1, 4, 64, 32) for _ in range(3))
    exact = F.scaled_dot_product_attention(q, k, v)
    fp8 = emulated_fp8_attention(q, k, v, None)
    error = float((fp8 - exact).norm() / exact.norm())
    assert 0.0 < error < 0.08


def transformer_output(transformer: torch.nn.Module) -> torch.Tensor:
    torch.manual_seed(1)
    config = transformer.config  # type: ignore[attr-defined]
    latents = torch.randn(1, config.in_channels, 2, 8, 8)
    text = torch.randn(1, config.max_sequence_length, config.text_embed_dim)
    mask = torch.zeros(1, config.max_sequence_length, dtype=torch.long)
    mask[:, :5] = 1
    with torch.inference_mode():
        out: torch.Tensor = transformer(
            hidden_states=latents,
            encoder_hidden_states=text,
            timestep=torch.tensor([500.0]),
            encoder_attention_mask=mask,
            return_dict=False,
        )[0]
    return out


def test_processor_runs_every_joint_attention_in_fp8_and_composes_with_pinning() -> None:
    transformer = build_tiny_mochi_pipeline().transformer
    reference = transformer_output(transformer)
    pin_attention_kernel(transformer, "math", "cpu")
    processors = enable_fp8_attention(transformer, "emulated")
    assert len(processors) == 2  # the tiny transformer's two blocks
    fp8 = transformer_output(transformer)
    assert all(p.calls == 1 for p in processors)  # one SDPA per sample per layer
    error = float((fp8 - reference).norm() / reference.norm())
    assert 0.0 < error < 0.1
    # pinning again (the bench does, per kernel) keeps the FP8 processor inside the pin
    pin_attention_kernel(transformer, "math", "cpu")
    assert torch.equal(transformer_output(transformer), fp8)
    assert all(p.calls == 2 for p in processors)
    # enabling twice does not nest (the processors' SDPA calls would be quantized twice)
    again = enable_fp8_attention(transformer, "emulated")
    assert [id(p) for p in again] == [id(p) for p in processors]
    assert torch.equal(transformer_output(transformer), fp8)
    assert all(p.calls == 3 for p in processors)


def test_fp8_attention_compiles_without_graph_breaks() -> None:
    """The worker compiles after apply_fp8: the processor's mode must trace into the blocks' graphs."""
    import torch._dynamo
    from torch._dynamo.utils import counters

    transformer = build_tiny_mochi_pipeline().transformer
    processors = enable_fp8_attention(transformer, "emulated")
    eager = transformer_output(transformer)
    torch._dynamo.reset()
    counters.clear()
    torch._dynamo.config.capture_dynamic_output_shape_ops = True
    for block in transformer.transformer_blocks:
        block.compile(backend="eager")  # Dynamo's tracing as compile_transformer does, no inductor build
    try:
        compiled = transformer_output(transformer)
    finally:
        torch._dynamo.reset()
    assert sum(counters["graph_break"].values()) == 0, dict(counters["graph_break"])
    assert counters["stats"]["unique_graphs"] >= 1
    assert torch.equal(compiled, eager)
    assert all(p.calls == 2 for p in processors)


def test_masked_or_causal_attention_is_left_alone() -> None:
    from gpu_consumers.render.fp8 import _Fp8Sdpa

    q = torch.randn(1, 2, 8, 4)
    mode = _Fp8Sdpa(emulated_fp8_attention)
    with mode:
        causal = F.scaled_dot_product_attention(q, q, q, is_causal=True)
        masked = F.scaled_dot_product_attention(q, q, q, attn_mask=torch.ones(8, 8, dtype=torch.bool))
    assert mode.calls == 0
    assert torch.equal(causal, F.scaled_dot_product_attention(q, q, q, is_causal=True))
    assert torch.equal(masked, F.scaled_dot_product_attention(q, q, q))


def test_unknown_kernel_is_refused() -> None:
    with pytest.raises(ConfigurationError, match="FP8 attention kernel"):
        Fp8AttentionProcessor(object(), "nope")


HOPPER = (9, 0)


@pytest.mark.parametrize(
    ("asked", "machine", "expected"),
    [
        ({}, {"device_type": "cpu", "capability": None}, None),
        (
            {"linear": True},
            {"device_type": "cpu", "capability": None},
            "REELSTREAM_FP8_LINEAR=on needs a CUDA",
        ),
        ({"attention": True}, {"device_type": "cpu", "capability": None}, "FP8_ATTENTION=on needs a CUDA"),
        ({"linear": True}, {"capability": (8, 0)}, "compute capability 8.9+ (Ada, Hopper), this GPU is sm80"),
        ({"linear": True}, {"torchao_error": "No module named 'torchao'"}, "needs torchao"),
        ({"linear": True}, {"capability": (8, 9)}, None),
        (
            {"attention": True},
            {"capability": (8, 9)},
            "needs a Hopper GPU (sm90, FlashAttention-3), this GPU is sm89",
        ),
        ({"attention": True}, {"capability": (10, 0)}, "this GPU is sm100"),
        (
            {"attention": True},
            {"fa3_error": "ModuleNotFoundError"},
            "needs FlashAttention-3 (flash_attn_interface",
        ),
        ({"linear": True, "attention": True}, {}, None),
    ],
)
def test_fp8_refusal(asked: dict[str, bool], machine: dict[str, object], expected: str | None) -> None:
    facts: dict[str, object] = {
        "device_type": "cuda",
        "capability": HOPPER,
        "torchao_error": None,
        "fa3_error": None,
    }
    facts |= machine
    refusal = fp8_refusal(linear=asked.get("linear", False), attention=asked.get("attention", False), **facts)  # type: ignore[arg-type]
    if expected is None:
        assert refusal is None
    else:
        assert refusal is not None
        assert expected in refusal


def test_a_cpu_worker_configured_with_fp8_refuses_to_start() -> None:
    check_fp8(MochiOptions(), "cpu")  # nothing asked: nothing checked
    for options in (MochiOptions(fp8_linear=True), MochiOptions(fp8_attention=True)):
        renderer = tiny_mochi_renderer(options=options)
        with pytest.raises(ConfigurationError, match="needs a CUDA GPU"):
            renderer.load()


def test_levers_are_recorded() -> None:
    record = MochiOptions(fp8_linear=True).record()
    assert record["fp8_linear"] == "on"
    assert record["fp8_attention"] == "off"


def test_settings_reach_the_renderer_options() -> None:
    from gpu_consumers.renderers import mochi_options
    from reelstream.settings import RenderSettings

    options = mochi_options(RenderSettings.from_env({"REELSTREAM_FP8_LINEAR": "on"}))
    assert options.fp8_linear
    assert not options.fp8_attention
    assert mochi_options(RenderSettings.from_env({"REELSTREAM_FP8_ATTENTION": "on"})).fp8_attention
    with pytest.raises(ConfigurationError, match="REELSTREAM_FP8_ATTENTION"):
        RenderSettings.from_env({"REELSTREAM_FP8_ATTENTION": "maybe"})
