"""The speed levers' phases of bench/mochi_gpu.py: the fast tier and FP8, each against a bf16 reference.

Quality is deviation, not quality (random weights): a short render at `--quality-frames`/`--quality-steps`
on the bench's seed, its final latents and decoded frames compared with the bf16 reference render
(gpu_consumers/render/deviation.py). Step times are measured at the largest size where a single step says
something (FP8), and over the short render's denoise where skipping depends on the previous step (the fast
tier's First-Block Cache), with the full-size figure derived from the ratio and marked so.

FP8 quantization is one-way, so `phase_fp8` runs last, after the whole video.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from diffusers.pipelines.mochi.pipeline_mochi import MochiPipeline

from bench.mochi_gpu import COMPILE_MIN_S, PROMPT, SEED, Bench, guided_step, measured, synchronize
from gpu_consumers.render.deviation import GATE, deviation
from gpu_consumers.render.fp8 import check_fp8, enable_fp8_attention, quantize_linear_fp8
from gpu_consumers.render.options import MochiOptions
from reelstream.errors import ConfigurationError


@dataclass(frozen=True)
class ShortRender:
    latents: np.ndarray  # type: ignore[type-arg]
    frames: np.ndarray  # type: ignore[type-arg]  # uint8 (F, H, W, 3)
    seconds_per_step: float  # mean over the denoise (first step excluded: warm-up, cache fill)
    render_s: float


def short_render(bench: Bench, pipe: MochiPipeline, device: torch.device) -> ShortRender:
    """The quality render: the bench's prompt and seed, guided, final latents caught in the step callback."""
    args = bench.args
    box: dict[str, Any] = {"marks": []}

    def on_step(p: MochiPipeline, index: int, timestep: Any, tensors: dict[str, torch.Tensor]) -> Any:
        synchronize(device)
        box["marks"].append(time.perf_counter())
        box["latents"] = tensors["latents"].float().cpu().numpy()
        return tensors

    generator = torch.Generator(device=device).manual_seed(SEED)
    with torch.inference_mode(), measured(device) as m:
        video = pipe(
            prompt=PROMPT,
            negative_prompt="",
            height=args.quality_height,
            width=args.quality_width,
            num_frames=args.quality_frames,
            num_inference_steps=args.quality_steps,
            guidance_scale=4.5,
            generator=generator,
            output_type="np",
            return_dict=False,
            callback_on_step_end=on_step,
            max_sequence_length=pipe.tokenizer.model_max_length,
        )[0]
    marks = box["marks"]
    frames = np.clip(np.rint(np.asarray(video)[0] * 255.0), 0, 255).astype(np.uint8)
    per_step = (marks[-1] - marks[0]) / (len(marks) - 1) if len(marks) > 1 else 0.0
    return ShortRender(box["latents"], frames, per_step, m["seconds"])


def short_render_cost(bench: Bench, per_step_full: float, full_frames: int) -> float:
    """Seconds a short render should take, from the full-size eager step (attention-bound: tokens squared)."""
    args = bench.args
    tokens = (
        (args.quality_frames / full_frames)
        * (args.quality_width * args.quality_height)
        / (args.width * args.height)
    )
    return args.quality_steps * per_step_full * max(tokens, 0.05) ** 1.5 + 10.0


def enable_fast_tier(transformer: torch.nn.Module, threshold: float) -> Callable[[], None]:
    """The fast tier on `transformer`, as the worker configures it (gpu_consumers.render.tiers, which also
    works around diffusers 0.39's cached hook registries); returns what switches it off."""
    from gpu_consumers.render.tiers import disable_cache, enable_first_block_cache

    enable_first_block_cache(transformer, threshold)
    return lambda: disable_cache(transformer)


def count_calls(module: torch.nn.Module) -> tuple[list[int], Callable[[], None]]:
    box = [0]

    def hook(*_: Any) -> None:
        box[0] += 1

    handle = module.register_forward_pre_hook(hook)
    return box, handle.remove


def phase_reference(bench: Bench, pipe: MochiPipeline, device: torch.device) -> ShortRender:
    reference = short_render(bench, pipe, device)
    bench.emit(
        "quality_reference",
        frames=bench.args.quality_frames,
        size=f"{bench.args.quality_width}x{bench.args.quality_height}",
        steps=bench.args.quality_steps,
        seconds_per_step=round(reference.seconds_per_step, 4),
        render_s=round(reference.render_s, 2),
    )
    return reference


