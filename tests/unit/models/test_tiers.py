"""A model's tiers, declared in the registry: each a First-Block Cache threshold and a cost factor; the cost
model starts each tier from its own prior and learns each apart."""

from __future__ import annotations

import dataclasses

import pytest

from reelstream.cost_model import CostModel, prior, rate_key, work_units
from reelstream.models import BUILTIN_MODELS, FULL, Tier
from reelstream.models.mochi import MOCHI_1, TINY_MOCHI
from schemas.events import RenderParams

FAST = "fast"
PARAMS = RenderParams(
    model=TINY_MOCHI.id,
    width=64,
    height=48,
    num_frames=13,
    fps=24,
    num_inference_steps=4,
    guidance_scale=4.5,
    seed=1,
)
FAST_PARAMS = dataclasses.replace(PARAMS, tier=FAST)


def test_every_builtin_model_has_a_full_tier_without_cache_and_a_cheaper_fast_one() -> None:
    for spec in BUILTIN_MODELS:
        assert spec.tiers[FULL] == Tier(cache_threshold=None, cost_factor=1.0)
        fast = spec.tiers[FAST]
        assert fast.cache_threshold is not None
        assert fast.cache_threshold > 0
        assert spec.prior_for(FAST) == pytest.approx(spec.cost_prior * fast.cost_factor)
        assert spec.prior_for(FAST) < spec.prior_for(FULL) == spec.cost_prior
        assert spec.prior_for("unknown") == spec.cost_prior
        assert f"tiers {FAST}, {FULL}" in spec.summary()
    assert MOCHI_1.tiers[FAST].cost_factor == pytest.approx(0.6)  # issue 24's 180 s of 300 s


@pytest.mark.parametrize(
    ("threshold", "factor", "message"),
    [
        (0.0, 1.0, "threshold must be > 0"),
        (-0.1, 1.0, "threshold must be > 0"),
        (None, 1.5, "cost factor must be in"),
        (0.1, 0.0, "cost factor must be in"),
    ],
)
def test_a_tier_out_of_range_is_refused(threshold: float | None, factor: float, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Tier(cache_threshold=threshold, cost_factor=factor)


def test_a_model_must_declare_the_full_tier_as_it_is() -> None:
    with pytest.raises(ValueError, match="tier 'full' must exist"):
        dataclasses.replace(TINY_MOCHI, tiers={FAST: Tier(0.2, 0.5)})
    with pytest.raises(ValueError, match="tier 'full' must exist"):
        dataclasses.replace(TINY_MOCHI, tiers={FULL: Tier(0.1)})
    assert dict(dataclasses.replace(TINY_MOCHI, tiers={FULL: Tier()}).tiers) == {FULL: Tier()}


def test_the_cost_model_starts_each_tier_from_its_own_prior() -> None:
    model = CostModel()
    assert prior(FAST_PARAMS) == TINY_MOCHI.prior_for(FAST)
    assert model.seconds(PARAMS) == pytest.approx(TINY_MOCHI.cost_prior * work_units(PARAMS))
    assert model.seconds(FAST_PARAMS) == pytest.approx(
        model.seconds(PARAMS) * TINY_MOCHI.tiers[FAST].cost_factor
    )


def test_the_cost_model_learns_each_tier_apart_and_the_full_tier_keeps_its_old_key() -> None:
    """Fast renders observed on a GPU move the fast estimate only: a shared rate would make full jobs look
    cheaper by whatever share of fast ones the slot happened to render."""
    model = CostModel()
    for _ in range(20):
        model = model.observe(FAST_PARAMS, "h100", 0.1)
    assert model.seconds(FAST_PARAMS, "h100") == pytest.approx(0.1, rel=1e-3)
    assert model.seconds(PARAMS, "h100") == pytest.approx(CostModel().seconds(PARAMS, "h100"))  # untouched
    model = model.observe(PARAMS, "h100", 2.0)
    assert set(model.learned) == {"tiny-mochi|fast|h100", "tiny-mochi|h100"}
    assert (rate_key(PARAMS, "h100"), rate_key(FAST_PARAMS, "a100")) == (
        "tiny-mochi|h100",
        "tiny-mochi|fast|a100",
    )
    # a rate snapshotted before tiers existed ("model|gpu") is the full tier's
    old = CostModel({"tiny-mochi|h100": 1.0 / work_units(PARAMS)})
    assert old.seconds(PARAMS, "h100") == pytest.approx(1.0)
    assert old.seconds(FAST_PARAMS, "h100") == pytest.approx(CostModel().seconds(FAST_PARAMS))
