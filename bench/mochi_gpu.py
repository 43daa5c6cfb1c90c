"""Full-size Mochi-1 on one GPU, random bf16 weights built from the published configs (nothing downloaded).

    python bench/mochi_gpu.py                      # on a GPU: the whole benchmark in --budget-s (450 s)
    python bench/mochi_gpu.py --dry-run            # every phase on the CPU with the tiny model, in seconds

Prints, one JSON line per measurement (and a table at the end):
  1. seconds per guided denoising step (batch 2) at 848x480x163 frames (--frames), achieved TFLOP/s against
     the GPU's dense bf16 peak, and peak memory, for the first fast attention kernel (--all-kernels: each);
  2. a bf16 reference render at 31 frames and the fast tier's (First-Block Cache), with the deviation;
  3. the same step through torch.compile as the product compiles it: the first call (compilation) and
     seconds per step, against the eager step;
  4. one whole default video (T5-XXL and VAE included) through the product's MochiRenderer, with the time of
     each stage, then the MP4 encode and its verification by decoding;
  5. FP8 (one-way, so last): one step with each FP8 lever the GPU runs, and the deviation from the reference;
  6. VAE decode time and peak memory with and without tiling.
Phases run in that order (bench/mochi_plan.py); one that would not fit in --budget-s is skipped and said so.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import os
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch
from diffusers.models.autoencoders.autoencoder_kl_mochi import AutoencoderKLMochi
from diffusers.models.transformers.transformer_mochi import MochiTransformer3DModel
from diffusers.pipelines.mochi.pipeline_mochi import MochiPipeline
from diffusers.schedulers.scheduling_flow_match_euler_discrete import FlowMatchEulerDiscreteScheduler
from transformers import T5Config, T5EncoderModel

from gpu_consumers.render.base import DECODE, DENOISE, ENCODE_TEXT, RenderRequest
from gpu_consumers.render.mochi import MochiRenderer
from gpu_consumers.render.options import (
    MochiOptions,
    compile_transformer,
    pin_attention_kernel,
)
from gpu_consumers.render.tiny_mochi import build_tiny_tokenizer

# google/t5-v1_1-xxl, the text encoder Mochi-1 ships with (encoder half only: 4.76 B parameters).
T5_XXL = {
    "vocab_size": 32128,
    "d_model": 4096,
    "d_kv": 64,
    "d_ff": 10240,
    "num_layers": 24,
    "num_heads": 64,
    "relative_attention_num_buckets": 32,
    "relative_attention_max_distance": 128,
    "feed_forward_proj": "gated-gelu",
    "layer_norm_epsilon": 1e-6,
    "dropout_rate": 0.0,
    "tie_word_embeddings": False,
    "pad_token_id": 0,
    "eos_token_id": 1,
}
# Dense bf16 tensor-core peaks (no sparsity), TFLOP/s.
PEAK_BF16 = {"H100": 989.0, "H200": 989.0, "A100": 312.0}
PROMPT = (
    "a wide shot of a small red boat on the sea at sunset with the sun over the mountain and a bird flying "
    "over the water and the camera slow and close over the beach at night with rain and snow in the city"
)
SEED = 42
E2E_OVERHEAD_S = 30.0  # text encoding, tiled decode, MP4 encode and verify, at the default size on an H100
MIN_E2E_STEPS = 8
COMPILE_MIN_S = 60.0  # compiling the transformer's blocks: the first call took 26.5 s on an H100


@dataclass
class Bench:
    args: argparse.Namespace
    started: float
    results: list[dict[str, Any]]
    out: Path | None

    def left(self) -> float:
        return self.args.budget_s - (time.perf_counter() - self.started)

    def emit(self, phase: str, **fields: Any) -> None:
        row = {"phase": phase, **fields}
        self.results.append(row)
        print(json.dumps(row), flush=True)
        if self.out is not None:
            with self.out.open("a") as handle:
                handle.write(json.dumps(row) + "\n")


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


@contextlib.contextmanager
def measured(device: torch.device) -> Iterator[dict[str, float]]:
    """Wall seconds and (on CUDA) peak allocated GiB of the block."""
    box: dict[str, float] = {}
    if device.type == "cuda":
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats(device)
    synchronize(device)
    start = time.perf_counter()
    yield box
    synchronize(device)
    box["seconds"] = time.perf_counter() - start
    box["peak_gib"] = torch.cuda.max_memory_allocated(device) / 1024**3 if device.type == "cuda" else 0.0


def build_full_pipeline(device: torch.device) -> MochiPipeline:
    """The published architecture (diffusers' defaults are Mochi-1's configs), random bf16 weights."""
    previous = torch.get_default_dtype()
    torch.set_default_dtype(torch.bfloat16)
    try:
        torch.manual_seed(SEED)
        with device:  # initialize straight on the GPU: 15 B parameters in seconds, no host copy
            transformer = MochiTransformer3DModel()
            vae = AutoencoderKLMochi()
            text_encoder = T5EncoderModel(T5Config(**T5_XXL))
    finally:
        torch.set_default_dtype(previous)
    for model in (transformer, vae, text_encoder):
        model.eval()
    return MochiPipeline(
        scheduler=FlowMatchEulerDiscreteScheduler(),
        vae=vae,
        text_encoder=text_encoder,
        tokenizer=build_tiny_tokenizer(max_length=transformer.config.max_sequence_length),
        transformer=transformer,
    )


def parameters(model: torch.nn.Module) -> float:
    return sum(p.numel() for p in model.parameters()) / 1e9


def step_flops(config: Any, latent_frames: int, latent_h: int, latent_w: int, text_tokens: int) -> float:
    """FLOPs of one guided step (batch 2): linear layers on visual and text tokens, plus joint attention."""
    d = config.num_attention_heads * config.attention_head_dim
    dc = config.pooled_projection_dim
    p = config.patch_size
    visual = latent_frames * (latent_h // p) * (latent_w // p)
    ff, ffc = (4 * d * 2) // 3, (4 * dc * 2) // 3
    per_visual = 4 * d * d + 3 * d * ff  # q, k, v, out; SwiGLU in (2 x ff) and out
    per_text = 4 * dc * d + 3 * dc * ffc
    attention = 2 * (visual + text_tokens) ** 2 * d  # QK^T and AV
    macs = config.num_layers * (visual * per_visual + text_tokens * per_text + attention)
    return 2 * 2 * macs  # 2 FLOPs per MAC, batch 2 for guidance


def latent_shape(pipe: MochiPipeline, frames: int, height: int, width: int) -> tuple[int, int, int]:
    scale = pipe.vae_spatial_scale_factor
    return (frames - 1) // pipe.vae_temporal_scale_factor + 1, height // scale, width // scale


def peak_tflops(device: torch.device, override: float | None) -> float | None:
    if override:
        return override
    if device.type != "cuda":
        return None
    name = torch.cuda.get_device_name(device)
    return next((peak for key, peak in PEAK_BF16.items() if key in name), None)


def guided_text(pipe: MochiPipeline, device: torch.device) -> tuple[torch.Tensor, torch.Tensor, int]:
    """The prompt and the empty negative prompt encoded as one guided batch: embeddings, mask, text tokens."""
    with torch.inference_mode():
        embeds, mask, negative, negative_mask = pipe.encode_prompt(
            PROMPT,
            negative_prompt="",
            device=device,
            dtype=pipe.transformer.dtype,
            max_sequence_length=pipe.tokenizer.model_max_length,
        )
    return torch.cat([negative, embeds]), torch.cat([negative_mask, mask]), int(mask.sum())


@dataclass(frozen=True)
class GuidedStep:
    run: Callable[[], None]
    flops: float
    visual_tokens: int
    text_tokens: int


def guided_step(
    pipe: MochiPipeline, model: Any, device: torch.device, frames: int, args: argparse.Namespace
) -> GuidedStep:
    """One guided denoising step of `model` (the transformer, or a compiled one) at `frames`."""
    config = pipe.transformer.config
    text, text_mask, text_tokens = guided_text(pipe, device)
    lf, lh, lw = latent_shape(pipe, frames, args.height, args.width)
    generator = torch.Generator(device=device).manual_seed(SEED)
    latents = torch.randn(
        2, config.in_channels, lf, lh, lw, generator=generator, device=device, dtype=pipe.transformer.dtype
    )
    timestep = torch.full((2,), 500.0, device=device)

    def step() -> None:
        with torch.inference_mode():
            model(
                hidden_states=latents,
                encoder_hidden_states=text,
                timestep=timestep,
                encoder_attention_mask=text_mask,
                return_dict=False,
            )

    visual = lf * (lh // config.patch_size) * (lw // config.patch_size)
    return GuidedStep(step, step_flops(config, lf, lh, lw, text_tokens), visual, text_tokens)


def speed(bench: Bench, device: torch.device, flops: float, seconds: float) -> dict[str, Any]:
    achieved = flops / seconds / 1e12
    peak = peak_tflops(device, bench.args.peak_tflops)
    return {
        "seconds_per_step": round(seconds, 4),
        "pflop_per_step": round(flops / 1e15, 3),
        "tflops": round(achieved, 1),
        "of_peak": round(achieved / peak, 3) if peak else None,
    }


def phase_steps(
    bench: Bench,
    pipe: MochiPipeline,
    device: torch.device,
    kernel: str,
    frames_list: list[int],
    expected: float = 0.0,
) -> float:
    """Seconds per guided denoising step for each frame count; returns the largest one's."""
    args = bench.args
    # `expected`: seconds per step at the largest size, as another kernel measured it (0: unknown)
    last, last_frames = expected, max(frames_list)
    for frames in frames_list:
        # attention dominates at full size: time grows with the square of the token count
        estimate = last * max(frames / last_frames, 1.0) ** 2 * (args.warmup + args.iters)
        if bench.left() < estimate:
            bench.emit("steps", kernel=kernel, frames=frames, skipped=f"budget ({bench.left():.0f} s left)")
            continue
        step = guided_step(pipe, pipe.transformer, device, frames, args)
        try:
            pin_attention_kernel(pipe.transformer, kernel, device.type)
            for _ in range(args.warmup):
                step.run()
            with measured(device) as m:
                for _ in range(args.iters):
                    step.run()
        except (torch.OutOfMemoryError, RuntimeError) as exc:
            bench.emit("steps", kernel=kernel, frames=frames, error=str(exc).splitlines()[0][:200])
            torch.cuda.empty_cache() if device.type == "cuda" else None
            continue
        seconds = m["seconds"] / args.iters
        bench.emit(
            "steps",
            kernel=kernel,
            frames=frames,
            visual_tokens=step.visual_tokens,
            text_tokens=step.text_tokens,
            **speed(bench, device, step.flops, seconds),
            peak_gib=round(m["peak_gib"], 2),
        )
        last, last_frames = seconds, frames
    return last


