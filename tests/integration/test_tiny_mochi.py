"""The real diffusers Mochi code path with tiny random weights built in code (no hub, no files).

Every test runs on the CPU, and again on CUDA under the `gpu` marker where a GPU is present (skipped
otherwise). On a GPU machine without this project's services: bench/run_on_gpu.sh runs them.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest
import torch

# huggingface_hub reads this once, at import: set it before diffusers/transformers are imported.
os.environ["HF_HUB_OFFLINE"] = "1"

from gpu_consumers.render.base import (
    DECODE,
    DENOISE,
    ENCODE_TEXT,
    DeviceLost,
    RenderCanceled,
    RenderError,
    RenderRequest,
)
from gpu_consumers.render.mochi import MochiRenderer, tiny_mochi_renderer
from gpu_consumers.render.options import (
    MochiOptions,
    available_attention_kernels,
    compile_transformer,
    pin_attention_kernel,
)
from gpu_consumers.render.tiny_mochi import MAX_SEQUENCE_LENGTH, build_tiny_mochi_pipeline

pytestmark = [
    pytest.mark.render,
    # diffusers' Mochi RoPE asks for a float32 CPU autocast, which torch declines with this warning.
    pytest.mark.filterwarnings("ignore:In CPU autocast, but the target dtype is not supported:UserWarning"),
]

RequestFactory = Callable[..., RenderRequest]
Progress = list[tuple[str, int, int]]


CUDA = pytest.param(
    "cuda",
    marks=[
        pytest.mark.gpu,
        pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device"),
    ],
)


@pytest.fixture(scope="module", params=["cpu", CUDA])
def device(request: pytest.FixtureRequest) -> str:
    name: str = request.param
    return name


@pytest.fixture(scope="module")
def renderer(device: str) -> MochiRenderer:
    renderer = tiny_mochi_renderer(device=device)
    renderer.load()
    return renderer


def broken_renderer(device: str, error: Exception, options: MochiOptions | None = None) -> MochiRenderer:
    """A tiny renderer whose transformer raises `error` at its first step: a failure injected at the seam."""

    def factory():  # type: ignore[no-untyped-def]
        pipe = build_tiny_mochi_pipeline()

        def fail(*args: object, **kwargs: object) -> None:
            raise error

        pipe.transformer.forward = fail
        return pipe

    renderer = MochiRenderer(
        factory, device=device, name="broken", max_sequence_length=MAX_SEQUENCE_LENGTH, options=options
    )
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


def test_out_of_memory_is_not_retriable_and_says_what_to_change(
    device: str, request_factory: RequestFactory
) -> None:
    oom = torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 20.00 GiB")
    renderer = broken_renderer(device, oom, MochiOptions(vae_tiling=False))

    with pytest.raises(RenderError) as caught:
        renderer.render(request_factory(), lambda *_: None, never)

    assert not caught.value.retriable
    assert "out of GPU memory" in caught.value.message
    assert "REELSTREAM_VAE_TILING=on" in caught.value.message
    assert "32x32, 7 frames" in caught.value.message


def test_a_broken_cuda_context_is_a_lost_device(device: str, request_factory: RequestFactory) -> None:
    error = RuntimeError("CUDA error: an illegal memory access was encountered")
    renderer = broken_renderer(device, error)

    with pytest.raises(DeviceLost, match="illegal memory access"):
        renderer.render(request_factory(), lambda *_: None, never)


def test_another_runtime_error_fails_only_the_render(device: str, request_factory: RequestFactory) -> None:
    renderer = broken_renderer(device, RuntimeError("shapes cannot be multiplied"))

    with pytest.raises(RenderError, match="shapes cannot be multiplied") as caught:
        renderer.render(request_factory(), lambda *_: None, never)

    assert not isinstance(caught.value, DeviceLost)


def test_in_a_gang_a_runtime_error_is_left_for_the_gang_to_judge(
    device: str, request_factory: RequestFactory
) -> None:
    """A collective that failed because another member died must reach the worker's gang as it is (it makes
    it a retriable gang_broken), not become this member's final render_failed."""
    renderer = tiny_mochi_renderer(device=device)
    peer_gone = RuntimeError("[gloo] Connection closed by peer")

    with pytest.raises(RuntimeError) as caught, renderer._torch_errors(request_factory(), in_gang=True):
        raise peer_gone

    assert caught.value is peer_gone


