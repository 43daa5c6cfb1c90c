"""What reelstream knows about one model, declared once: its limits, frame rule, defaults, presets, cost prior
and where its renderer is built.

Pure data: nothing here imports torch or the GPU consumers. The renderer is named by a dotted path that only
the worker resolves (`gpu_consumers.renderers.make_renderer`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from types import MappingProxyType

STANDARD = "standard"  # the quality every model has: its defaults as declared
FULL = "full"  # the tier every model has: every step runs every block


@dataclass(frozen=True)
class Bounds:
    """An inclusive range of a parameter, with its unit (for messages and the API document)."""

    minimum: float
    maximum: float
    unit: str = ""

    def __post_init__(self) -> None:
        if not self.minimum <= self.maximum:
            raise ValueError(f"bounds [{self.minimum}, {self.maximum}] are empty")

    def contains(self, value: float) -> bool:
        return not math.isnan(value) and self.minimum <= value <= self.maximum

    def describe(self) -> str:
        unit = f" {self.unit}" if self.unit else ""
        return f"between {self.minimum:g} and {self.maximum:g}{unit}"


@dataclass(frozen=True)
class FrameRule:
    """The frame counts a model renders: `step`·k + `offset` with k ≥ 1 (Mochi: 6k+1, its VAE compresses
    time by 6 after a first frame of its own)."""

    step: int
    offset: int = 1

    def __post_init__(self) -> None:
        if self.step < 1 or self.offset < 0:
            raise ValueError(f"frame rule {self.step}k+{self.offset} is not a rule")

    @property
    def minimum(self) -> int:
        return self.step + self.offset

    def allows(self, frames: int) -> bool:
        return frames >= self.minimum and (frames - self.offset) % self.step == 0

    def describe(self) -> str:
        return f"{self.step}k+{self.offset} with k ≥ 1"

    def frames_for(self, duration_seconds: float, fps: int, max_duration_seconds: float) -> int:
        """The allowed frame count closest to `duration_seconds` that does not exceed the duration limit."""
        k = max(1, round((duration_seconds * fps - self.offset) / self.step))
        while k > 1 and (self.step * k + self.offset) / fps > max_duration_seconds:
            k -= 1
        return self.step * k + self.offset


@dataclass(frozen=True)
class Limits:
    """Every parameter's limits. Sizes in pixels, durations in seconds, prompts in characters."""

    prompt_chars: int = 2000
    max_duration_seconds: float = 10.0  # of the clip: (frames − 1) / fps
    size_multiple: int = 16  # width and height are positive multiples of it
    max_short_side: int = 768
    max_long_side: int = 1360
    steps: Bounds = Bounds(2, 200, "steps")
    guidance_scale: Bounds = Bounds(0, 20)
    fps: Bounds = Bounds(1, 60, "frames per second")
    # GPU work of one job in the cost model's units (frames × width × height × steps, doubled with
    # guidance): what bounds a job's time on a slot when every parameter is within its own range. None: the
    # other limits alone bound it.
    max_work_units: int | None = None


@dataclass(frozen=True)
class Defaults:
    """What a render uses for each parameter the client left out."""

    width: int
    height: int
    fps: int
    duration_seconds: float
    num_inference_steps: int
    guidance_scale: float


@dataclass(frozen=True)
class Preset:
    """A named quality: another default size and step count (explicit parameters still win)."""

    width: int
    height: int
    num_inference_steps: int


@dataclass(frozen=True)
class Tier:
    """How a job's denoising steps run, a separate axis from its quality (which picks the defaults).

    `cache_threshold`: the First-Block Cache threshold (diffusers' `FirstBlockCacheConfig`): a step whose
    first block's output changed by less than this (relative L1) since the last fully computed step reuses
    the other blocks' cached residual. None: no cache, every block of every step runs (the `full` tier).
    `cost_factor`: the tier's seconds per work unit as a factor on the model's `cost_prior`, the prior the
    scheduler starts from before it has observed the tier (it learns each tier apart: reelstream.cost_model).
    """

    cache_threshold: float | None = None
    cost_factor: float = 1.0

    def __post_init__(self) -> None:
        if self.cache_threshold is not None and not self.cache_threshold > 0:
            raise ValueError(f"a tier's cache threshold must be > 0 or None, got {self.cache_threshold}")
        if not 0 < self.cost_factor <= 1:
            raise ValueError(f"a tier's cost factor must be in (0, 1], got {self.cost_factor}")


FULL_TIER = Tier()