def phase_compiled(
    bench: Bench,
    pipe: MochiPipeline,
    device: torch.device,
    kernel: str,
    frames: int,
    eager: float,
    compile_fn: Callable[[torch.nn.Module], torch.nn.Module] = compile_transformer,
) -> None:
    """The transformer as the product compiles it (MochiOptions.compile: `compile_transformer`, its joint
    attention pinned to `kernel`): the first call's seconds (compilation), then seconds per step, against
    `eager` (the same step uncompiled, 0: not measured)."""
    import torch._dynamo
    from torch._dynamo.utils import counters

    args = bench.args
    pin_attention_kernel(pipe.transformer, kernel, device.type)
    torch._dynamo.reset()
    counters.clear()
    compiled = compile_fn(pipe.transformer)
    step = guided_step(pipe, compiled, device, frames, args)
    with measured(device) as first:  # compiles, and warms the compiled code up
        step.run()
    with measured(device) as m:
        for _ in range(args.iters):
            step.run()
    seconds = m["seconds"] / args.iters
    breaks = sum(counters["graph_break"].values())
    bench.emit(
        "compiled",
        kernel=kernel,
        frames=frames,
        first_call_s=round(first["seconds"], 1),
        **speed(bench, device, step.flops, seconds),
        eager_seconds_per_step=round(eager, 4) if eager else None,
        speedup=round(eager / seconds, 3) if eager else None,
        unique_graphs=counters["stats"]["unique_graphs"],
        graph_breaks=breaks,
        break_reasons=sorted({reason.splitlines()[0][:120] for reason in counters["graph_break"]}),
        peak_gib=round(m["peak_gib"], 2),
    )


