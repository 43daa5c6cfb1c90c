"""The long-job estimator: a cold one is the cost model with a threshold; it learns online from outcomes."""

from __future__ import annotations

import math
import random

from hypothesis import given
from hypothesis import strategies as st

from reelstream.cost_model import CostModel
from reelstream.long_jobs import JobFeatures, LongJobEstimator, outcome
from tests.samples import render_params


def features(
    cost_seconds: float, prompt: str = "a fox", tenant: str = "t1", in_flight: int = 0
) -> JobFeatures:
    return JobFeatures(
        model="tiny-mochi",
        tenant_id=tenant,
        cost_seconds=cost_seconds,
        prompt_chars=len(prompt),
        words=len(prompt.split()),
        clauses=1 + prompt.count(","),
        in_flight=in_flight,
    )


def test_a_cold_estimator_says_long_where_the_cost_model_expects_more_than_the_threshold() -> None:
    cold = LongJobEstimator(threshold_seconds=100.0)
    assert cold.probability(features(100.0)) == 0.5
    assert cold.estimate(features(50.0)).predicted_long is False
    assert cold.estimate(features(200.0)).predicted_long is True
    assert cold.probability(features(90.0)) < cold.probability(features(110.0))


def test_the_decision_probability_is_the_setting() -> None:
    strict = LongJobEstimator(threshold_seconds=100.0, decision_probability=0.9)
    assert strict.estimate(features(200.0)).predicted_long is False  # p ≈ 0.89
    assert strict.estimate(features(400.0)).predicted_long is True


def test_features_count_the_prompts_words_and_clauses_and_take_the_cost_models_seconds() -> None:
    params = render_params()
    f = JobFeatures.of("a fox runs, then it jumps and lands", params, "t1", 4, CostModel())
    assert (f.prompt_chars, f.words, f.clauses, f.in_flight) == (35, 8, 4, 4)
    assert f.cost_seconds == CostModel().seconds(params)
    assert f.model == params.model


def test_outcomes_for_long() -> None:
    assert [outcome(p, t) for p, t in [(True, True), (False, False), (True, False), (False, True)]] == [
        "tp",
        "tn",
        "fp",
        "fn",
    ]


def test_learning_corrects_a_cost_prior_that_underestimates() -> None:
    """The GPUs run twice as slow as the prior says: a cold estimator misses the jobs expected at 60-100 %
    of the threshold; after a few hundred outcomes the warm one catches them."""
    rng = random.Random(3)
    estimator = LongJobEstimator(threshold_seconds=100.0)
    held_out = [features(c) for c in (60.0, 70.0, 80.0, 90.0)]  # all truly long (120-180 s)
    assert not any(estimator.estimate(f).predicted_long for f in held_out)
    for _ in range(400):
        cost = rng.uniform(10.0, 150.0)
        estimator = estimator.learn(features(cost), 2.0 * cost)
    assert all(estimator.estimate(f).predicted_long for f in held_out)
    assert not estimator.estimate(features(30.0)).predicted_long  # 60 s: still short
    assert estimator.observed == 400


def test_learning_picks_up_a_prompt_feature_the_cost_model_misses() -> None:
    """Long prompts render long here (say, a prompt-expansion stage): the estimator learns it."""
    rng = random.Random(5)
    long_prompt = ", ".join(["a fox in the snow and a hare"] * 8)
    estimator = LongJobEstimator(threshold_seconds=100.0)
    for _ in range(600):
        wordy = rng.random() < 0.5
        f = features(80.0, long_prompt if wordy else "a fox")
        estimator = estimator.learn(f, 140.0 if wordy else 70.0)
    assert estimator.estimate(features(80.0, long_prompt)).predicted_long
    assert not estimator.estimate(features(80.0, "a fox")).predicted_long


def test_a_tenants_history_is_bounded() -> None:
    estimator = LongJobEstimator(threshold_seconds=100.0)
    for i in range(30):
        estimator = estimator.learn(features(50.0, tenant=f"t{i}"), 10.0)
    assert len(estimator.tenant_history) == 30
    assert estimator.tenant_history["t0"] < 0.5  # its jobs were short


@given(
    cost=st.floats(0.0, 1e7),
    chars=st.integers(0, 100_000),
    clauses=st.integers(0, 10_000),
    in_flight=st.integers(0, 10**6),
    seconds=st.floats(0.0, 1e7),
)
def test_probabilities_stay_probabilities_whatever_is_learned(
    cost: float, chars: int, clauses: int, in_flight: int, seconds: float
) -> None:
    f = JobFeatures("m", "t", cost, chars, chars // 5, clauses, in_flight)
    estimator = LongJobEstimator()
    for _ in range(3):
        estimator = estimator.learn(f, seconds)
        p = estimator.probability(f)
        assert 0.0 <= p <= 1.0
        assert not math.isnan(p)
        assert all(math.isfinite(w) for w in estimator.weights)
