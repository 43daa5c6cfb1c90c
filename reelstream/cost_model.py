"""Expected render time of a job shape: a configured prior, learned online from observed renders.

Work is counted in units of frames × pixels × steps (doubled with classifier-free guidance, which runs the
transformer twice). Seconds per unit start from a prior per (model, tier) and are learned per (model, tier,
GPU type) as an exponentially weighted mean of what slots report, so ETAs and shortest-job ordering improve
with use. Tiers are learned apart: a `fast` render (First-Block Cache) takes a fraction of a `full` one's
time for the same work units, so one shared mean would make full jobs look cheaper and fast jobs dearer
than they are, by however the recent mix of tiers happened to fall. The `full` tier keeps the key it had
before tiers existed ("model|gpu"), so rates a scheduler learned and snapshotted then stay valid.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import Protocol

from reelstream.models import BUILTIN_MODELS, FULL
from schemas.events import RenderParams

# Priors: each model's `cost_prior` times its tier's `cost_factor` (reelstream.models); a model without one
# (loaded by a deployment and unknown to this process) starts from DEFAULT_PRIOR until its first renders are
# observed.
PRIOR_SECONDS_PER_UNIT: Mapping[str, float] = BUILTIN_MODELS.priors()
DEFAULT_PRIOR = 1e-7
LEARNING_RATE = 0.2


class Shape(Protocol):
    """What a render's cost depends on: a job's RenderParams or a renderer's RenderRequest."""

    @property
    def num_frames(self) -> int: ...
    @property
    def width(self) -> int: ...
    @property
    def height(self) -> int: ...
    @property
    def num_inference_steps(self) -> int: ...
    @property
    def guidance_scale(self) -> float: ...


class Job(Shape, Protocol):
    """A shape rendered by one model at one tier: what the cost model keys its rates by."""

    @property
    def model(self) -> str: ...
    @property
    def tier(self) -> str: ...


def work_units(params: Shape) -> int:
    guidance = 2 if params.guidance_scale > 1.0 else 1
    return params.num_frames * params.width * params.height * params.num_inference_steps * guidance


def prior(params: Job) -> float:
    """Seconds per work unit of the job's (model, tier) before anything was observed."""
    spec = BUILTIN_MODELS.get(params.model)
    return spec.prior_for(params.tier) if spec is not None else DEFAULT_PRIOR


def rate_key(params: Job, gpu: str) -> str:
    """ "model|gpu" for the full tier (the key from before tiers), "model|tier|gpu" for any other."""
    return f"{params.model}|{gpu}" if params.tier == FULL else f"{params.model}|{params.tier}|{gpu}"


@dataclass(frozen=True)
class CostModel:
    """Seconds per work unit, keyed by `rate_key` (model, tier, GPU type); falls back to the prior."""

    learned: Mapping[str, float] = field(default_factory=lambda: MappingProxyType({}))

    def seconds(self, params: RenderParams, gpu: str = "") -> float:
        rate = self.learned.get(rate_key(params, gpu)) or prior(params)
        return rate * work_units(params)

    def observe(self, params: RenderParams, gpu: str, seconds: float) -> CostModel:
        if seconds <= 0:
            return self
        key = rate_key(params, gpu)
        measured = seconds / work_units(params)
        previous = self.learned.get(key)
        rate = measured if previous is None else previous + LEARNING_RATE * (measured - previous)
        return replace(self, learned=MappingProxyType({**self.learned, key: rate}))


@dataclass(frozen=True)
class RenderDeadline:
    """How long one attempt's render may take: `multiple` × its predicted seconds + `margin_seconds`, at most
    `max_seconds`. Past it the worker stops the render at its next step; a render that has not stopped
    `grace_seconds` later is stuck, and the worker process is ended (its supervisor starts a fresh one)."""

    multiple: float = 3.0
    margin_seconds: float = 60.0
    max_seconds: float = 7200.0
    grace_seconds: float = 30.0

    def seconds(self, predicted_seconds: float) -> float:
        return min(self.max_seconds, self.multiple * max(predicted_seconds, 0.0) + self.margin_seconds)
