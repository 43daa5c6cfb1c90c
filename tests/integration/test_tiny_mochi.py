"""The real diffusers Mochi code path on CPU, with tiny random weights built in code (no hub, no files)."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import torch

# huggingface_hub reads this once, at import: set it before diffusers/transformers are imported.
os.environ["HF_HUB_OFFLINE"] = "1"

from gpu_consumers.render.base import (
    DECODE,
    DENOISE,
    ENCODE_TEXT,
    RenderCanceled,
    RenderError,
    RenderRequest,
)
from gpu_consumers.render.mochi import MochiRenderer, tiny_mochi_renderer
from gpu_consumers.render.tiny_mochi import build_tiny_mochi_pipeline
from gpu_consumers.video import encode_mp4, verify_mp4

pytestmark = [
    pytest.mark.render,
    # diffusers' Mochi RoPE asks for a float32 CPU autocast, which torch declines with this warning.
    pytest.mark.filterwarnings("ignore:In CPU autocast, but the target dtype is not supported:UserWarning"),
]

RequestFactory = Callable[..., RenderRequest]
Progress = list[tuple[str, int, int]]


@pytest.fixture(scope="module")
def renderer() -> MochiRenderer:
    renderer = tiny_mochi_renderer()
    renderer.load()
    return renderer


@pytest.fixture
def request_factory() -> RequestFactory:
    base = RenderRequest(
        prompt="a red cat running on the beach at sunset",
        negative_prompt="blurry",
        width=32,
        height=32,
        num_frames=7,
        fps=8,
        num_inference_steps=2,
        guidance_scale=4.5,
        seed=1234,
    )

    def factory(**overrides: object) -> RenderRequest:
        return dataclasses.replace(base, **overrides)  # type: ignore[arg-type]

    return factory


def never() -> bool:
    return False


def test_tiny_pipeline_weights_are_fixed_and_leave_the_global_rng_alone() -> None:
    rng_before = torch.random.get_rng_state()

    first = build_tiny_mochi_pipeline().transformer.state_dict()
    second = build_tiny_mochi_pipeline().transformer.state_dict()

    assert torch.equal(torch.random.get_rng_state(), rng_before)
    assert first.keys() == second.keys()
    assert all(torch.equal(first[key], second[key]) for key in first)


def test_frames_have_the_requested_shape_and_dtype(
    renderer: MochiRenderer, request_factory: RequestFactory
) -> None:
    video = renderer.render(request_factory(width=48, height=32), lambda *_: None, never)

    assert video.frames.shape == (7, 32, 48, 3)
    assert video.frames.dtype == np.uint8
    assert video.fps == 8


def test_same_seed_is_bit_identical_and_another_seed_differs(
    renderer: MochiRenderer, request_factory: RequestFactory
) -> None:
    first = renderer.render(request_factory(seed=7), lambda *_: None, never)
    second = renderer.render(request_factory(seed=7), lambda *_: None, never)
    other = renderer.render(request_factory(seed=8), lambda *_: None, never)

    assert np.array_equal(first.frames, second.frames)
    assert not np.array_equal(first.frames, other.frames)


def test_progress_arrives_in_stage_order(renderer: MochiRenderer, request_factory: RequestFactory) -> None:
    progress: Progress = []

    renderer.render(request_factory(num_inference_steps=3), lambda *report: progress.append(report), never)

    assert progress == [
        (ENCODE_TEXT, 0, 1),
        (ENCODE_TEXT, 1, 1),
        (DENOISE, 1, 3),
        (DENOISE, 2, 3),
        (DENOISE, 3, 3),
        (DECODE, 0, 1),
        (DECODE, 1, 1),
    ]


def test_cancel_after_first_step_stops_before_decode(
    renderer: MochiRenderer, request_factory: RequestFactory
) -> None:
    progress: Progress = []

    def canceled_after_first_step() -> bool:
        return (DENOISE, 1, 4) in progress

    with pytest.raises(RenderCanceled):
        renderer.render(
            request_factory(num_inference_steps=4),
            lambda *report: progress.append(report),
            canceled_after_first_step,
        )

    assert [stage for stage, _, _ in progress] == [ENCODE_TEXT, ENCODE_TEXT, DENOISE]


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"width": 30}, "width"),
        ({"height": 0}, "height"),
        ({"num_frames": 8}, "num_frames"),
        ({"num_inference_steps": 1}, "num_inference_steps"),
    ],
)
def test_invalid_inputs_raise_render_error(
    renderer: MochiRenderer, request_factory: RequestFactory, overrides: dict[str, int], message: str
) -> None:
    progress: Progress = []

    with pytest.raises(RenderError, match=message):
        renderer.render(request_factory(**overrides), lambda *report: progress.append(report), never)

    assert progress == []


def test_render_before_load_is_an_error(request_factory: RequestFactory) -> None:
    with pytest.raises(RenderError, match="before load"):
        tiny_mochi_renderer().render(request_factory(), lambda *_: None, never)


def test_rendered_video_encodes_to_a_verified_mp4(
    renderer: MochiRenderer, request_factory: RequestFactory, tmp_path: Path
) -> None:
    video = renderer.render(request_factory(num_frames=13), lambda *_: None, never)
    path = tmp_path / "render.mp4"

    encode_mp4(video, path)
    info = verify_mp4(path, frames=13, width=32, height=32)

    assert info.fps == 8.0
    assert info.codec == "h264"