def phase_e2e(bench: Bench, pipe: MochiPipeline, device: torch.device, kernel: str, steps: int) -> None:
    """One whole default video through the product's renderer, then encode and verify the MP4."""
    args = bench.args
    # compiled when --compile is given: phase_compiled compiled the blocks in place already
    options = MochiOptions(attention=kernel, vae_tiling=True, compile=args.compile and not args.dry_run)
    renderer = MochiRenderer(
        lambda: pipe,
        device=str(device),
        name="bench",
        max_sequence_length=pipe.tokenizer.model_max_length,
        options=options,
    )
    renderer.load()
    request = RenderRequest(
        prompt=PROMPT,
        negative_prompt=None,
        width=args.width,
        height=args.height,
        num_frames=args.e2e_frames,
        fps=30,
        num_inference_steps=steps,
        guidance_scale=4.5,
        seed=SEED,
    )
    marks: dict[tuple[str, int], float] = {}  # (stage, step) -> when the renderer reported it
    decode_peak: list[float] = []

    def on_progress(stage: str, step: int, total: int) -> None:
        if device.type == "cuda":
            synchronize(device)
            if (stage, step) == (DECODE, 0):
                torch.cuda.reset_peak_memory_stats(device)
            elif (stage, step) == (DECODE, 1):
                decode_peak.append(torch.cuda.max_memory_allocated(device) / 1024**3)
        marks[(stage, step)] = time.perf_counter()

    with measured(device) as m:
        video = renderer.render(request, on_progress, lambda: False)
    stages = {
        "encode_text_s": marks[(ENCODE_TEXT, 1)] - marks[(ENCODE_TEXT, 0)],
        "denoise_s": marks[(DENOISE, steps)] - marks[(ENCODE_TEXT, 1)],
        "decode_s": marks[(DECODE, 1)] - marks[(DECODE, 0)],
    }
    row: dict[str, Any] = {
        "kernel": kernel,
        "frames": args.e2e_frames,
        "steps": steps,
        "render_s": round(m["seconds"], 2),
        **{k: round(v, 2) for k, v in stages.items()},
        "seconds_per_step": round(stages["denoise_s"] / steps, 3),
        # what the render would take with all the steps asked for, when fewer fitted the budget
        f"render_s_at_{args.e2e_steps}_steps": round(
            m["seconds"] + stages["denoise_s"] * (args.e2e_steps / steps - 1), 1
        ),
        "peak_gib": round(m["peak_gib"], 2),
        "decode_peak_gib": round(decode_peak[0], 2) if decode_peak else None,
        "settings": options.record(),
    }
    try:
        from gpu_consumers.video import encode_mp4, verify_mp4
    except ImportError as exc:  # PyAV is not on every GPU image
        row["encode"] = f"skipped: {exc}"
    else:
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "video.mp4"
            started = time.perf_counter()
            encode_mp4(video, path)
            info = verify_mp4(path, frames=args.e2e_frames, width=args.width, height=args.height)
            row["encode_verify_s"] = round(time.perf_counter() - started, 2)
            row["mp4_bytes"] = path.stat().st_size
            row["mp4_sha256"] = hashlib.sha256(path.read_bytes()).hexdigest()[:16]
            row["mp4_fps"] = info.fps
    bench.emit("e2e", **row)