def test_levers_are_recorded(device: str) -> None:
    renderer = tiny_mochi_renderer(device=device, options=MochiOptions(attention="math", vae_tiling=False))

    assert renderer.options.record() == {
        "attention": "math",
        "vae_tiling": "off",
        "compile": "off",
        "tf32": "on",
        "cpu_offload": "off",
        "fp8_linear": "off",
        "fp8_attention": "off",
    }


def test_vae_tiling_setting_reaches_the_vae(renderer: MochiRenderer, device: str) -> None:
    untiled = tiny_mochi_renderer(device=device, options=MochiOptions(vae_tiling=False))
    untiled.load()

    assert renderer.pipeline.vae.use_tiling
    assert not untiled.pipeline.vae.use_tiling


def test_every_fast_attention_kernel_renders_the_same_frames(
    device: str, request_factory: RequestFactory
) -> None:
    kernels = available_attention_kernels(device, head_dim=8)
    if not kernels:
        pytest.skip(f"no fast attention kernel on {device}")

    def render(kernel: str) -> npt.NDArray[np.uint8]:
        # fused kernels run half precision only: the tiny model in bf16, like the full one
        renderer = MochiRenderer(
            lambda: build_tiny_mochi_pipeline(torch.bfloat16),
            device=device,
            max_sequence_length=MAX_SEQUENCE_LENGTH,
            options=MochiOptions(attention=kernel),
        )
        renderer.load()
        return renderer.render(request_factory(), lambda *_: None, never).frames

    reference = render("math")
    for kernel in kernels:
        frames = render(kernel)
        # kernels differ in rounding, not in what they compute
        assert frames.shape == reference.shape
        assert np.abs(frames.astype(int) - reference.astype(int)).mean() <= 4, kernel


def test_the_kernel_is_pinned_in_the_joint_attention_only(
    device: str, request_factory: RequestFactory
) -> None:
    if device != "cpu":
        pytest.skip("needs a kernel this device lacks")
    renderer = tiny_mochi_renderer(device=device, options=MochiOptions(attention="cudnn"))
    renderer.load()

    # cuDNN attention does not exist on a CPU: the joint attention must refuse rather than fall back
    with pytest.raises(RenderError, match=r"No viable backend|No available kernel"):
        renderer.render(request_factory(), lambda *_: None, never)


def test_cancel_hands_gpu_memory_back(
    renderer: MochiRenderer, device: str, request_factory: RequestFactory
) -> None:
    if device != "cuda":
        pytest.skip("GPU memory only")
    torch.cuda.synchronize()
    torch.cuda.empty_cache()
    before = torch.cuda.memory_reserved()  # the weights, nothing cached

    with pytest.raises(RenderCanceled):
        renderer.render(
            request_factory(width=256, height=256, num_inference_steps=4), lambda *_: None, lambda: True
        )

    assert torch.cuda.memory_reserved() <= before


def test_same_seed_gives_a_bit_identical_verified_mp4(
    renderer: MochiRenderer, request_factory: RequestFactory, tmp_path: Path
) -> None:
    video = pytest.importorskip("gpu_consumers.video", reason="PyAV is not installed")
    paths = [tmp_path / "first.mp4", tmp_path / "second.mp4"]
    for path in paths:
        frames = renderer.render(request_factory(num_frames=13, seed=99), lambda *_: None, never)
        video.encode_mp4(frames, path)

    info = video.verify_mp4(paths[0], frames=13, width=32, height=32)
    assert info.fps == 8.0
    assert info.codec == "h264"
    assert paths[0].read_bytes() == paths[1].read_bytes()


@pytest.fixture
def dynamo_settings() -> Iterator[None]:
    """compile_transformer changes a process-wide dynamo setting: it is put back after the test."""
    import torch._dynamo

    with torch._dynamo.config.patch(capture_dynamic_output_shape_ops=False):
        yield


