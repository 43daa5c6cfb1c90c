"""The benchmark's stand-in renderer: real clips of the requested shape, progress and cancellation as a real
render reports them, picked only by its setting, and never importing torch."""

from __future__ import annotations

import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from gpu_consumers.render.base import RenderCanceled, RenderRequest
from gpu_consumers.render.simulated import SimulatedRenderer, simulated_seconds
from gpu_consumers.renderers import make_renderer
from gpu_consumers.video import encode_mp4, verify_mp4
from reelstream.errors import ConfigurationError
from reelstream.models import BUILTIN_MODELS
from reelstream.settings import RenderSettings

REQUEST = RenderRequest(
    prompt="p",
    negative_prompt=None,
    width=64,
    height=48,
    num_frames=13,
    fps=24,
    num_inference_steps=4,
    guidance_scale=4.5,
    seed=7,
)
TINY = BUILTIN_MODELS["tiny-mochi"]
FAST = 0.001  # of the prior's ~0.5 s: a few ms per render


def test_a_simulated_render_reports_every_stage_and_returns_a_clip_that_encodes(tmp_path: Path) -> None:
    progress: list[tuple[str, int, int]] = []
    video = SimulatedRenderer(TINY, FAST).render(REQUEST, lambda *p: progress.append(p), lambda: False)

    assert video.frames.shape == (13, 48, 64, 3)
    assert video.frames.dtype == np.uint8
    assert progress == [
        ("encode_text", 0, 1),
        ("encode_text", 1, 1),
        *[("denoise", i, 4) for i in range(1, 5)],
        ("decode", 0, 1),
        ("decode", 1, 1),
    ]
    encode_mp4(video, tmp_path / "v.mp4")
    assert verify_mp4(tmp_path / "v.mp4", frames=13, width=64, height=48, fps=24).frames == 13


def test_the_same_seed_gives_the_same_frames_and_another_seed_others() -> None:
    renderer = SimulatedRenderer(TINY, FAST)
    first = renderer.render(REQUEST, lambda *_: None, lambda: False).frames
    again = renderer.render(REQUEST, lambda *_: None, lambda: False).frames
    other = renderer.render(
        replace(REQUEST, seed=2**40 + 8), lambda *_: None, lambda: False
    ).frames  # seeds are wide
    assert np.array_equal(first, again)
    assert not np.array_equal(first, other)


def test_a_cancel_stops_the_render_at_the_next_step() -> None:
    steps: list[int] = []
    with pytest.raises(RenderCanceled, match="step 2 of 4"):
        SimulatedRenderer(TINY, FAST).render(
            REQUEST,
            lambda stage, step, _: steps.append(step) if stage == "denoise" else None,
            lambda: len(steps) >= 2,
        )
    assert steps == [1, 2]


def test_its_time_is_the_cost_priors_times_the_scale() -> None:
    longer = replace(REQUEST, num_frames=25, num_inference_steps=8)  # 25/13 the frames, twice the steps
    assert simulated_seconds(TINY, longer, 1.0) == pytest.approx(
        simulated_seconds(TINY, REQUEST, 1.0) * 25 / 13 * 2
    )
    assert simulated_seconds(TINY, REQUEST, 0.5) == pytest.approx(simulated_seconds(TINY, REQUEST, 1.0) / 2)
    assert simulated_seconds(TINY, REQUEST, 1.0) == pytest.approx(0.5)  # the prior: 0.5 s for 13 frames


def _render(env: dict[str, str]) -> RenderSettings:
    """The worker's render settings, as its `__main__` builds them from the environment."""
    return RenderSettings.from_env(env)


def test_the_worker_gets_it_only_through_its_setting_and_a_bad_scale_fails_at_start_up() -> None:
    renderer = make_renderer("tiny-mochi", "cpu", _render({"REELSTREAM_SIMULATED_RENDER_SCALE": "0.25"}))
    assert isinstance(renderer, SimulatedRenderer)
    assert (renderer.name, renderer.scale) == ("tiny-mochi", 0.25)
    assert renderer.settings == {"simulated": "0.25× the cost model's prior"}
    for bad in ("0", "-1", "nan", "fast"):
        with pytest.raises(ConfigurationError, match="REELSTREAM_SIMULATED_RENDER_SCALE"):
            make_renderer("tiny-mochi", "cpu", _render({"REELSTREAM_SIMULATED_RENDER_SCALE": bad}))
    with pytest.raises(ConfigurationError, match="REELSTREAM_RENDERER: unknown model 'no-such-model'"):
        make_renderer("no-such-model", "cpu", _render({"REELSTREAM_SIMULATED_RENDER_SCALE": "1"}))


def test_a_simulated_worker_never_imports_torch() -> None:
    """Eight simulated workers must fit on a small CPU machine: nothing of the model stack is loaded."""
    probe = (
        "import sys; from gpu_consumers.renderers import make_renderer; "
        "from reelstream.settings import RenderSettings; "
        "from gpu_consumers.worker import Worker; "
        "r = make_renderer('tiny-mochi', 'cpu', RenderSettings(simulated_scale=1.0)); r.load(); "
        "print(sorted(m for m in ('torch', 'diffusers', 'transformers') if m in sys.modules))"
    )
    root = Path(__file__).resolve().parents[3]
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, cwd=root, timeout=120
    )
    assert out.stdout.strip() == "[]"
