"""The fast tier on the real diffusers Mochi code path, tiny random weights, CPU: First-Block Cache skips
block work, the frames stay close to the full tier's on the same seed, and the one warm pipeline is back to
exact full-tier output after a fast render, whether it finished, failed or was canceled.

Block work is counted at each block's `attn1`: the cache hook replaces a skipped block's forward, so a
forward hook on the block itself would fire for skipped blocks too (the transformer is still called once a
step). Tolerance: the fast tier's frames may differ from the full tier's by at most 1 % of full scale in
mean absolute error. Measured on the default tiny clip (64×48, 13 frames, 4 steps, guidance 4.5) at the
registry's threshold 0.2: 6 of 8 block calls run and the mean error is ≈ 0.1 % (≈ 0.2 of 255), the largest
pixel error ≈ 5 of 255. A threshold of 0.5 skips one more call and reaches ≈ 1 %: the bound lets the tier
skip work as designed and fails a cache that breaks the output, whose error is that of another seed
(checked below: ≈ 7 times the bound).
"""

from __future__ import annotations

import dataclasses
import os

import numpy as np
import pytest
import torch

# huggingface_hub reads this once, at import: set it before diffusers/transformers are imported.
os.environ["HF_HUB_OFFLINE"] = "1"

from diffusers.models.cache_utils import CacheMixin

from gpu_consumers.render.base import RenderCanceled, RenderedVideo, RenderError, RenderRequest
from gpu_consumers.render.mochi import MochiRenderer, tiny_mochi_renderer
from gpu_consumers.render.tiers import tier_cache
from reelstream.models.mochi import TINY_MOCHI

pytestmark = [
    pytest.mark.render,
    # diffusers' Mochi RoPE asks for a float32 CPU autocast, which torch declines with this warning.
    pytest.mark.filterwarnings("ignore:In CPU autocast, but the target dtype is not supported:UserWarning"),
]

MAX_MEAN_ERROR = 0.01  # of full scale: the stated tolerance (see the module's docstring)
THRESHOLD = TINY_MOCHI.tiers["fast"].cache_threshold
DEFAULTS = TINY_MOCHI.defaults
REQUEST = RenderRequest(
    prompt="a red fox running on the beach at sunset",
    negative_prompt=None,
    width=DEFAULTS.width,
    height=DEFAULTS.height,
    num_frames=TINY_MOCHI.default_frames,
    fps=DEFAULTS.fps,
    num_inference_steps=DEFAULTS.num_inference_steps,
    guidance_scale=DEFAULTS.guidance_scale,
    seed=7,
)
FAST = dataclasses.replace(REQUEST, tier="fast")


class BlockCounter:
    """Counts the transformer blocks that really ran (their `attn1` was called)."""

    def __init__(self, transformer: torch.nn.Module) -> None:
        self.calls = 0
        for block in transformer.transformer_blocks:  # type: ignore[union-attr]
            block.attn1.register_forward_pre_hook(self._count)

    def _count(self, module: torch.nn.Module, args: object) -> None:
        self.calls += 1

    def run(self, renderer: MochiRenderer, request: RenderRequest) -> tuple[RenderedVideo, int]:
        self.calls = 0
        video = renderer.render(request, lambda *_: None, lambda: False)
        return video, self.calls


@pytest.fixture(scope="module")
def renderer() -> MochiRenderer:
    renderer = tiny_mochi_renderer()
    renderer.load()
    return renderer


@pytest.fixture(scope="module")
def counter(renderer: MochiRenderer) -> BlockCounter:
    return BlockCounter(renderer.pipeline.transformer)


@pytest.fixture(scope="module")
def full(renderer: MochiRenderer, counter: BlockCounter) -> tuple[RenderedVideo, int]:
    """The full tier's render of REQUEST, before any fast render on this pipeline."""
    return counter.run(renderer, REQUEST)


def mean_error(a: RenderedVideo, b: RenderedVideo) -> float:
    return float(np.abs(a.frames.astype(np.float64) - b.frames.astype(np.float64)).mean() / 255.0)


