"""Mochi text-to-video behind the Renderer protocol, around any diffusers `MochiPipeline`.

`render` reads as the script of one render: check inputs, encode the prompt, denoise, decode, hand back
frames. The pipeline's own `__call__` runs denoise and decode; a step callback reports progress and raises
`RenderCanceled` to stop between steps (setting `pipe._interrupt` would skip the remaining steps but still
decode). Torch exceptions are converted here: out of memory and bad parameters to a non-retriable
`RenderError` that says what to change, a broken CUDA context to `DeviceLost` (the worker must exit).
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import torch
from diffusers.pipelines.mochi.pipeline_mochi import MochiPipeline

from gpu_consumers.render.base import (
    DECODE,
    DENOISE,
    ENCODE_TEXT,
    CancelCheck,
    DeviceLost,
    ProgressCallback,
    RenderCanceled,
    RenderedVideo,
    RenderError,
    RenderRequest,
)
from gpu_consumers.render.compile_cache import CompileCounts, compile_counts
from gpu_consumers.render.fp8 import apply_fp8
from gpu_consumers.render.gang import GangContext
from gpu_consumers.render.options import (
    MochiOptions,
    apply_tf32,
    compile_transformer,
    pin_attention_kernel,
)
from gpu_consumers.render.parallel.session import follower_frames, gang_run
from gpu_consumers.render.tiers import cache_settings, cache_threshold, tier_cache
from gpu_consumers.render.tiny_mochi import MAX_SEQUENCE_LENGTH, build_tiny_mochi_pipeline
from reelstream.errors import ConfigurationError
from reelstream.models.mochi import TINY_MOCHI
from reelstream.models.spec import FULL, FULL_TIER, Tier

logger = logging.getLogger(__name__)

PipelineFactory = Callable[[], MochiPipeline]
StepCallback = Callable[[MochiPipeline, int, Any, dict[str, torch.Tensor]], dict[str, torch.Tensor]]

SIZE_MULTIPLE = 16  # VAE downsamples 8x, the transformer patches 2x2
FRAME_STRIDE = 6  # VAE compresses 6 frames into one latent frame: num_frames = 6k + 1
MIN_STEPS = 2
WARMUP_STEPS = 2
# Substrings of the errors a CUDA context does not recover from; anything after them fails too.
_BROKEN_CONTEXT = ("illegal memory access", "unspecified launch failure", "device-side assert", "ECC error")


def check_request(request: RenderRequest) -> None:
    """Raise RenderError naming the first parameter the Mochi pipeline cannot render."""
    for field, value in (("width", request.width), ("height", request.height)):
        if value <= 0 or value % SIZE_MULTIPLE:
            raise RenderError(f"{field} must be a positive multiple of {SIZE_MULTIPLE}, got {value}")
    if request.num_frames < 1 or (request.num_frames - 1) % FRAME_STRIDE:
        raise RenderError(f"num_frames must be 6k+1 (1, 7, 13, 19, ...), got {request.num_frames}")
    if request.num_inference_steps < MIN_STEPS:
        raise RenderError(
            f"num_inference_steps must be at least {MIN_STEPS}, got {request.num_inference_steps}"
        )
    if request.fps < 1:
        raise RenderError(f"fps must be at least 1, got {request.fps}")


def _step_callback(on_progress: ProgressCallback, is_canceled: CancelCheck) -> StepCallback:
    """Report each finished denoise step, stop between steps when canceled, announce decode after the last."""

    def on_step_end(
        pipe: MochiPipeline, index: int, timestep: Any, tensors: dict[str, torch.Tensor]
    ) -> dict[str, torch.Tensor]:
        total = int(pipe.num_timesteps)
        on_progress(DENOISE, index + 1, total)
        if is_canceled():
            raise RenderCanceled(f"canceled after denoise step {index + 1} of {total}")
        if index + 1 == total:  # the pipeline decodes as soon as this callback returns
            on_progress(DECODE, 0, 1)
        return tensors

    return on_step_end


def _to_uint8(frames: npt.NDArray[np.floating[Any]]) -> npt.NDArray[np.uint8]:
    """Float frames in [0, 1], shape (F, H, W, 3), to uint8 RGB."""
    pixels: npt.NDArray[np.uint8] = np.clip(np.rint(frames * 255.0), 0, 255).astype(np.uint8)
    return pixels


@dataclass(frozen=True)
class WarmedShape:
    """One shape's warm-up: how long it took, and what torch compiled or took from the cache meanwhile."""

    width: int
    height: int
    num_frames: int
    seconds: float
    compiled: CompileCounts

    @property
    def label(self) -> str:
        return f"{self.width}x{self.height}x{self.num_frames}"


