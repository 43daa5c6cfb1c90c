"""Which renderer a worker runs, by the model name it serves (the name slots advertise to the scheduler)."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from gpu_consumers.render.base import Renderer, RenderRequest
from reelstream.errors import ConfigurationError

if TYPE_CHECKING:
    from diffusers.pipelines.mochi.pipeline_mochi import MochiPipeline

    from gpu_consumers.render.model_dir import ModelDir
    from gpu_consumers.render.options import MochiOptions
    from reelstream.settings import RenderSettings

logger = logging.getLogger(__name__)


def make_renderer(model: str, device: str, render: RenderSettings) -> Renderer:
    """No weights are loaded here (that is `Renderer.load()`, at start-up), but a bad model folder or a bad
    setting fails here, before the worker joins its pool. REELSTREAM_SIMULATED_RENDER_SCALE (benchmarks
    only) serves `model` with a stand-in that waits out the cost model's prior times the scale."""
    if render.simulated_scale is not None:
        return _simulated(model, render.simulated_scale)
    from gpu_consumers.render.mochi import MochiRenderer, tiny_mochi_renderer

    options = mochi_options(render)
    if model == "tiny-mochi":
        renderer = tiny_mochi_renderer(device=device, options=options)
        renderer.warmup = warmup_request(model)
        return renderer
    if model == "mochi-1":
        from gpu_consumers.render.model_dir import check_model_dir, resolve_model_dir

        folder = check_model_dir(resolve_model_dir(render.model_dir, render.model_id))
        _check_gpu_memory(device, options)
        return MochiRenderer(
            lambda: _load_mochi(folder),
            device=device,
            name=model,
            options=options,
            warmup=warmup_request(model),
        )
    raise ConfigurationError(f"no renderer for model {model!r}")


def _simulated(model: str, scale: float) -> Renderer:
    from gpu_consumers.render.simulated import SimulatedRenderer

    try:
        renderer = SimulatedRenderer(model, scale)
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


def mochi_options(render: RenderSettings) -> MochiOptions:
    """REELSTREAM_ATTENTION, _VAE_TILING, _COMPILE, _TF32, _CPU_OFFLOAD (parsed by the settings registry)."""
    from gpu_consumers.render.options import MochiOptions

    return MochiOptions(
        attention=render.attention,
        vae_tiling=render.vae_tiling,
        compile=render.compile,
        tf32=render.tf32,
        cpu_offload=render.cpu_offload,
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


def _load_mochi(folder: ModelDir) -> MochiPipeline:
    import torch
    from diffusers.pipelines.mochi.pipeline_mochi import MochiPipeline

    pipe: MochiPipeline = MochiPipeline.from_pretrained(
        folder.path, torch_dtype=torch.bfloat16, variant=folder.variant, local_files_only=True
    )
    return pipe
