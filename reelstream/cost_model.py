"""Expected render time of a job shape: a configured prior, learned online from observed renders.

Work is counted in units of frames × pixels × steps (doubled with classifier-free guidance, which runs the
transformer twice). Seconds per unit start from a prior per model and are learned per (model, GPU type) as
an exponentially weighted mean of what slots report, so ETAs and shortest-job ordering improve with use.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import Protocol

from reelstream.models import BUILTIN_MODELS
from schemas.events import RenderParams

# Priors: each model's `cost_prior` (reelstream.models); a model without one (loaded by a deployment and
# unknown to this process) starts from DEFAULT_PRIOR until its first renders are observed.
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


def work_units(params: Shape) -> int:
    guidance = 2 if params.guidance_scale > 1.0 else 1
    return params.num_frames * params.width * params.height * params.num_inference_steps * guidance


@dataclass(frozen=True)
class CostModel:
    """Seconds per work unit, keyed "model|gpu"; falls back to the model's prior."""

    learned: Mapping[str, float] = field(default_factory=lambda: MappingProxyType({}))

    def seconds(self, params: RenderParams, gpu: str = "") -> float:
        rate = self.learned.get(f"{params.model}|{gpu}") or PRIOR_SECONDS_PER_UNIT.get(
            params.model, DEFAULT_PRIOR
        )
        return rate * work_units(params)

    def observe(self, params: RenderParams, gpu: str, seconds: float) -> CostModel:
        if seconds <= 0:
            return self
        key = f"{params.model}|{gpu}"
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