def cache_on(renderer: MochiRenderer) -> bool:
    transformer = renderer.pipeline.transformer
    assert isinstance(transformer, CacheMixin)
    return bool(transformer.is_cache_enabled)


def test_the_fast_tier_skips_block_work_and_stays_within_tolerance_of_the_full_tier(
    renderer: MochiRenderer, counter: BlockCounter, full: tuple[RenderedVideo, int]
) -> None:
    full_video, full_calls = full
    blocks = len(renderer.pipeline.transformer.transformer_blocks)  # type: ignore[arg-type]
    assert full_calls == blocks * REQUEST.num_inference_steps  # one batched CFG call per step

    fast_video, fast_calls = counter.run(renderer, FAST)
    error = mean_error(fast_video, full_video)
    print(f"fast tier: {fast_calls} of {full_calls} block calls, mean error {error:.5f} of full scale")
    assert fast_calls < full_calls
    assert fast_calls >= REQUEST.num_inference_steps  # the first block runs at every step
    assert 0 < error <= MAX_MEAN_ERROR
    assert (fast_video.settings, full_video.settings) == ({"first_block_cache": f"{THRESHOLD:g}"}, {})

    other_seed, _ = counter.run(renderer, dataclasses.replace(REQUEST, seed=8))
    seed_error = mean_error(other_seed, full_video)
    print(f"another seed: mean error {seed_error:.5f}")
    assert seed_error > 5 * MAX_MEAN_ERROR  # the bound tells a broken render from a close one

    # the same warm pipeline, next a full job: no cache, every block, the exact frames of before
    again, again_calls = counter.run(renderer, REQUEST)
    assert not cache_on(renderer)
    assert again_calls == full_calls
    assert np.array_equal(again.frames, full_video.frames)


def test_the_cache_is_off_again_after_a_canceled_or_failed_fast_render(
    renderer: MochiRenderer, counter: BlockCounter, full: tuple[RenderedVideo, int]
) -> None:
    steps: list[int] = []

    def cancel_after_first_step() -> bool:
        steps.append(1)
        return len(steps) > 2  # asked before the render, then after each step: canceled after step 2 of 4

    with pytest.raises(RenderCanceled):
        renderer.render(FAST, lambda *_: None, cancel_after_first_step)
    assert not cache_on(renderer)

    def boom(module: torch.nn.Module, args: object) -> None:
        raise RuntimeError("injected failure in the last block")

    last = renderer.pipeline.transformer.transformer_blocks[-1]  # type: ignore[index]
    hook = last.register_forward_pre_hook(boom)
    try:
        with pytest.raises(RenderError, match="injected failure"):
            renderer.render(FAST, lambda *_: None, lambda: False)
    finally:
        hook.remove()
    assert not cache_on(renderer)

    after, calls = counter.run(renderer, REQUEST)
    assert calls == full[1]
    assert np.array_equal(after.frames, full[0].frames)


def test_a_tier_the_model_lacks_is_refused_before_rendering(
    renderer: MochiRenderer, counter: BlockCounter
) -> None:
    counter.calls = 0
    with pytest.raises(RenderError, match="not 'turbo'"):
        renderer.render(dataclasses.replace(REQUEST, tier="turbo"), lambda *_: None, lambda: False)
    assert counter.calls == 0
    assert not cache_on(renderer)


def test_tier_cache_removes_the_cache_whatever_the_body_raises(renderer: MochiRenderer) -> None:
    transformer = renderer.pipeline.transformer

    seen: list[bool] = []

    def failing_body() -> None:
        with tier_cache(transformer, 0.3):
            seen.append(cache_on(renderer))
            raise KeyError("the body failed")

    with pytest.raises(KeyError):
        failing_body()
    assert seen == [True]
    assert not cache_on(renderer)
    with tier_cache(transformer, None):  # the full tier: nothing to switch on
        assert not cache_on(renderer)
    with pytest.raises(RenderError, match="must be > 0"), tier_cache(transformer, 0.0):
        pass
