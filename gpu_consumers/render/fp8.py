"""FP8 levers of a Mochi render: float8 linear layers and FP8 joint attention, each behind a setting.

- **Linear** (`REELSTREAM_FP8_LINEAR`): torchao's float8 inference quantization with rowwise scales
  (`Float8DynamicActivationFloat8WeightConfig(granularity=PerRow())`) on the linear layers of the
  transformer's blocks, where the non-attention FLOPs are. torchao is an optional dependency (the `gpu`
  extra) imported only when the lever is on; it needs CUDA compute capability 8.9 or newer.
- **Attention** (`REELSTREAM_FP8_ATTENTION`): Mochi's processor calls `scaled_dot_product_attention` once per
  sample on that sample's valid tokens. `Fp8AttentionProcessor` wraps the layer's processor and, while it
  runs, sends those calls to an FP8 kernel: q, k and v quantized to float8_e4m3 with one scale per (sample,
  head), the scales handed to the kernel as descales. The kernel on a GPU is PyTorch's FP8 SDPA
  (`_scaled_dot_product_attention_quantized`, FlashAttention-3, Hopper only: it needs FA3's
  `flash_attn_interface` module installed). `emulated` quantizes and dequantizes around the ordinary SDPA:
  the same rounding on any device, used by the CPU tests and the bench's dry run.

A worker configured with a lever its machine cannot run refuses to start (`ConfigurationError`), it never
renders silently in bf16. Quantizing is one-way: `apply_fp8` runs once, in `MochiRenderer.load`, before
compilation. The attention processor composes with `PinnedKernelProcessor` in either order: calls the FP8
kernel does not take (a mask, dropout, causal) still go to the pinned kernel.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, Final

import torch
import torch.nn.functional as F
from torch.overrides import TorchFunctionMode

from reelstream.errors import ConfigurationError

if TYPE_CHECKING:
    from gpu_consumers.render.options import MochiOptions

FP8_MAX: Final = float(torch.finfo(torch.float8_e4m3fn).max)  # 448
LINEAR_MIN_CAPABILITY: Final = (8, 9)  # Ada / Hopper: float8 tensor cores
FA3_CAPABILITY_MAJOR: Final = 9  # FlashAttention-3 runs on Hopper only
FA3_MODULE: Final = "flash_attn_interface"
_TINY: Final = 1e-12

# q, k, v (batch, heads, tokens, head_dim), softmax scale or None -> attention output in q's dtype
Fp8Kernel = Callable[[torch.Tensor, torch.Tensor, torch.Tensor, float | None], torch.Tensor]


def quantize_per_head(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """`x` (batch, heads, tokens, dim) as float8_e4m3 with one float32 scale per (batch, head).

    The scale maps each head's largest magnitude onto the format's largest finite value (448), so nothing
    saturates; `x ≈ q.float() * scale[..., None, None]` (the scale is the kernel's descale).
    """
    amax = x.detach().abs().amax(dim=(-2, -1)).float()
    scale = amax.clamp(min=_TINY) / FP8_MAX
    scaled = (x.float() / scale[..., None, None]).clamp(-FP8_MAX, FP8_MAX)
    return scaled.to(torch.float8_e4m3fn), scale


def dequantize_per_head(q: torch.Tensor, scale: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    return (q.float() * scale[..., None, None]).to(dtype)


def emulated_fp8_attention(
    query: torch.Tensor, key: torch.Tensor, value: torch.Tensor, scale: float | None
) -> torch.Tensor:
    """FP8 rounding of q, k, v (per head) around the ordinary SDPA: the numerics of the inputs, any device."""
    q, k, v = (dequantize_per_head(*quantize_per_head(t), query.dtype) for t in (query, key, value))
    return F.scaled_dot_product_attention(q, k, v, scale=scale)


def flash3_fp8_attention(
    query: torch.Tensor, key: torch.Tensor, value: torch.Tensor, scale: float | None
) -> torch.Tensor:
    """PyTorch's FP8 SDPA (FlashAttention-3 on Hopper; `check_fp8` activated it) with per-head descales."""
    from torch.nn.attention.experimental._scaled_dot_product_attention_quantized import (
        _scaled_dot_product_attention_quantized,
    )

    (q, q_descale), (k, k_descale), (v, v_descale) = (
        quantize_per_head(t.contiguous()) for t in (query, key, value)
    )
    out = _scaled_dot_product_attention_quantized(
        q, k, v, scale=scale, q_descale=q_descale, k_descale=k_descale, v_descale=v_descale
    )
    return out.to(query.dtype)


FP8_KERNELS: Final[Mapping[str, Fp8Kernel]] = {
    "flash3": flash3_fp8_attention,
    "emulated": emulated_fp8_attention,
}


def _plain_attention(
    args: tuple[Any, ...], kwargs: Mapping[str, Any]
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, float | None] | None:
    """q, k, v and the scale of an SDPA call the FP8 kernels can take (no mask, dropout, causal or GQA)."""
    names = ("query", "key", "value", "attn_mask", "dropout_p", "is_causal")
    call = dict(zip(names, args, strict=False)) | dict(kwargs)
    if call.get("attn_mask") is not None or call.get("dropout_p", 0.0) or call.get("is_causal", False):
        return None
    if call.get("enable_gqa", False):
        return None
    query, key, value = call["query"], call["key"], call["value"]
    if query.dim() != 4 or not (query.dtype == key.dtype == value.dtype) or query.shape[1] != key.shape[1]:
        return None
    return query, key, value, call.get("scale")


class _Fp8Sdpa(TorchFunctionMode):
    """Sends plain `scaled_dot_product_attention` calls to an FP8 kernel; everything else runs as it was."""

    def __init__(self, kernel: Fp8Kernel) -> None:
        super().__init__()
        self.kernel = kernel
        self.calls = 0

    def __torch_function__(
        self,
        func: Any,
        types: Any,
        args: tuple[Any, ...] = (),
        kwargs: dict[str, Any] | None = None,
    ) -> Any:
        kwargs = kwargs or {}
        if func is F.scaled_dot_product_attention:
            plain = _plain_attention(args, kwargs)
            if plain is not None:
                self.calls += 1
                return self.kernel(*plain)
        return func(*args, **kwargs)


class Fp8AttentionProcessor:
    """Wraps an attention processor so that its plain SDPA calls run in FP8 (`kernel`: a FP8_KERNELS key).

    The wrapped processor is `wrapped`, not `inner`: `PinnedKernelProcessor` unwraps an `inner`, and
    pinning after this must keep it.
    """

    def __init__(self, wrapped: Any, kernel: str) -> None:
        if kernel not in FP8_KERNELS:
            raise ConfigurationError(
                f"FP8 attention kernel must be one of {', '.join(FP8_KERNELS)}, got {kernel!r}"
            )
        self.wrapped = wrapped
        self.kernel = kernel
        self.calls = 0  # SDPA calls that ran in FP8 (tests and the bench read it)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        mode = _Fp8Sdpa(FP8_KERNELS[self.kernel])
        with mode:
            result = self.wrapped(*args, **kwargs)
        self.calls += mode.calls
        return result


def enable_fp8_attention(transformer: torch.nn.Module, kernel: str) -> list[Fp8AttentionProcessor]:
    """Every joint-attention layer of a Mochi transformer through FP8 `kernel`; returns the processors."""
    from diffusers.models.attention_processor import MochiAttention

    processors = []
    for layer in transformer.modules():
        if isinstance(layer, MochiAttention):
            processor = _find_fp8(layer.processor)
            if processor is None:  # never wrap twice, nor under a wrapper (PinnedKernelProcessor)
                processor = Fp8AttentionProcessor(layer.processor, kernel)
                layer.processor = processor  # type: ignore[assignment]
            processor.kernel = kernel
            processors.append(processor)
    return processors


def _find_fp8(processor: Any) -> Fp8AttentionProcessor | None:
    """The FP8 processor in a chain of wrappers (`inner`, `wrapped`), if there is one."""
    while processor is not None:
        if isinstance(processor, Fp8AttentionProcessor):
            return processor
        processor = getattr(processor, "inner", None) or getattr(processor, "wrapped", None)
    return None


def _is_block_linear(module: torch.nn.Module, fqn: str) -> bool:
    """The linear layers of the transformer's blocks whose sizes the float8 GEMM takes (multiples of 16)."""
    return (
        isinstance(module, torch.nn.Linear)
        and fqn.startswith("transformer_blocks.")
        and module.in_features % 16 == 0
        and module.out_features % 16 == 0
    )


def quantize_linear_fp8(transformer: torch.nn.Module) -> int:
    """torchao float8 (dynamic activations, rowwise scales) on the blocks' linear layers, in place."""
    from torchao.quantization import Float8DynamicActivationFloat8WeightConfig, PerRow, quantize_

    count = sum(1 for name, module in transformer.named_modules() if _is_block_linear(module, name))
    quantize_(
        transformer,
        Float8DynamicActivationFloat8WeightConfig(granularity=PerRow()),
        filter_fn=_is_block_linear,
    )
    return count


def fp8_refusal(
    *,
    linear: bool,
    attention: bool,
    device_type: str,
    capability: tuple[int, int] | None,
    torchao_error: str | None,
    fa3_error: str | None,
) -> str | None:
    """Why this machine cannot run the FP8 levers asked for (None: it can). Pure: the checks in one place."""
    asked = [
        name
        for name, on in (("REELSTREAM_FP8_LINEAR", linear), ("REELSTREAM_FP8_ATTENTION", attention))
        if on
    ]
    if not asked:
        return None
    if device_type != "cuda" or capability is None:
        verb = "needs" if len(asked) == 1 else "need"
        return f"{'=on and '.join(asked)}=on {verb} a CUDA GPU (the device is {device_type}); switch it off"
    sm = f"sm{capability[0]}{capability[1]}"
    if linear and capability < LINEAR_MIN_CAPABILITY:
        return f"REELSTREAM_FP8_LINEAR=on needs compute capability 8.9+ (Ada, Hopper), this GPU is {sm}"
    if linear and torchao_error is not None:
        return f"REELSTREAM_FP8_LINEAR=on needs torchao (pip install 'reelstream[gpu]'): {torchao_error}"
    if attention and capability[0] != FA3_CAPABILITY_MAJOR:
        return f"REELSTREAM_FP8_ATTENTION=on needs a Hopper GPU (sm90, FlashAttention-3), this GPU is {sm}"
    if attention and fa3_error is not None:
        return (
            f"REELSTREAM_FP8_ATTENTION=on needs FlashAttention-3 ({FA3_MODULE}, its Hopper build) "
            f"registered with PyTorch: {fa3_error}"
        )
    return None


def _import_error(module: str) -> str | None:
    try:
        importlib.import_module(module)
    except ImportError as exc:
        return str(exc)
    return None


def _activate_fa3() -> str | None:
    """Register FlashAttention-3 as PyTorch's flash kernel (the FP8 SDPA needs it); None when it worked."""
    from torch.nn.attention import activate_flash_attention_impl, current_flash_attention_impl

    if current_flash_attention_impl() == "FA3":
        return None
    try:
        activate_flash_attention_impl("FA3")
    except (ImportError, RuntimeError, ValueError) as exc:
        return f"{type(exc).__name__}: {exc}"
    return None


def check_fp8(options: MochiOptions, device: str) -> None:
    """Raise ConfigurationError unless this machine runs every FP8 lever `options` asks for."""
    if not (options.fp8_linear or options.fp8_attention):
        return
    device_type = torch.device(device).type
    cuda = device_type == "cuda" and torch.cuda.is_available()
    capability = torch.cuda.get_device_capability(device) if cuda else None
    refusal = fp8_refusal(
        linear=options.fp8_linear,
        attention=options.fp8_attention,
        device_type="cuda, but no GPU is visible" if device_type == "cuda" and not cuda else device_type,
        capability=capability,
        torchao_error=_import_error("torchao.quantization") if options.fp8_linear else None,
        fa3_error=_activate_fa3() if options.fp8_attention and cuda else None,
    )
    if refusal is not None:
        raise ConfigurationError(refusal)


def apply_fp8(transformer: torch.nn.Module, options: MochiOptions, device: str) -> None:
    """The one FP8 step of `MochiRenderer.load`: check the machine, then quantize and wrap as configured."""
    check_fp8(options, device)
    if options.fp8_linear:
        quantize_linear_fp8(transformer)
    if options.fp8_attention:
        enable_fp8_attention(transformer, "flash3")
