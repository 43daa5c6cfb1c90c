"""Which renderer a worker runs, by the model name it serves (the name slots advertise to the scheduler):
the factory its `ModelSpec` names, imported here, never by the core. The Mochi factories live here too.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, cast

from gpu_consumers.render.base import Renderer, RenderRequest
from reelstream.errors import ConfigurationError
from reelstream.models import BUILTIN_MODELS, STANDARD, ModelRegistry, ModelSpec

if TYPE_CHECKING:
    from diffusers.pipelines.mochi.pipeline_mochi import MochiPipeline

    from gpu_consumers.render.model_dir import ModelDir
    from gpu_consumers.render.options import MochiOptions
    from reelstream.settings import RenderSettings

logger = logging.getLogger(__name__)
RendererFactory = Callable[[ModelSpec, str, "RenderSettings"], Renderer]


def make_renderer(
    model: str, device: str, render: RenderSettings, models: ModelRegistry = BUILTIN_MODELS
) -> Renderer:
    """No weights are loaded here (that is `Renderer.load()`, at start-up), but a bad model folder or a bad
    setting fails here, before the worker joins its pool. The model's spec names its renderer factory
    (reelstream.models). REELSTREAM_SIMULATED_RENDER_SCALE (benchmarks only) serves `model` with a
    stand-in that waits out the model's cost prior times the scale."""
    spec = models.get(model)
    if spec is None:
        registered = ", ".join(models.ids)
        raise ConfigurationError(f"REELSTREAM_RENDERER: unknown model {model!r}; registered: {registered}")
    if render.simulated_scale is not None:
        return _simulated(spec, render.simulated_scale)
    renderer = factory_of(spec)(spec, device, render)
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


def build_tiny_mochi(spec: ModelSpec, device: str, render: RenderSettings) -> Renderer:
    """Random weights, CPU-sized (reelstream.models.mochi.TINY_MOCHI)."""
    from gpu_consumers.render.mochi import tiny_mochi_renderer

    renderer = tiny_mochi_renderer(device=device, options=mochi_options(render, device))
    renderer.warmup = warmup_requests(spec)
    renderer.tiers = spec.tiers
    return renderer


def build_mochi_1(spec: ModelSpec, device: str, render: RenderSettings) -> Renderer:
    """Full-size Mochi 1 from the model folder (REELSTREAM_MODEL_DIR or REELSTREAM_MODEL_ID)."""
    from gpu_consumers.render.mochi import MochiRenderer
    from gpu_consumers.render.model_dir import check_model_dir, resolve_model_dir

    options = mochi_options(render, device)
    folder = check_model_dir(resolve_model_dir(render.model_dir, render.model_id))
    _check_gpu_memory(device, options)
    return MochiRenderer(
        lambda: _load_mochi(folder),
        device=device,
        name=spec.id,
        options=options,
        warmup=warmup_requests(spec),
        tiers=spec.tiers,
    )


def _simulated(spec: ModelSpec, scale: float) -> Renderer:
    from gpu_consumers.render.simulated import SimulatedRenderer

    try:
        renderer = SimulatedRenderer(spec, scale)
    except ValueError as exc:
        raise ConfigurationError(f"REELSTREAM_SIMULATED_RENDER_SCALE={scale!r}: {exc}") from exc
    logger.warning("renders are SIMULATED (a benchmark setting): %s", renderer.settings["simulated"])
    return renderer


def warmup_requests(spec: ModelSpec) -> tuple[RenderRequest, ...]:
    """Every shape the model serves by default, one request each: its declared defaults and each preset
    (reelstream.models), at the default clip length. A compiled model renders a few steps of each at
    start-up, before its slot takes work; a job of another shape still runs (it compiles on the fly)."""
    requests: dict[tuple[int, int, int], RenderRequest] = {}
    for quality in sorted(spec.qualities, key=lambda name: name != STANDARD):  # the defaults first
        defaults = spec.defaults_for(quality)
        shape = (defaults.width, defaults.height, spec.default_frames)
        requests.setdefault(
            shape,
            RenderRequest(
                prompt="warm-up",
                negative_prompt=None,
                width=defaults.width,
                height=defaults.height,
                num_frames=spec.default_frames,
                fps=defaults.fps,
                num_inference_steps=defaults.num_inference_steps,
                guidance_scale=defaults.guidance_scale,
                seed=0,
            ),
        )
    return tuple(requests.values())


def mochi_options(render: RenderSettings, device: str = "cpu") -> MochiOptions:
    """REELSTREAM_ATTENTION, _VAE_TILING, _COMPILE, _TF32, _CPU_OFFLOAD, _FP8_LINEAR, _FP8_ATTENTION
    (parsed by the settings registry). REELSTREAM_COMPILE=auto compiles on a CUDA device only: there it is
    1.34× faster per step and the cost is paid once (at start-up, from the node's cache); on a CPU (the tests,
    `reelstream dev`) compiling the tiny model takes longer than every render it would speed up."""
    from gpu_consumers.render.options import MochiOptions

    compile_on = render.compile == "on" or (render.compile == "auto" and device.startswith("cuda"))
    return MochiOptions(
        attention=render.attention,
        vae_tiling=render.vae_tiling,
        compile=compile_on,
        tf32=render.tf32,
        cpu_offload=render.cpu_offload,
        fp8_linear=render.fp8_linear,
        fp8_attention=render.fp8_attention,
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
