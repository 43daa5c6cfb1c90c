"""Benchmark: the long-job estimator's precision and recall for "long", cold (priors only) and warm.

    .venv/bin/python bench/long_job_estimator.py [--jobs 6000] [--seed 1]

The job mix is the scheduling simulation's (bench/scheduler_fairness.py: three tenants, 60 % small, 30 %
medium, 10 % large clips, ±20 % render noise), with a prompt of 3-120 words drawn per job. A job is long when
its render takes more than 6 small clips' time. Each scenario states how reality departs from the cost
model's prior:
  * prior-right   - renders take what the prior says (± the noise);
  * slow-gpus     - every render takes 1.5× the prior (the seed's "bias" risk: a prior made on other GPUs);
  * slow+prompts  - 1.5×, and each prompt word adds 0.5 % (say, a prompt-expansion stage).
The first two thirds of the jobs train a warm estimator online (each outcome learned 50 arrivals after the
job was scored: outcomes arrive late); the last third is held out and scored by the cold estimator (the
priors, the seed's "cold start" risk) and by the warm one, frozen. Printed per scenario and estimator:
precision, recall and accuracy for "long", and the bias (mean predicted probability − the share of long).
"""

from __future__ import annotations

import argparse
import random
import sys
from collections import deque
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.scheduler_fairness import Job, clip_params, workload
from reelstream.cost_model import CostModel
from reelstream.long_jobs import JobFeatures, LongJobEstimator, outcome

LONG_IN_SMALL_CLIPS = 6.0
OUTCOME_DELAY = 50  # arrivals between a job's scoring and its outcome being learned
WORDS = tuple(
    [
        "a",
        "red",
        "fox",
        "runs",
        "through",
        "snow",
        "and",
        "then",
        "leaps",
        "over",
        "the",
        "frozen",
        "river",
        "while",
    ]
)
SCENARIOS = {"prior-right": (1.0, 0.0), "slow-gpus": (1.5, 0.0), "slow+prompts": (1.5, 0.005)}


@dataclass(frozen=True)
class Case:
    features: JobFeatures
    seconds: float  # the render's true time


def cases(jobs: list[Job], scale: float, gpu_factor: float, per_word: float, seed: int) -> list[Case]:
    rng = random.Random(seed)  # noqa: S311 - a reproducible workload
    cost, recent = CostModel(), deque[str](maxlen=50)
    out = []
    for job in jobs:
        words = rng.randint(3, 120)
        prompt = " ".join(rng.choice(WORDS) for _ in range(words))
        in_flight = sum(1 for t in recent if t == job.tenant)
        recent.append(job.tenant)
        features = JobFeatures.of(prompt, job.params, job.tenant, in_flight, cost)
        seconds = job.duration * scale * gpu_factor * (1.0 + per_word * words)
        out.append(Case(features, seconds))
    return out


def train(estimator: LongJobEstimator, training: list[Case]) -> LongJobEstimator:
    waiting: deque[Case] = deque()
    for case in training:
        estimator.estimate(case.features)  # scored at admission …
        waiting.append(case)
        if len(waiting) > OUTCOME_DELAY:  # … learned when its outcome arrives
            done = waiting.popleft()
            estimator = estimator.learn(done.features, done.seconds)
    return estimator


def scores(estimator: LongJobEstimator, held_out: list[Case]) -> dict[str, float]:
    counts = dict.fromkeys(("tp", "tn", "fp", "fn"), 0)
    probability = 0.0
    for case in held_out:
        estimate = estimator.estimate(case.features)
        counts[outcome(estimate.predicted_long, estimator.is_long(case.seconds))] += 1
        probability += estimate.probability
    tp, tn, fp, fn = counts["tp"], counts["tn"], counts["fp"], counts["fn"]
    return {
        "precision": tp / (tp + fp) if tp + fp else float("nan"),
        "recall": tp / (tp + fn) if tp + fn else float("nan"),
        "accuracy": (tp + tn) / len(held_out),
        "bias": probability / len(held_out) - (tp + fn) / len(held_out),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--jobs", type=int, default=6000)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    jobs = workload(args.jobs, args.seed)
    scale = CostModel().seconds(clip_params(13))  # a small clip's prior seconds
    split = len(jobs) * 2 // 3
    print(
        f"{len(jobs)} jobs (train {split}, held out {len(jobs) - split}); long: over {LONG_IN_SMALL_CLIPS:g}"
    )
    print(f"small clips' time; outcomes learned {OUTCOME_DELAY} arrivals late\n")
    heads = ("long %", "precision", "recall", "accuracy", "bias")
    print(f"{'scenario':14} {'estimator':9} " + " ".join(f"{h:>9}" for h in heads))
    for name, (gpu_factor, per_word) in SCENARIOS.items():
        mix = cases(jobs, scale, gpu_factor, per_word, args.seed)
        cold = LongJobEstimator(threshold_seconds=LONG_IN_SMALL_CLIPS * scale)
        warm = train(cold, mix[:split])
        held_out = mix[split:]
        share = sum(cold.is_long(c.seconds) for c in held_out) / len(held_out)
        for label, estimator in (("cold", cold), ("warm", warm)):
            s = scores(estimator, held_out)
            print(
                f"{name:14} {label:9} {share:9.1%} {s['precision']:9.3f} {s['recall']:9.3f}"
                f" {s['accuracy']:9.3f} {s['bias']:+9.3f}"
            )


if __name__ == "__main__":
    main()
