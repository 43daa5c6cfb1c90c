"""Genmo's Mochi family: the full-size Mochi 1 and tiny-mochi, its random-weight CPU-sized twin."""

from __future__ import annotations

from reelstream.models.spec import FULL, FULL_TIER, Defaults, FrameRule, Limits, ModelSpec, Preset, Tier

# Mochi's VAE compresses time by 6 after a first frame of its own: clips are 6k+1 frames long.
MOCHI_FRAMES = FrameRule(step=6, offset=1)

# Genmo's defaults for Mochi 1: 848×480 at 30 fps, 64 steps, guidance 4.5; 163 frames ≈ 5.4 s. A preview
# (512×288, 24 steps) costs about 1/12 of that: a third of the tokens, attention quadratic in them.
# Cost prior: ≈ 10 min for the default clip (848×480×163 frames × 64 steps with CFG) on one H100.
# Work limit: 4× the default clip (≈ 40 min on one H100 by the prior): the default clip at the largest size
# (2.6×) or a 10 s clip at the default size (1.8×) fit; the largest of every range at once (≈ 30×) does not.
MOCHI_1_DEFAULT_WORK = 848 * 480 * 163 * 64 * 2
FAST = "fast"
# The fast tier: First-Block Cache (gpu_consumers.render.tiers). Threshold: a starting point in the range
# First-Block Cache is run at on video DiTs (≈ 0.05–0.15), not yet measured on Mochi 1's real weights; the
# device script measures its deviation from the full tier on the same seed. Cost: the target, 180 s
# for the default video where the full tier takes 300 s, until the scheduler has observed the tier.
MOCHI_1_FAST = Tier(cache_threshold=0.1, cost_factor=0.6)
MOCHI_1 = ModelSpec(
    id="mochi-1",
    display_name="Mochi 1 (Genmo, 10B)",
    defaults=Defaults(
        width=848, height=480, fps=30, duration_seconds=5.4, num_inference_steps=64, guidance_scale=4.5
    ),
    presets={"preview": Preset(width=512, height=288, num_inference_steps=24)},
    limits=Limits(max_work_units=4 * MOCHI_1_DEFAULT_WORK),
    tiers={FULL: FULL_TIER, FAST: MOCHI_1_FAST},
    frame_rule=MOCHI_FRAMES,
    cost_prior=600.0 / MOCHI_1_DEFAULT_WORK,
    renderer="gpu_consumers.renderers:build_mochi_1",
    max_gang_slots=8,  # 24 heads: 2 CFG branches × Ulysses 4, or Ulysses 8 without guidance
    license="Apache-2.0 (genmo/mochi-1-preview weights)",
)

# Random weights, CPU-sized: the real pipeline code for development and tests; a default clip renders in
# well under a second on a CPU. Work limit: 8192× the default clip (about an hour of a CPU by the prior):
# room for the slow renders the tests ask for (cancel and failover mid-render take ~5000×), while the
# largest of every range at once (~8·10⁸×) is refused.
TINY_MOCHI_DEFAULT_WORK = 64 * 48 * 13 * 4 * 2
# Random weights change more between steps than trained ones: 0.2 is what makes the tiny model skip work
# (its default clip: 6 of 8 block calls, frames within 0.001 mean absolute error of the full tier; measured
# in tests/integration/test_tiers.py). The cost factor follows the block calls.
TINY_MOCHI_FAST = Tier(cache_threshold=0.2, cost_factor=0.75)
TINY_MOCHI = ModelSpec(
    id="tiny-mochi",
    display_name="tiny Mochi (random weights, for development)",
    defaults=Defaults(
        width=64, height=48, fps=24, duration_seconds=0.5, num_inference_steps=4, guidance_scale=4.5
    ),
    presets={"preview": Preset(width=32, height=32, num_inference_steps=2)},
    limits=Limits(max_work_units=8192 * TINY_MOCHI_DEFAULT_WORK),
    tiers={FULL: FULL_TIER, FAST: TINY_MOCHI_FAST},
    frame_rule=MOCHI_FRAMES,
    cost_prior=0.5 / TINY_MOCHI_DEFAULT_WORK,
    renderer="gpu_consumers.renderers:build_tiny_mochi",
    max_gang_slots=2,  # 2 heads: the 2 CFG branches, or Ulysses 2 without guidance
    license="Apache-2.0 (Mochi's pipeline code; the weights are random, made at start-up)",
)

MODELS = (MOCHI_1, TINY_MOCHI)
DEFAULT_MODEL = MOCHI_1.id  # what a deployment serves unless configured otherwise
DEV_MODEL = TINY_MOCHI.id  # what `reelstream dev` and the tests run: no weights, a CPU is enough