def phase_vae(bench: Bench, pipe: MochiPipeline, device: torch.device) -> None:
    args = bench.args
    lf, lh, lw = latent_shape(pipe, args.e2e_frames, args.height, args.width)
    vae = pipe.vae
    z = torch.randn(1, vae.config.latent_channels, lf, lh, lw, device=device, dtype=vae.dtype)
    for tiling in (False, True):  # tiled decode was timed in the whole video already
        if bench.left() < 30:
            bench.emit("vae", tiling=tiling, skipped=f"budget ({bench.left():.0f} s left)")
            continue
        vae.enable_tiling() if tiling else vae.disable_tiling()
        try:
            with torch.inference_mode(), measured(device) as m:
                frames = vae.decode(z, return_dict=False)[0]
            bench.emit(
                "vae",
                tiling=tiling,
                frames=int(frames.shape[2]),
                seconds=round(m["seconds"], 2),
                peak_gib=round(m["peak_gib"], 2),
            )
            del frames
        except (torch.OutOfMemoryError, RuntimeError) as exc:  # cuDNN reports some OOMs as its own errors
            bench.emit("vae", tiling=tiling, error=f"{type(exc).__name__}: " + str(exc).splitlines()[0][:160])
        finally:
            if device.type == "cuda":
                torch.cuda.empty_cache()
    vae.enable_tiling()


