"""Which renderer a worker runs, by the model name it serves (the name slots advertise to the scheduler)."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING

from gpu_consumers.render.base import Renderer, RenderRequest
from reelstream.errors import ConfigurationError

if TYPE_CHECKING:
    from diffusers.pipelines.mochi.pipeline_mochi import MochiPipeline

    from gpu_consumers.render.model_dir import ModelDir
    from gpu_consumers.render.options import MochiOptions

logger = logging.getLogger(__name__)
_TRUE, _FALSE = ("1", "on", "true", "yes"), ("0", "off", "false", "no")


def make_renderer(model: str, device: str, env: Mapping[str, str]) -> Renderer:
    """No weights are loaded here (that is `Renderer.load()`, at start-up), but a bad model folder or a bad
    setting fails here, before the worker joins its pool. REELSTREAM_SIMULATED_RENDER_SCALE (benchmarks
    only) serves `model` with a stand-in that waits out the cost model's prior times the scale."""
    simulated = env.get("REELSTREAM_SIMULATED_RENDER_SCALE", "").strip()
    if simulated:
        return _simulated(model, simulated)
    from gpu_consumers.render.mochi import MochiRenderer, tiny_mochi_renderer

    options = mochi_options(env)
    if model == "tiny-mochi":
        renderer = tiny_mochi_renderer(device=device, options=options)
        renderer.warmup = warmup_request(model)
        return renderer
    if model == "mochi-1":
        from gpu_consumers.render.model_dir import check_model_dir, resolve_model_dir

        folder = check_model_dir(
            resolve_model_dir(env.get("REELSTREAM_MODEL_DIR"), env.get("REELSTREAM_MODEL_ID"))
        )
        _check_gpu_memory(device, options)
        return MochiRenderer(
            lambda: _load_mochi(folder),
            device=device,
            name=model,
            options=options,
            warmup=warmup_request(model),
        )
    raise ConfigurationError(f"no renderer for model {model!r}")


def _simulated(model: str, scale: str) -> Renderer:
    from gpu_consumers.render.simulated import SimulatedRenderer

    try:
        renderer = SimulatedRenderer(model, float(scale))
    except ValueError as exc:
        raise ConfigurationError(f"REELSTREAM_SIMULATED_RENDER_SCALE={scale!r}: {exc}") from exc
    logger.warning("renders are SIMULATED (a benchmark setting): %s", renderer.settings["simulated"])
    return renderer


def warmup_request(model: str) -> RenderRequest:
    """The model's default render: what a compiled model is warmed up on at start-up (a few steps of it)."""
    from reelstream.params import MODELS, frames_for

    spec = MODELS[model]
    return RenderRequest(
        prompt="warm-up",
        negative_prompt=None,
        width=spec.width,
        height=spec.height,
        num_frames=frames_for(spec.duration_seconds, spec.fps),
        fps=spec.fps,
        num_inference_steps=spec.num_inference_steps,
        guidance_scale=spec.guidance_scale,
        seed=0,
    )


def mochi_options(env: Mapping[str, str]) -> MochiOptions:
    """REELSTREAM_ATTENTION, _VAE_TILING, _COMPILE, _TF32, _CPU_OFFLOAD (each on/off)."""
    from gpu_consumers.render.options import MochiOptions

    return MochiOptions(
        attention=env.get("REELSTREAM_ATTENTION", "auto"),
        vae_tiling=_flag(env, "REELSTREAM_VAE_TILING", True),
        compile=_flag(env, "REELSTREAM_COMPILE", False),
        tf32=_flag(env, "REELSTREAM_TF32", True),
        cpu_offload=_flag(env, "REELSTREAM_CPU_OFFLOAD", False),
    )


def _check_gpu_memory(device: str, options: MochiOptions) -> None:
    """The full model with its activations needs about 60 GB; below that, offloading must be asked for."""
    import torch

    from gpu_consumers.render.options import FULL_MODEL_MIN_GPU_BYTES

    if not device.startswith("cuda") or options.cpu_offload:
        return
    total = torch.cuda.get_device_properties(torch.device(device)).total_memory
    if total < FULL_MODEL_MIN_GPU_BYTES:
        raise ConfigurationError(
            f"{device} has {total / 1024**3:.0f} GiB; full-size Mochi needs "
            f"{FULL_MODEL_MIN_GPU_BYTES / 1024**3:.0f} GiB without offloading: set REELSTREAM_CPU_OFFLOAD=on"
        )


def _flag(env: Mapping[str, str], name: str, default: bool) -> bool:
    raw = env.get(name, "").strip().lower()
    if not raw:
        return default
    if raw in _TRUE:
        return True
    if raw in _FALSE:
        return False
    raise ConfigurationError(f"{name} must be on or off, got {raw!r}")


def _load_mochi(folder: ModelDir) -> MochiPipeline:
    import torch
    from diffusers.pipelines.mochi.pipeline_mochi import MochiPipeline

    pipe: MochiPipeline = MochiPipeline.from_pretrained(
        folder.path, torch_dtype=torch.bfloat16, variant=folder.variant, local_files_only=True
    )
    return pipe