@dataclass(frozen=True)
class ModelSpec:
    """One model reelstream serves.

    `cost_prior` is seconds per work unit (frames × width × height × steps, doubled with guidance) before
    anything was measured (streams.cost_model). `renderer` is `package.module:function`, a factory
    `(spec, device, env) -> Renderer` the worker imports when it starts.
    """

    id: str
    display_name: str
    defaults: Defaults
    frame_rule: FrameRule
    cost_prior: float
    renderer: str
    license: str
    limits: Limits = field(default_factory=Limits)
    presets: Mapping[str, Preset] = field(default_factory=lambda: MappingProxyType({}))
    tiers: Mapping[str, Tier] = field(default_factory=lambda: MappingProxyType({FULL: FULL_TIER}))
    # The most slots one job of this model renders on at once (a gang, streams.gang): as far as its renderer
    # can split the work (Mochi: the CFG branches × a Ulysses degree dividing the attention heads, with or
    # without guidance). A power of two; 1: never a gang.
    max_gang_slots: int = 1

    def __post_init__(self) -> None:
        if not self.id or self.id != self.id.strip() or "," in self.id:
            raise ValueError(f"model id {self.id!r} must be non-empty, without spaces or commas")
        if self.max_gang_slots < 1 or self.max_gang_slots & (self.max_gang_slots - 1):
            raise ValueError(
                f"model {self.id}: max_gang_slots must be a power of two, got {self.max_gang_slots}"
            )
        if not self.cost_prior > 0:
            raise ValueError(f"model {self.id}: cost_prior must be > 0 seconds per work unit")
        module, sep, name = self.renderer.partition(":")
        if not (module and sep and name):
            raise ValueError(f"model {self.id}: renderer must be 'package.module:function'")
        if STANDARD in self.presets:
            raise ValueError(f"model {self.id}: {STANDARD!r} is the declared defaults, not a preset")
        object.__setattr__(self, "presets", MappingProxyType(dict(self.presets)))
        if self.tiers.get(FULL) != FULL_TIER:
            raise ValueError(f"model {self.id}: tier {FULL!r} must exist, without cache, at cost factor 1")
        object.__setattr__(self, "tiers", MappingProxyType(dict(sorted(self.tiers.items()))))

    def prior_for(self, tier: str) -> float:
        """Seconds per work unit of `tier` before anything was measured (an unknown tier: the model's)."""
        found = self.tiers.get(tier)
        return self.cost_prior * (found.cost_factor if found is not None else 1.0)

    @property
    def qualities(self) -> tuple[str, ...]:
        return tuple(sorted((*self.presets, STANDARD)))

    def defaults_for(self, quality: str) -> Defaults:
        """The defaults of a quality (KeyError if the model has no such quality)."""
        if quality == STANDARD:
            return self.defaults
        preset = self.presets[quality]
        return replace(
            self.defaults,
            width=preset.width,
            height=preset.height,
            num_inference_steps=preset.num_inference_steps,
        )

    def frames_for(self, duration_seconds: float, fps: int) -> int:
        return self.frame_rule.frames_for(duration_seconds, fps, self.limits.max_duration_seconds)

    @property
    def default_frames(self) -> int:
        return self.frames_for(self.defaults.duration_seconds, self.defaults.fps)

    def summary(self) -> str:
        """The model's limits and defaults in words (the API document, `reelstream models`)."""
        limits, defaults = self.limits, self.defaults
        return (
            f"`{self.id}` ({self.display_name}): width and height multiples of {limits.size_multiple}, "
            f"shorter side at most {limits.max_short_side}, longer side at most {limits.max_long_side}; "
            f"num_frames {self.frame_rule.describe()}; clip at most {limits.max_duration_seconds:g} s; "
            f"fps {limits.fps.describe()}; num_inference_steps {limits.steps.describe()}; "
            f"{_work_limit(limits)}"
            f"prompt at most {limits.prompt_chars} characters; qualities {', '.join(self.qualities)}; "
            f"tiers {', '.join(self.tiers)}; "
            f"default {defaults.width}×{defaults.height}, {self.default_frames} frames at "
            f"{defaults.fps} fps, {defaults.num_inference_steps} steps. License: {self.license}."
        )


def _work_limit(limits: Limits) -> str:
    if limits.max_work_units is None:
        return ""
    return (
        f"work (num_frames × width × height × num_inference_steps, ×2 with guidance_scale > 1) at most "
        f"{limits.max_work_units}; "
    )
