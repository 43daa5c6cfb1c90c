"""The long-job estimator: "is this potentially a long task?" — yes or no, with its probability.

Pure (no Kafka, no clock). A job counts as long when its render takes more than `threshold_seconds` (a
setting). At admission the estimator scores the job from what is known then: the cost model's expected render
time (the dominant feature), the prompt's "linguistics" (characters, words, clauses), the tenant's load (its
jobs admitted and not yet finished) and history (how often its jobs turned out long), and the model (one
intercept per model). The score is a logistic regression whose weights start from priors that trust the
cost model (probability 0.5 where it predicts exactly the threshold) and learn online from outcomes, each
step pulled back towards the prior (a Gaussian prior, i.e. MAP estimation): a cold estimator is the cost
model with a threshold; a warm one has corrected the cost prior's bias for this deployment's GPUs and learned
what prompts and tenants add.

`outcome` compares a prediction with the truth after the job ends: "tp", "tn", "fp" or "fn" for "long".
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import Literal

from reelstream.cost_model import CostModel
from schemas.events import RenderParams

Outcome = Literal["tp", "tn", "fp", "fn"]
OUTCOMES: tuple[Outcome, ...] = ("tp", "tn", "fp", "fn")

FEATURES = ("bias", "log_cost", "prompt_chars", "words", "clauses", "in_flight", "tenant_history")
# the prior: only the cost model speaks (a factor e in expected seconds moves the log-odds by 3)
PRIOR_WEIGHTS = (0.0, 3.0, 0.0, 0.0, 0.0, 0.0, 0.0)
LEARNING_RATE = 0.05
PRIOR_PULL = 0.002  # per step, the weights move this fraction of the way back towards the prior
HISTORY_RATE = 0.1  # the tenant's share of long jobs: an exponentially weighted mean of its outcomes
MOST_TENANTS = 10_000  # tenants whose history is kept (the least recently seen forgotten first)
_CLAUSE = re.compile(r"[,;:.!?]|\b(?:and|then|while|after|before|as|with)\b", re.IGNORECASE)


@dataclass(frozen=True)
class JobFeatures:
    """What admission knows of a job when it scores it."""

    model: str
    tenant_id: str
    cost_seconds: float  # the cost model's expected render time
    prompt_chars: int
    words: int
    clauses: int
    in_flight: int  # the tenant's jobs admitted and not yet finished

    @classmethod
    def of(
        cls, prompt: str, params: RenderParams, tenant_id: str, in_flight: int, cost: CostModel
    ) -> JobFeatures:
        return cls(
            model=params.model,
            tenant_id=tenant_id,
            cost_seconds=cost.seconds(params),
            prompt_chars=len(prompt),
            words=len(prompt.split()),
            clauses=1 + len(_CLAUSE.findall(prompt)),
            in_flight=in_flight,
        )


@dataclass(frozen=True)
class Estimate:
    predicted_long: bool
    probability: float


@dataclass(frozen=True)
class LongJobEstimator:
    """A logistic regression over JobFeatures, learned online from outcomes (see the module's docstring)."""

    threshold_seconds: float = 120.0
    decision_probability: float = 0.5  # predicted long from this probability on
    weights: tuple[float, ...] = PRIOR_WEIGHTS
    model_bias: Mapping[str, float] = field(default_factory=lambda: MappingProxyType({}))
    tenant_history: Mapping[str, float] = field(default_factory=lambda: MappingProxyType({}))
    observed: int = 0

    def probability(self, features: JobFeatures) -> float:
        z = sum(w * x for w, x in zip(self.weights, self._vector(features), strict=True))
        return _sigmoid(z + self.model_bias.get(features.model, 0.0))

    def estimate(self, features: JobFeatures) -> Estimate:
        p = self.probability(features)
        return Estimate(p >= self.decision_probability, round(p, 4))

    def is_long(self, render_seconds: float) -> bool:
        return render_seconds > self.threshold_seconds

    def learn(self, features: JobFeatures, render_seconds: float) -> LongJobEstimator:
        """One step of gradient ascent on the log-likelihood of the outcome, pulled towards the prior."""
        y = 1.0 if self.is_long(render_seconds) else 0.0
        error = y - self.probability(features)
        x = self._vector(features)
        weights = tuple(
            w + LEARNING_RATE * error * xi - PRIOR_PULL * (w - w0)
            for w, xi, w0 in zip(self.weights, x, PRIOR_WEIGHTS, strict=True)
        )
        bias = self.model_bias.get(features.model, 0.0)
        bias += LEARNING_RATE * error - PRIOR_PULL * bias
        history = dict(self.tenant_history)
        before = history.pop(features.tenant_id, 0.5)
        history[features.tenant_id] = before + HISTORY_RATE * (y - before)
        while len(history) > MOST_TENANTS:
            del history[next(iter(history))]
        return replace(
            self,
            weights=weights,
            model_bias=MappingProxyType({**self.model_bias, features.model: bias}),
            tenant_history=MappingProxyType(history),
            observed=self.observed + 1,
        )

    def _vector(self, f: JobFeatures) -> tuple[float, ...]:
        """The features scaled to about [-2, 2]; log_cost is 0 where the cost model says the threshold."""
        return (
            1.0,
            math.log(max(f.cost_seconds, 1e-3) / self.threshold_seconds),
            math.log1p(f.prompt_chars) / math.log(1000.0),
            math.log1p(f.words) / math.log(200.0),
            min(f.clauses, 20) / 5.0,
            math.log1p(f.in_flight) / math.log(100.0),
            self.tenant_history.get(f.tenant_id, 0.5) - 0.5,
        )


def outcome(predicted_long: bool, was_long: bool) -> Outcome:
    if predicted_long:
        return "tp" if was_long else "fp"
    return "fn" if was_long else "tn"


def _sigmoid(z: float) -> float:
    if z >= 0:
        return 1.0 / (1.0 + math.exp(-z))
    e = math.exp(z)
    return e / (1.0 + e)