def phase_fast(
    bench: Bench, pipe: MochiPipeline, device: torch.device, reference: ShortRender, eager_step: float
) -> None:
    """The fast tier's short render against the full tier's: speed-up, blocks skipped, deviation."""
    # a skipped block is still called (the cache's hook answers for it), its attention is not
    calls, unhook = count_calls(pipe.transformer.transformer_blocks[-1].attn1)
    disable = enable_fast_tier(pipe.transformer, bench.args.fast_threshold)
    try:
        fast = short_render(bench, pipe, device)
    finally:
        disable()
        unhook()
    speedup = reference.seconds_per_step / fast.seconds_per_step if fast.seconds_per_step else None
    measured_dev = deviation(fast.latents, reference.latents, fast.frames, reference.frames)
    bench.emit(
        "fast",
        threshold=bench.args.fast_threshold,
        steps=bench.args.quality_steps,
        seconds_per_step=round(fast.seconds_per_step, 4),
        full_seconds_per_step=round(reference.seconds_per_step, 4),
        speedup=round(speedup, 3) if speedup else None,
        # guided steps run the transformer once on a batch of 2: one attention call per step when computed
        last_block_runs=f"{calls[0]}/{bench.args.quality_steps}",
        derived_full_size_seconds_per_step=round(eager_step / speedup, 3) if speedup and eager_step else None,
        **measured_dev.record(),
    )


def fp8_levers(bench: Bench, device: torch.device) -> tuple[list[str], str, dict[str, str]]:
    """The FP8 levers this machine runs (dry run: emulated attention on the CPU), and why not the others."""
    kernel = "emulated" if device.type != "cuda" else "flash3"
    levers: list[str] = []
    refused: dict[str, str] = {}
    for lever in ("fp8_linear", "fp8_attention"):
        try:
            check_fp8(MochiOptions(**{lever: True}), str(device))
        except ConfigurationError as exc:
            if lever == "fp8_attention" and bench.args.dry_run:
                levers.append(lever)  # the emulated kernel: the processor's code path, FP8 rounding
                continue
            refused[lever] = str(exc)
            continue
        levers.append(lever)
    return levers, kernel, refused


def phase_fp8(
    bench: Bench,
    pipe: MochiPipeline,
    device: torch.device,
    reference: ShortRender | None,
    eager_step: float,
    frames: int,
    compiled_step: float = 0.0,
) -> None:
    """FP8 on (one-way): one eager step at `frames` against the bf16 eager step, and the short render's
    deviation from the bf16 reference. Eager on both sides: compiled blocks are bypassed (force_eager).
    With `compiled_step` (the bf16 compiled step; 0: the blocks are not compiled) and time left, the FP8
    step compiled too (the blocks recompile for the quantized weights)."""
    levers, kernel, refused = fp8_levers(bench, device)
    if not levers:
        bench.emit("fp8", skipped="no FP8 lever runs here", refused=refused)
        return
    started = time.perf_counter()
    quantized = quantize_linear_fp8(pipe.transformer) if "fp8_linear" in levers else 0
    processors = enable_fp8_attention(pipe.transformer, kernel) if "fp8_attention" in levers else []
    setup_s = time.perf_counter() - started
    row: dict[str, Any] = {
        "levers": levers,
        "attention_kernel": kernel if processors else None,
        "linear_layers": quantized,
        "refused": refused,
        "setup_s": round(setup_s, 1),
    }
    with torch.compiler.set_stance("force_eager"):
        step = guided_step(pipe, pipe.transformer, device, frames, bench.args)
        for _ in range(bench.args.warmup):
            step.run()
        with measured(device) as m:
            for _ in range(bench.args.iters):
                step.run()
        seconds = m["seconds"] / bench.args.iters
        row |= {
            "frames": frames,
            "seconds_per_step": round(seconds, 4),
            "bf16_seconds_per_step": round(eager_step, 4) if eager_step else None,
            "speedup": round(eager_step / seconds, 3) if eager_step else None,
            "peak_gib": round(m["peak_gib"], 2),
        }
        if reference is not None and bench.left() > short_render_cost(bench, seconds, frames):
            fp8 = short_render(bench, pipe, device)
            measured_dev = deviation(fp8.latents, reference.latents, fp8.frames, reference.frames)
            row |= measured_dev.record() | {"gate_failures": GATE.failures(measured_dev)}
        else:
            row["deviation"] = f"skipped: budget ({bench.left():.0f} s left) or no reference"
    if compiled_step and bench.left() > COMPILE_MIN_S + 2 * seconds:
        with measured(device) as first:
            step.run()
        with measured(device) as m:
            for _ in range(bench.args.iters):
                step.run()
        compiled = m["seconds"] / bench.args.iters
        row |= {
            "compiled_first_call_s": round(first["seconds"], 1),
            "compiled_seconds_per_step": round(compiled, 4),
            "bf16_compiled_seconds_per_step": round(compiled_step, 4),
            "compiled_speedup": round(compiled_step / compiled, 3),
        }
    elif compiled_step:
        row["compiled"] = f"skipped: budget ({bench.left():.0f} s left)"
    row["fp8_attention_calls"] = sum(p.calls for p in processors)
    bench.emit("fp8", **row)
