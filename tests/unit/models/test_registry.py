"""The model registry: specs checked when declared, extra model modules loaded by name, the pool's models
read and checked, and a model's renderer built from the factory its spec names."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from devstack.cli import build_parser
from gpu_consumers.render.base import RenderRequest
from gpu_consumers.render.simulated import SimulatedRenderer
from gpu_consumers.renderers import make_renderer, mochi_options, warmup_requests
from gpu_consumers.video import encode_mp4, verify_mp4
from reelstream.cost_model import PRIOR_SECONDS_PER_UNIT
from reelstream.errors import ConfigurationError
from reelstream.models import BUILTIN_MODELS, FrameRule, ModelRegistry, load_registry
from reelstream.settings import PipelineSettings, RenderSettings
from tests.fake_model import FAKE_CLIP

WITH_FAKE = load_registry("tests.fake_model")
STORE = {"REELSTREAM_S3_ACCESS_KEY": "test-access", "REELSTREAM_S3_SECRET_KEY": "test-secret"}


def test_the_built_in_registry_holds_each_model_once_with_its_cost_prior() -> None:
    assert BUILTIN_MODELS.ids == ("mochi-1", "tiny-mochi")
    assert dict(PRIOR_SECONDS_PER_UNIT) == {spec.id: spec.cost_prior for spec in BUILTIN_MODELS}
    assert WITH_FAKE.ids == ("fake-clip", "fake-clip-hd", "mochi-1", "tiny-mochi")
    assert WITH_FAKE["fake-clip"] is FAKE_CLIP
    assert load_registry("") is BUILTIN_MODELS
    with pytest.raises(ConfigurationError, match="'tiny-mochi' is registered twice"):
        ModelRegistry([*BUILTIN_MODELS, BUILTIN_MODELS["tiny-mochi"]])


def test_a_spec_that_cannot_work_is_refused_when_declared() -> None:
    with pytest.raises(ValueError, match=re.escape("renderer must be 'package.module:function'")):
        dataclasses.replace(FAKE_CLIP, renderer="tests.fake_model.build_renderer")
    with pytest.raises(ValueError, match="cost_prior must be > 0"):
        dataclasses.replace(FAKE_CLIP, cost_prior=0)
    with pytest.raises(ValueError, match="model id"):
        dataclasses.replace(FAKE_CLIP, id="a,b")


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ("tests.no_such_module", "REELSTREAM_EXTRA_MODELS: cannot import 'tests.no_such_module'"),
        ("tests.samples", "REELSTREAM_EXTRA_MODELS: module tests.samples must define MODELS"),
        ("tests.fake_model,tests.fake_model", "'fake-clip' is registered twice"),
    ],
)
def test_a_bad_extra_models_setting_is_a_configuration_error_naming_it(extra: str, message: str) -> None:
    with pytest.raises(ConfigurationError, match=re.escape(message)):
        PipelineSettings.from_env({**STORE, "REELSTREAM_EXTRA_MODELS": extra})


def test_the_pool_models_and_extra_models_settings_reach_the_pipeline_settings() -> None:
    settings = PipelineSettings.from_env(
        {
            **STORE,
            "REELSTREAM_EXTRA_MODELS": " tests.fake_model ",
            "REELSTREAM_POOL_MODELS": "fake-clip, tiny-mochi",
        }
    )
    assert settings.models == WITH_FAKE
    assert settings.pool_models == frozenset({"fake-clip", "tiny-mochi"})
    assert settings.models.served(settings.pool_models).ids == ("fake-clip", "tiny-mochi")
    everything = PipelineSettings.from_env(STORE)
    assert (everything.pool_models, everything.models) == (None, BUILTIN_MODELS)
    assert everything.models.served(None) is BUILTIN_MODELS


@pytest.mark.parametrize(
    ("env", "variable"),
    [
        ({"REELSTREAM_POOL_MODELS": "tiny-mochi,fake-clip"}, "REELSTREAM_POOL_MODELS"),  # not loaded
        ({"REELSTREAM_DEFAULT_MODEL": "sora-9"}, "REELSTREAM_DEFAULT_MODEL"),
    ],
)
def test_an_unregistered_model_in_a_setting_names_the_setting(env: dict[str, str], variable: str) -> None:
    expected = f"{variable}: unknown model.*registered: mochi-1, tiny-mochi"
    with pytest.raises(ConfigurationError, match=expected):
        PipelineSettings.from_env({**STORE, **env})


@given(
    step=st.integers(1, 8),
    offset=st.integers(0, 2),
    duration=st.floats(0.01, 20),
    fps=st.integers(1, 60),
)
def test_the_frame_rule_picks_an_allowed_count_within_the_limit_where_one_exists(
    step: int, offset: int, duration: float, fps: int
) -> None:
    rule = FrameRule(step, offset)
    frames = rule.frames_for(duration, fps, max_duration_seconds=10.0)
    assert rule.allows(frames)
    assert frames == rule.minimum or frames / fps <= 10.0


def test_the_worker_builds_the_renderer_its_model_names(tmp_path: Path) -> None:
    renderer = make_renderer("fake-clip", "cpu", RenderSettings(), WITH_FAKE)
    assert isinstance(renderer, SimulatedRenderer)
    assert renderer.name == "fake-clip"
    request: RenderRequest = dataclasses.replace(warmup_requests(FAKE_CLIP)[0], num_inference_steps=1)
    assert (request.width, request.height, request.num_frames, request.fps) == (40, 24, 9, 8)
    video = renderer.render(request, lambda *_: None, lambda: False)
    encode_mp4(video, tmp_path / "fake.mp4")
    assert verify_mp4(tmp_path / "fake.mp4", frames=9, width=40, height=24, fps=8).frames == 9
    with pytest.raises(ConfigurationError, match="REELSTREAM_RENDERER: unknown model 'fake-clip'"):
        make_renderer("fake-clip", "cpu", {})  # the worker was not given the extra module


def test_a_model_is_warmed_up_on_every_shape_it_serves_by_default() -> None:
    mochi, preview = warmup_requests(BUILTIN_MODELS["mochi-1"])  # its defaults first, then its preset
    assert (mochi.width, mochi.height, mochi.num_frames, mochi.fps) == (848, 480, 163, 30)
    assert (mochi.num_inference_steps, mochi.guidance_scale) == (64, 4.5)
    assert (preview.width, preview.height, preview.num_frames) == (512, 288, 163)
    tiny, tiny_preview = warmup_requests(BUILTIN_MODELS["tiny-mochi"])
    assert (tiny.width, tiny.height, tiny.num_frames, tiny.fps) == (64, 48, 13, 24)
    assert tiny.num_inference_steps == 4
    assert (tiny_preview.width, tiny_preview.height) == (32, 32)


@pytest.mark.parametrize(
    ("setting", "device", "compiled"),
    [
        ("auto", "cuda", True),
        ("auto", "cuda:3", True),
        ("auto", "cpu", False),
        ("on", "cpu", True),
        ("off", "cuda", False),
    ],
)
def test_compile_is_on_by_default_for_a_cuda_worker_only(setting: str, device: str, compiled: bool) -> None:
    assert mochi_options(RenderSettings(compile=setting), device).compile is compiled


def test_a_renderer_that_cannot_be_imported_fails_at_start_up() -> None:
    broken = dataclasses.replace(FAKE_CLIP, id="broken", renderer="tests.fake_model:no_such_factory")
    with pytest.raises(
        ConfigurationError, match=re.escape("model broken: renderer 'tests.fake_model:no_such_factory'")
    ):
        make_renderer("broken", "cpu", RenderSettings(), ModelRegistry([broken]))


def test_the_cli_lists_the_registered_models_with_their_limits(capsys: pytest.CaptureFixture[str]) -> None:
    args = build_parser().parse_args(["models"])
    assert args.func(args, {"REELSTREAM_EXTRA_MODELS": "tests.fake_model"}) == 0
    listed = capsys.readouterr().out.splitlines()
    assert [line.split("`")[1] for line in listed] == ["fake-clip", "fake-clip-hd", "mochi-1", "tiny-mochi"]
    assert "num_frames 4k+1 with k ≥ 1; clip at most 2 s" in listed[0]
    assert "num_frames 6k+1 with k ≥ 1; clip at most 10 s" in listed[2]