class MochiRenderer:
    """Keeps one pipeline warm on `device`; `render` is blocking and meant for a worker thread."""

    def __init__(
        self,
        pipeline_factory: PipelineFactory,
        *,
        device: str = "cpu",
        name: str = "mochi",
        max_sequence_length: int = 256,
        options: MochiOptions | None = None,
        warmup: tuple[RenderRequest, ...] = (),
        tiers: Mapping[str, Tier] | None = None,
    ) -> None:
        self.name = name
        self.options = options or MochiOptions()
        self._factory = pipeline_factory
        self._device = device
        self._device_type = torch.device(device).type
        self._max_sequence_length = max_sequence_length
        self.warmup = warmup  # with compile on, load() renders a few steps of each (every shape served)
        self.warmed: list[WarmedShape] = []  # what load()'s warm-up took, shape by shape
        self._pipe: MochiPipeline | None = None
        self.tiers: Mapping[str, Tier] = tiers or {FULL: FULL_TIER}  # the model's (reelstream.models)

    @property
    def settings(self) -> dict[str, str]:
        return self.options.record()

    @property
    def pipeline(self) -> MochiPipeline:
        if self._pipe is None:
            raise RenderError(f"renderer {self.name} used before load()")
        return self._pipe

    def load(self) -> None:
        """Build the pipeline, place it, switch on the configured levers, and warm up a compiled model."""
        if self._pipe is not None:
            return
        options = self.options
        try:
            pipe = self._factory()
            if options.cpu_offload and self._device_type == "cuda":
                pipe.enable_model_cpu_offload(device=self._device)
            else:
                pipe.to(self._device)
        except (OSError, ValueError, RuntimeError) as exc:
            raise ConfigurationError(f"could not load the Mochi pipeline for {self.name}: {exc}") from exc
        pipe.set_progress_bar_config(disable=True)  # type: ignore[no-untyped-call]
        if options.vae_tiling:
            pipe.vae.enable_tiling()
        if self._device_type == "cuda":
            apply_tf32(options.tf32)
        pin_attention_kernel(pipe.transformer, options.attention, self._device_type)
        apply_fp8(pipe.transformer, options, self._device)  # before compiling: quantizing is one-way
        if options.compile:
            pipe.transformer = compile_transformer(pipe.transformer)
        self._pipe = pipe
        if options.compile:
            self._warm_up()
        logger.info(
            "renderer loaded", extra={"renderer": self.name, "device": self._device, **options.record()}
        )

    def _warm_up(self) -> None:
        """Compilation happens on a shape's first call: pay for it now, for every shape served, not in the
        first job of each. Two steps of each shape (with guidance, as its jobs run) compile everything a job
        of that shape calls; the graphs come from the node's cache when a worker compiled them before."""
        for request in self.warmup:
            before, started = compile_counts(), time.monotonic()
            self.render(dataclasses.replace(request, num_inference_steps=WARMUP_STEPS), _no_progress, _never)
            done = compile_counts() - before
            shape = WarmedShape(
                request.width, request.height, request.num_frames, time.monotonic() - started, done
            )
            self.warmed.append(shape)
            counts = {"graphs": done.graphs, "cache_hits": done.cache_hits, "compiled": done.cache_misses}
            seconds = round(shape.seconds, 2)
            logger.info(
                "warmed up", extra={"renderer": self.name, "shape": shape.label, "seconds": seconds, **counts}
            )

    def render(
        self,
        request: RenderRequest,
        on_progress: ProgressCallback,
        is_canceled: CancelCheck,
        *,
        gang: GangContext | None = None,
    ) -> RenderedVideo:
        pipe = self.pipeline
        # 1. Check inputs.
        check_request(request)
        guided = request.guidance_scale > 1.0
        in_gang = gang is not None and gang.world_size > 1
        # The fast tier's First-Block Cache decides per member which blocks to skip: in a gang that would
        # split the members' collectives, so a gang renders its job without it (it has several GPUs instead).
        threshold = None if in_gang else cache_threshold(self.tiers, request.tier)
        # In a gang, the transformer is hooked for this member's share (parallel/session.py).
        with gang_run(gang, pipe.transformer, guided=guided, device=self._device) as run:
            cancel = run.agreed(is_canceled)
            return self._render(pipe, request, on_progress, cancel, run.decodes, threshold, in_gang)

    def _render(
        self,
        pipe: MochiPipeline,
        request: RenderRequest,
        on_progress: ProgressCallback,
        is_canceled: CancelCheck,
        decodes: bool,
        threshold: float | None,
        in_gang: bool,
    ) -> RenderedVideo:
        if is_canceled():
            raise RenderCanceled("canceled before the render started")
        generator = torch.Generator(device=self._device).manual_seed(request.seed)
        with self._torch_errors(request, in_gang), tier_cache(pipe.transformer, threshold):
            # 2. Encode the prompt (and the negative prompt when guidance is on).
            on_progress(ENCODE_TEXT, 0, 1)
            prompt, mask, negative, negative_mask = pipe.encode_prompt(
                prompt=request.prompt,
                negative_prompt=request.negative_prompt,
                do_classifier_free_guidance=request.guidance_scale > 1.0,
                max_sequence_length=self._max_sequence_length,
                device=self._execution_device(pipe),
                dtype=pipe.transformer.dtype,
            )
            on_progress(ENCODE_TEXT, 1, 1)
            # 3. Prepare latents and denoise, then 4. decode (the callback reports DECODE start).
            video = pipe(
                prompt_embeds=prompt,
                prompt_attention_mask=mask,
                negative_prompt_embeds=negative,
                negative_prompt_attention_mask=negative_mask,
                height=request.height,
                width=request.width,
                num_frames=request.num_frames,
                num_inference_steps=request.num_inference_steps,
                guidance_scale=request.guidance_scale,
                generator=generator,
                output_type="np" if decodes else "latent",  # a gang's leader alone decodes
                return_dict=False,
                callback_on_step_end=_step_callback(on_progress, is_canceled),
                max_sequence_length=self._max_sequence_length,
            )[0]
            on_progress(DECODE, 1, 1)
        if not decodes:
            return RenderedVideo(frames=follower_frames(request.height, request.width), fps=request.fps)
        # 5. Hand back uint8 frames, shape (F, H, W, 3).
        frames = _to_uint8(np.asarray(video)[0])
        logger.info("render finished", extra={"renderer": self.name, "frames": frames.shape[0]})
        return RenderedVideo(frames=frames, fps=request.fps, settings=cache_settings(threshold))

    def _execution_device(self, pipe: MochiPipeline) -> torch.device:
        # with CPU offload the modules sit on the CPU between calls; the pipeline knows where they run
        return pipe._execution_device if self.options.cpu_offload else torch.device(self._device)

    @contextlib.contextmanager
    def _torch_errors(self, request: RenderRequest, in_gang: bool = False) -> Iterator[None]:
        """Inference mode; torch's exceptions converted; GPU memory handed back after a failure.

        In a gang, a RuntimeError is left as it is: a collective that failed because another member died
        looks like any other, and the worker's gang (gpu_consumers.gang_member) turns it into a retriable
        `gang_broken` rather than this member's own, final `render_failed`."""
        failed = True
        try:
            with torch.inference_mode():
                yield
            failed = False
        except torch.OutOfMemoryError as exc:
            raise RenderError(self._oom_message(request, exc), retriable=False) from exc
        except (RuntimeError, ValueError, TypeError) as exc:
            if any(marker in str(exc) for marker in _BROKEN_CONTEXT):
                raise DeviceLost(f"{self._device} is unusable: {exc}") from exc
            if in_gang and isinstance(exc, RuntimeError):
                raise
            raise RenderError(f"Mochi pipeline failed: {exc}") from exc
        finally:
            if failed and self._device_type == "cuda":
                torch.cuda.empty_cache()  # a canceled or failed render leaves cached blocks behind

    def _oom_message(self, request: RenderRequest, exc: BaseException) -> str:
        size = f"{request.width}x{request.height}, {request.num_frames} frames"
        hints = ["a smaller size or fewer frames"]
        if not self.options.vae_tiling:
            hints.insert(0, "REELSTREAM_VAE_TILING=on")
        if not self.options.cpu_offload and self._device_type == "cuda":
            hints.append("REELSTREAM_CPU_OFFLOAD=on (slower)")
        first_line = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        return f"out of GPU memory on {self._device} for {size}; try {' or '.join(hints)} ({first_line})"


def _no_progress(stage: str, step: int, total: int) -> None:
    return None


def _never() -> bool:
    return False


def tiny_mochi_renderer(device: str = "cpu", options: MochiOptions | None = None) -> MochiRenderer:
    """A renderer over the tiny random-weight pipeline: the real code path, no weights to download."""
    return MochiRenderer(
        build_tiny_mochi_pipeline,
        device=device,
        name=TINY_MOCHI.id,
        max_sequence_length=MAX_SEQUENCE_LENGTH,
        options=options,
        tiers=TINY_MOCHI.tiers,
    )
