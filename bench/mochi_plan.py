"""The GPU benchmark's plan: its arguments, the dry run, and the phases in order within one time budget.

The entry point is bench/mochi_gpu.py (whose docstring lists the phases); the phases are there and in
bench/mochi_levers.py. This module decides what runs, in what order, and what is skipped for the budget.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import torch

from bench import mochi_gpu
from bench.mochi_gpu import (
    COMPILE_MIN_S,
    E2E_OVERHEAD_S,
    MIN_E2E_STEPS,
    Bench,
    build_full_pipeline,
    guarded,
    measured,
    parameters,
    peak_tflops,
    phase_compiled,
    phase_e2e,
    phase_steps,
    phase_vae,
    table,
)
from bench.mochi_levers import ShortRender, phase_fast, phase_fp8, phase_reference, short_render_cost
from gpu_consumers.render.options import available_attention_kernels, compile_transformer
from gpu_consumers.render.tiny_mochi import build_tiny_mochi_pipeline


def compile_with_eager_backend(transformer: torch.nn.Module) -> torch.nn.Module:
    """The dry run's compile: Dynamo traces the blocks as the product's does, no inductor build (seconds)."""
    import torch._dynamo

    torch._dynamo.config.capture_dynamic_output_shape_ops = True
    for block in transformer.transformer_blocks:  # type: ignore[union-attr]
        block.compile(backend="eager")
    return transformer


DRY_RUN = {  # --dry-run: every phase's code path on the CPU with the tiny model, in seconds
    "preset": "tiny",
    "device": "cpu",
    "frames": "7",
    "width": 32,
    "height": 32,
    "e2e_frames": 7,
    "e2e_steps": 2,
    "quality_frames": 7,
    "quality_width": 32,
    "quality_height": 32,
    "quality_steps": 4,
    "fast_threshold": 0.5,  # the tiny model skips blocks only from about here (STACK-FACTS)
    "compile": True,
    "budget_s": 600.0,
}


def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=mochi_gpu.__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--dry-run", action="store_true", help="the tiny model on the CPU, every phase")
    parser.add_argument("--preset", choices=("full", "tiny"), default="full")
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--frames", default="163", help="frame counts for the eager step timings")
    parser.add_argument("--width", type=int, default=848)
    parser.add_argument("--height", type=int, default=480)
    parser.add_argument("--kernels", default="", help="comma list; default: the first fast kernel that runs")
    parser.add_argument("--all-kernels", action="store_true", help="time every fast kernel that runs")
    parser.add_argument("--warmup", type=int, default=1)
    parser.add_argument("--iters", type=int, default=1)
    parser.add_argument("--e2e-frames", type=int, default=163)
    parser.add_argument("--e2e-steps", type=int, default=64)
    parser.add_argument(
        "--quality-frames", type=int, default=31, help="the deviation renders' size and steps"
    )
    parser.add_argument("--quality-width", type=int, default=848)
    parser.add_argument("--quality-height", type=int, default=480)
    parser.add_argument("--quality-steps", type=int, default=12)
    parser.add_argument("--fast-threshold", type=float, default=0.1, help="the fast tier's First-Block Cache")
    parser.add_argument("--skip-e2e", action="store_true")
    parser.add_argument("--skip-vae", action="store_true")
    parser.add_argument("--skip-quality", action="store_true", help="no reference, fast-tier or FP8 renders")
    parser.add_argument("--skip-fp8", action="store_true")
    parser.add_argument("--no-compile", dest="compile", action="store_false", help="no compiled phase")
    parser.add_argument("--budget-s", type=float, default=450.0, help="skip phases that would not fit")
    parser.add_argument("--peak-tflops", type=float, default=None)
    parser.add_argument("--json", type=Path, default=None, help="append each result line here too")
    args = parser.parse_args(argv)
    if args.dry_run:
        for key, value in DRY_RUN.items():
            setattr(args, key, value)
    return args


def main(argv: list[str] | None = None) -> None:
    args = parse(argv)
    device = torch.device(args.device)
    bench = Bench(args, time.perf_counter(), [], args.json)
    frames_list = [int(f) for f in args.frames.split(",") if f]
    largest = max(frames_list)

    with measured(device) as m:
        if args.preset == "full":
            pipe = build_full_pipeline(device)
        else:
            pipe = build_tiny_mochi_pipeline()
            pipe.to(device)
    pipe.set_progress_bar_config(disable=True)
    kernels = (
        [k for k in args.kernels.split(",") if k] or available_attention_kernels(str(device)) or ["auto"]
    )
    bench.emit(
        "setup",
        device=torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu",
        torch=torch.__version__,
        build_s=round(m["seconds"], 1),
        params_b={
            "transformer": round(parameters(pipe.transformer), 3),
            "text_encoder": round(parameters(pipe.text_encoder), 3),
            "vae": round(parameters(pipe.vae), 3),
        },
        weights_gib=round(m["peak_gib"], 2),
        kernels=kernels,
        peak_tflops=peak_tflops(device, args.peak_tflops),
        budget_s=args.budget_s,
        dry_run=args.dry_run,
    )
    # The budget, in order: 1. the eager step (the first kernel that runs at every size), 2. the bf16
    # reference and the fast tier's short renders, 3. the compiled step (paying the compilation the video
    # reuses), 4. the whole compiled video with every step that fits, keeping FP8's reserve, 5. FP8 (one-way:
    # quantized in place), 6. the VAE alone if time is left. Each skip is a JSON line that says why.
    measured_kernels: list[str] = []
    per_step = 0.0
    for kernel in kernels:
        per_step = phase_steps(bench, pipe, device, kernel, frames_list)
        measured_kernels.append(kernel)
        if per_step > 0:
            break
    fastest = measured_kernels[-1]
    if args.all_kernels:
        for kernel in kernels[len(measured_kernels) :]:
            phase_steps(bench, pipe, device, kernel, frames_list[::-1], expected=per_step)
    if per_step <= 0:
        bench.emit("budget", stopped="no kernel ran the eager step")
        print(table(bench.results), flush=True)
        return
    quality_s = short_render_cost(bench, per_step, largest)
    quality = not args.skip_quality
    fp8_reserve = (
        (args.warmup + args.iters) * per_step + quality_s + 15.0 if quality and not args.skip_fp8 else 0.0
    )
    box: dict[str, ShortRender] = {}
    for phase, run in (
        ("quality_reference", lambda: box.update(reference=phase_reference(bench, pipe, device))),
        ("fast", lambda: phase_fast(bench, pipe, device, box["reference"], per_step)),
    ):
        if not quality or (phase == "fast" and "reference" not in box):
            bench.emit(phase, skipped="--skip-quality" if not quality else "no reference render")
        elif bench.left() < quality_s + fp8_reserve:
            bench.emit(phase, skipped=f"budget ({bench.left():.0f} s left, needs {quality_s:.0f} s)")
        else:
            guarded(bench, phase, run)
    if args.compile:
        if bench.left() > COMPILE_MIN_S + (args.iters + 1) * per_step + fp8_reserve:
            compile_fn = compile_with_eager_backend if args.dry_run else compile_transformer
            guarded(
                bench,
                "compiled",
                lambda: phase_compiled(bench, pipe, device, fastest, largest, per_step, compile_fn),
            )
        else:
            bench.emit("compiled", skipped=f"budget ({bench.left():.0f} s left)")
    compiled = [r["seconds_per_step"] for r in bench.results if r["phase"] == "compiled" and "tflops" in r]
    compiled_step = compiled[-1] if compiled else 0.0
    if not args.skip_e2e:
        # the whole video if it fits; else as many steps as fit (its denoise time is then scaled, and said so)
        e2e_step = compiled_step or per_step
        fits = int((bench.left() - E2E_OVERHEAD_S - fp8_reserve) / e2e_step)
        steps = min(args.e2e_steps, fits)
        if steps >= min(MIN_E2E_STEPS, args.e2e_steps):
            guarded(bench, "e2e", lambda: phase_e2e(bench, pipe, device, fastest, steps))
        else:
            bench.emit("e2e", skipped=f"{bench.left():.0f} s left, {e2e_step:.1f} s per step")
    if quality and not args.skip_fp8:
        if bench.left() > (args.warmup + args.iters) * per_step + 15.0:
            reference = box.get("reference")
            guarded(
                bench,
                "fp8",
                lambda: phase_fp8(bench, pipe, device, reference, per_step, largest, compiled_step),
            )
        else:
            bench.emit("fp8", skipped=f"budget ({bench.left():.0f} s left)")
    if not args.skip_vae:
        guarded(bench, "vae", lambda: phase_vae(bench, pipe, device))
    bench.emit("budget", budget_s=args.budget_s, used_s=round(time.perf_counter() - bench.started, 1))
    print(table(bench.results), flush=True)
