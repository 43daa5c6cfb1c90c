"""The speed and memory levers of a Mochi render, each a setting with a safe default.

`MochiOptions` is what a worker is configured with; `record()` is what every job's artifact carries, so a
render's speed can always be traced back to the levers that were on.

The attention kernel is pinned only around the transformer's joint attention (`pin_attention_kernel`), where
the time goes. Pinning it for the whole render breaks the small masked attentions around it (T5's position
bias, the caption pooling), which no fused kernel runs: on an H100 that is "No available kernel".
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Final

import torch
from torch.nn.attention import SDPBackend, sdpa_kernel

from reelstream.errors import ConfigurationError

# The fast kernels, in the order `auto` prefers them on a GPU. The math fallback materializes the whole
# attention matrix: at full size (44,520 tokens, 24 heads) that is hundreds of GiB, so `auto` never uses it.
ATTENTION_KERNELS: Final[Mapping[str, SDPBackend]] = {
    "cudnn": SDPBackend.CUDNN_ATTENTION,
    "flash": SDPBackend.FLASH_ATTENTION,
    "efficient": SDPBackend.EFFICIENT_ATTENTION,
    "math": SDPBackend.MATH,
}
ATTENTION_CHOICES: Final = ("auto", *ATTENTION_KERNELS)
FAST_KERNELS: Final = ("cudnn", "flash", "efficient")

# Below this much GPU memory the full model (transformer, T5-XXL, VAE in bf16) does not fit with activations.
FULL_MODEL_MIN_GPU_BYTES: Final = 60 * 1024**3


@dataclass(frozen=True)
class MochiOptions:
    attention: str = "auto"
    vae_tiling: bool = True
    compile: bool = False
    tf32: bool = True
    cpu_offload: bool = False
    fp8_linear: bool = (
        False  # torchao float8 rowwise on the blocks' linear layers (gpu_consumers/render/fp8.py)
    )
    fp8_attention: bool = False  # FP8 joint attention (FlashAttention-3's FP8 SDPA, Hopper)

    def __post_init__(self) -> None:
        if self.attention not in ATTENTION_CHOICES:
            raise ConfigurationError(
                f"attention kernel must be one of {', '.join(ATTENTION_CHOICES)}, got {self.attention!r}"
            )

    def record(self) -> dict[str, str]:
        """The levers as strings, for the job's record."""
        return {
            "attention": self.attention,
            "vae_tiling": _flag(self.vae_tiling),
            "compile": _flag(self.compile),
            "tf32": _flag(self.tf32),
            "cpu_offload": _flag(self.cpu_offload),
            "fp8_linear": _flag(self.fp8_linear),
            "fp8_attention": _flag(self.fp8_attention),
        }


def _flag(value: bool) -> str:
    return "on" if value else "off"


def attention_backends(attention: str, device_type: str) -> list[SDPBackend] | None:
    """The SDPA backends a render may use; None leaves PyTorch's own choice (CPU `auto`)."""
    if attention == "auto":
        if device_type == "cuda":
            return [ATTENTION_KERNELS[name] for name in FAST_KERNELS]
        return None
    return [ATTENTION_KERNELS[attention]]


@contextlib.contextmanager
def attention_kernel(attention: str, device_type: str) -> Iterator[None]:
    """Restrict scaled_dot_product_attention to the configured kernel(s) inside the block.

    With one kernel named, an input that kernel cannot run raises instead of silently falling back.
    """
    backends = attention_backends(attention, device_type)
    if backends is None:
        yield
        return
    with sdpa_kernel(backends, set_priority=attention == "auto"):
        yield


class PinnedKernelProcessor:
    """Wraps an attention processor so that its scaled_dot_product_attention calls use only `attention`."""

    def __init__(self, inner: Any, attention: str, device_type: str) -> None:
        self.inner = getattr(inner, "inner", inner)  # never wrap a wrapper
        self.attention = attention
        self.device_type = device_type

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        with attention_kernel(self.attention, self.device_type):
            return self.inner(*args, **kwargs)


def pin_attention_kernel(transformer: torch.nn.Module, attention: str, device_type: str) -> int:
    """Pin the kernel of every joint-attention layer of a Mochi transformer; returns how many were pinned."""
    from diffusers.models.attention_processor import MochiAttention

    layers = [module for module in transformer.modules() if isinstance(module, MochiAttention)]
    for layer in layers:
        layer.processor = PinnedKernelProcessor(layer.processor, attention, device_type)  # type: ignore[assignment]
    return len(layers)


def available_attention_kernels(device: str, head_dim: int = 128) -> list[str]:
    """The fast kernels that run a small bf16 attention of Mochi's head size on `device` (probed)."""
    if not device.startswith("cuda"):
        return []
    q = torch.randn(1, 2, 64, head_dim, device=device, dtype=torch.bfloat16)
    found = []
    for name in FAST_KERNELS:
        try:
            with sdpa_kernel([ATTENTION_KERNELS[name]]):
                torch.nn.functional.scaled_dot_product_attention(q, q, q)
        except RuntimeError:
            continue
        found.append(name)
    return found


def compile_transformer(transformer: torch.nn.Module) -> torch.nn.Module:
    """The transformer's blocks through torch.compile, in place (regional compilation).

    The blocks share their code, so the 48 of them share a compiled graph or two: the whole model compiled
    as one graph took over 3 minutes on an H100 without finishing (bench/mochi_gpu.py). Mochi's joint
    attention picks each sample's valid text tokens with `nonzero`, whose output shape depends on the data:
    by default that breaks the graph twice per block, and a break inside the kernel-pinning context
    (`PinnedKernelProcessor`) sends the whole attention layer back to eager. Traced as a dynamic shape
    instead, it stays in the graph, and prompts of another length reuse the compiled code.
    """
    import torch._dynamo

    torch._dynamo.config.capture_dynamic_output_shape_ops = True
    for block in transformer.transformer_blocks:  # type: ignore[union-attr]
        block.compile()
    return transformer


def apply_tf32(enabled: bool) -> None:
    """TF32 for float32 matmuls and convolutions (bf16 work is unaffected); process-wide."""
    torch.backends.cuda.matmul.allow_tf32 = enabled
    torch.backends.cudnn.allow_tf32 = enabled