def test_a_compiled_model_is_warmed_up_at_load_not_in_the_first_job(
    device: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    if device != "cpu":
        pytest.skip("the warm-up is device-independent")
    from gpu_consumers.render import mochi
    from gpu_consumers.renderers import make_renderer
    from reelstream.settings import RenderSettings

    compiled: list[torch.nn.Module] = []

    def compile_transformer(model: torch.nn.Module) -> torch.nn.Module:  # compiling itself: tested below
        compiled.append(model)
        return model

    monkeypatch.setattr(mochi, "compile_transformer", compile_transformer)
    calls: list[int] = []

    def counting_pipeline():  # type: ignore[no-untyped-def]
        pipe = build_tiny_mochi_pipeline()
        forward = pipe.transformer.forward

        def counted(*args: object, **kwargs: object) -> object:
            calls.append(1)
            return forward(*args, **kwargs)

        pipe.transformer.forward = counted
        return pipe

    warmup = make_renderer("tiny-mochi", "cpu", RenderSettings()).warmup  # type: ignore[attr-defined]
    assert len(warmup) == 2  # the model's defaults and its preview preset
    renderer = MochiRenderer(
        counting_pipeline,
        max_sequence_length=MAX_SEQUENCE_LENGTH,
        options=MochiOptions(compile=True),
        warmup=warmup,
    )
    renderer.load()

    assert compiled, "compile was not asked for"
    assert len(calls) == 2 * mochi.WARMUP_STEPS, "load() did not run a few steps of each shape"
    assert [(s.width, s.height) for s in renderer.warmed] == [(64, 48), (32, 32)]


@pytest.mark.usefixtures("dynamo_settings")
@pytest.mark.filterwarnings("ignore:`torch.jit.script_method` is deprecated:DeprecationWarning")  # inductor's
def test_the_compiled_blocks_break_no_graph_whatever_the_prompt_length(device: str) -> None:
    """Compiled as the renderer compiles it, its joint attention pinned: no graph break (a break inside the
    pinning context would run each attention layer eager), the eager model's output, and a prompt of another
    length runs without compiling again."""
    import torch._dynamo
    from torch._dynamo.utils import counters

    dtype = torch.bfloat16 if device == "cuda" else torch.float32
    transformer = build_tiny_mochi_pipeline().transformer.to(device, dtype)
    pin_attention_kernel(transformer, "auto", device)
    torch._dynamo.reset()
    counters.clear()
    reference = build_tiny_mochi_pipeline().transformer.to(device, dtype)
    pin_attention_kernel(reference, "auto", device)
    compiled = compile_transformer(transformer)
    config = transformer.config
    generator = torch.Generator(device).manual_seed(7)
    latents = torch.randn(2, config.in_channels, 2, 8, 8, generator=generator, device=device, dtype=dtype)
    text = torch.randn(2, 16, config.text_embed_dim, generator=generator, device=device, dtype=dtype)
    timestep = torch.full((2,), 500.0, device=device)

    def step(model: torch.nn.Module, lengths: tuple[int, int]) -> torch.Tensor:
        mask = torch.zeros(2, 16, dtype=torch.long, device=device)
        for row, length in enumerate(lengths):
            mask[row, :length] = 1
        with torch.inference_mode():
            return model(  # type: ignore[no-any-return]
                hidden_states=latents,
                encoder_hidden_states=text,
                timestep=timestep,
                encoder_attention_mask=mask,
                return_dict=False,
            )[0]

    torch.testing.assert_close(step(compiled, (1, 9)), step(reference, (1, 9)), atol=2e-2, rtol=2e-2)
    graphs = counters["stats"]["unique_graphs"]
    step(compiled, (1, 12))
    step(compiled, (3, 5))

    assert graphs >= 1, "nothing was compiled"
    assert not counters["graph_break"], sorted(counters["graph_break"])
    assert counters["stats"]["unique_graphs"] <= graphs + 1  # at most one more: the lengths made dynamic
    step(compiled, (2, 14))
    assert counters["stats"]["unique_graphs"] <= graphs + 1
