"""Which renderer a worker runs, by the model name it serves (the name slots advertise to the scheduler):
the factory its `ModelSpec` names, imported here, never by the core. The Mochi factories live here too.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, cast

from gpu_consumers.render.base import Renderer, RenderRequest
from reelstream.errors import ConfigurationError
from reelstream.models import BUILTIN_MODELS, ModelRegistry, ModelSpec

if TYPE_CHECKING:
    from diffusers.pipelines.mochi.pipeline_mochi import MochiPipeline

    from gpu_consumers.render.model_dir import ModelDir
    from gpu_consumers.render.options import MochiOptions

logger = logging.getLogger(__name__)
RendererFactory = Callable[[ModelSpec, str, Mapping[str, str]], Renderer]
_TRUE, _FALSE = ("1", "on", "true", "yes"), ("0", "off", "false", "no")


def make_renderer(
    model: str, device: str, env: Mapping[str, str], models: ModelRegistry = BUILTIN_MODELS
) -> Renderer:
    """No weights are loaded here (that is `Renderer.load()`, at start-up), but a bad model folder or a bad
    setting fails here, before the worker joins its pool. The model's spec names its renderer factory
    (reelstream.models). REELSTREAM_SIMULATED_RENDER_SCALE (benchmarks only) serves `model` with a
    stand-in that waits out the model's cost prior times the scale."""
    spec = models.get(model)
    if spec is None:
        registered = ", ".join(models.ids)
        raise ConfigurationError(f"REELSTREAM_RENDERER: unknown model {model!r}; registered: {registered}")
    simulated = env.get("REELSTREAM_SIMULATED_RENDER_SCALE", "").strip()
    if simulated:
        return _simulated(spec, simulated)
    renderer = factory_of(spec)(spec, device, env)
    if renderer.name != spec.id:
        raise ConfigurationError(f"the renderer factory of {spec.id} built a renderer of {renderer.name}")
    return renderer


def factory_of(spec: ModelSpec) -> RendererFactory:
    """The function `spec.renderer` names (`package.module:function`), imported now."""
    module_name, _, attribute = spec.renderer.partition(":")
    try:
        factory = getattr(importlib.import_module(module_name), attribute)
    except (ImportError, AttributeError) as exc:
        raise ConfigurationError(
            f"model {spec.id}: renderer {spec.renderer!r} cannot be imported: {exc}"
        ) from None
    if not callable(factory):
        raise ConfigurationError(f"model {spec.id}: renderer {spec.renderer!r} is not callable")
    return cast(RendererFactory, factory)


def build_tiny_mochi(spec: ModelSpec, device: str, env: Mapping[str, str]) -> Renderer:
    """Random weights, CPU-sized (reelstream.models.mochi.TINY_MOCHI)."""
    from gpu_consumers.render.mochi import tiny_mochi_renderer

    renderer = tiny_mochi_renderer(device=device, options=mochi_options(env))
    renderer.warmup = warmup_request(spec)
    return renderer


def build_mochi_1(spec: ModelSpec, device: str, env: Mapping[str, str]) -> Renderer:
    """Full-size Mochi 1 from the model folder (REELSTREAM_MODEL_DIR or REELSTREAM_MODEL_ID)."""
    from gpu_consumers.render.mochi import MochiRenderer
    from gpu_consumers.render.model_dir import check_model_dir, resolve_model_dir

    options = mochi_options(env)
    folder = check_model_dir(
        resolve_model_dir(env.get("REELSTREAM_MODEL_DIR"), env.get("REELSTREAM_MODEL_ID"))
    )
    _check_gpu_memory(device, options)
    return MochiRenderer(
        lambda: _load_mochi(folder),
        device=device,
        name=spec.id,
        options=options,
        warmup=warmup_request(spec),
    )


def _simulated(spec: ModelSpec, scale: str) -> Renderer:
    from gpu_consumers.render.simulated import SimulatedRenderer

    try:
        renderer = SimulatedRenderer(spec, float(scale))
    except ValueError as exc:
        raise ConfigurationError(f"REELSTREAM_SIMULATED_RENDER_SCALE={scale!r}: {exc}") from exc
    logger.warning("renders are SIMULATED (a benchmark setting): %s", renderer.settings["simulated"])
    return renderer


def warmup_request(spec: ModelSpec) -> RenderRequest:
    """The model's default render: what a compiled model is warmed up on at start-up (a few steps of it)."""
    defaults = spec.defaults
    return RenderRequest(
        prompt="warm-up",
        negative_prompt=None,
        width=defaults.width,
        height=defaults.height,
        num_frames=spec.default_frames,
        fps=defaults.fps,
        num_inference_steps=defaults.num_inference_steps,
        guidance_scale=defaults.guidance_scale,
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