def guarded(bench: Bench, phase: str, run: Callable[[], None]) -> None:
    """A phase that fails is reported as a result; the phases after it still run."""
    try:
        run()
    except Exception as exc:
        bench.emit(phase, error=f"{type(exc).__name__}: {str(exc).splitlines()[0][:200] if str(exc) else ''}")
        if torch.cuda.is_available():
            torch.cuda.empty_cache()


def table(results: list[dict[str, Any]]) -> str:
    lines = ["", "kernel     frames  s/step   TFLOP/s  of peak  peak GiB"]
    for r in results:
        if r["phase"] == "steps" and "seconds_per_step" in r:
            lines.append(
                f"{r['kernel']:<10} {r['frames']:>6}  {r['seconds_per_step']:>6.3f}  {r['tflops']:>8.1f}  "
                f"{(r['of_peak'] or 0) * 100:>6.1f}%  {r['peak_gib']:>8.2f}"
            )
    for r in results:
        if r["phase"] == "compiled" and "seconds_per_step" in r:
            lines.append(
                f"compiled ({r['kernel']}, {r['frames']} frames): {r['seconds_per_step']:.3f} s/step, "
                f"{r['tflops']} TFLOP/s, x{r['speedup']} of eager; first call {r['first_call_s']} s"
            )
        if r["phase"] == "e2e" and "render_s" in r:
            lines.append(
                f"whole default video ({r['frames']} frames, {r['steps']} steps, {r['kernel']}): "
                f"render {r['render_s']} s "
                f"= text {r['encode_text_s']} + denoise {r['denoise_s']} + decode {r['decode_s']}; "
                f"encode+verify {r.get('encode_verify_s')} s; peak {r['peak_gib']} GiB"
            )
        if r["phase"] == "fast" and "seconds_per_step" in r:
            lines.append(
                f"fast tier (threshold {r['threshold']}, {r['steps']} steps): x{r['speedup']} of full, "
                f"last block ran {r['last_block_runs']}; latents off by {r['latent_rel_error']}, "
                f"PSNR {r['frames_psnr_db']} dB"
            )
        if r["phase"] == "fp8" and "seconds_per_step" in r:
            lines.append(
                f"FP8 {'+'.join(r['levers'])} ({r['frames']} frames, eager): "
                f"{r['seconds_per_step']:.3f} s/step, "
                f"x{r['speedup']} of bf16; latents off by {r.get('latent_rel_error')}, "
                f"PSNR {r.get('frames_psnr_db')} dB, gate failures {r.get('gate_failures')}"
            )
        if r["phase"] == "vae" and "seconds" in r:
            lines.append(f"VAE decode tiling={r['tiling']}: {r['seconds']} s, peak {r['peak_gib']} GiB")
    return "\n".join(lines)


if __name__ == "__main__":
    # the phases' order and budget, the arguments and the dry run: bench/mochi_plan.py
    from bench.mochi_plan import main

    main()
