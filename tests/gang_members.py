"""Run tiny-Mochi renders as the members of a gang: one spawned process per rank, gloo on loopback.

`run_gang(world_size, scenarios, folder)` starts the members (torch.multiprocessing spawn, a file
rendezvous in `folder`), waits for them with a deadline (killing them past it), and returns each scenario's
results per rank. Every member runs every scenario in order: one spawn pays the imports once.
"""

from __future__ import annotations

import contextlib
import os
import pickle
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

GANG_HEADS = 4  # the tiny transformer with 4 heads: sequence parallel over 2 or 4 divides it
BASE_REQUEST = {
    "prompt": "a red cat running on the beach at sunset",
    "negative_prompt": "blurry",
    "width": 32,
    "height": 32,
    "num_frames": 7,
    "fps": 8,
    "num_inference_steps": 3,
    "guidance_scale": 4.5,
    "seed": 1234,
}


@dataclass(frozen=True)
class Scenario:
    name: str
    overrides: dict[str, Any] = field(default_factory=dict)  # on BASE_REQUEST
    split_cfg: bool = True
    cancel_after: int | None = None  # the leader's cancel check turns true after this many steps
    check_fails_after: int | None = None  # the last member's cancel check raises after this many steps


@dataclass
class MemberResult:
    latents: Any = None  # np.ndarray of the final latents
    frames: Any = None  # np.ndarray of the renderer's frames (empty on followers)
    denoise_steps: list[int] = field(default_factory=list)  # DENOISE progress seen by the renderer
    error: str | None = None  # type and message of what render() raised
    block_input: tuple[int, ...] = ()  # the first attention's input (batch, video tokens, dims) here


def request_for(scenario: Scenario) -> Any:
    from gpu_consumers.render.base import RenderRequest

    return RenderRequest(**{**BASE_REQUEST, **scenario.overrides})


def tiny_renderer() -> Any:
    from gpu_consumers.render.mochi import MochiRenderer
    from gpu_consumers.render.tiny_mochi import MAX_SEQUENCE_LENGTH, build_tiny_mochi_pipeline

    renderer = MochiRenderer(
        lambda: build_tiny_mochi_pipeline(heads=GANG_HEADS),
        name="tiny-gang",
        max_sequence_length=MAX_SEQUENCE_LENGTH,
    )
    renderer.load()
    return renderer


@contextlib.contextmanager
def observed(pipe: Any, result: MemberResult) -> Iterator[None]:
    """Record the latents after each scheduler step (the last: the final latents) and the input shape of
    the first attention (this member's share of the batch and of the video tokens, as the hooks left it)."""
    step = pipe.scheduler.step

    def recording_step(*args: Any, **kwargs: Any) -> Any:
        out = step(*args, **kwargs)
        result.latents = out[0].numpy().copy()
        return out

    def probe(module: Any, args: Any, kwargs: dict[str, Any]) -> None:
        result.block_input = tuple(kwargs["hidden_states"].shape)

    attention = pipe.transformer.transformer_blocks[0].attn1
    handle = attention.register_forward_pre_hook(probe, with_kwargs=True)
    pipe.scheduler.step = recording_step
    try:
        yield
    finally:
        del pipe.scheduler.step  # the class's method again
        handle.remove()


def pipeline_latents(renderer: Any, scenario: Scenario, gang: Any) -> None:
    """The scenario through the pipeline itself under `gang_run`, for a split the renderer does not choose
    (`split_cfg=False`); only the latents are of interest."""
    import torch

    from gpu_consumers.render.parallel.session import gang_run
    from gpu_consumers.render.tiny_mochi import MAX_SEQUENCE_LENGTH

    request, pipe = request_for(scenario), renderer.pipeline
    guided = request.guidance_scale > 1.0
    with (
        gang_run(gang, pipe.transformer, guided=guided, device="cpu", split_cfg=scenario.split_cfg),
        torch.inference_mode(),
    ):
        pipe(
            prompt=request.prompt,
            negative_prompt=request.negative_prompt,
            height=request.height,
            width=request.width,
            num_frames=request.num_frames,
            num_inference_steps=request.num_inference_steps,
            guidance_scale=request.guidance_scale,
            generator=torch.Generator().manual_seed(request.seed),
            output_type="latent",
            return_dict=False,
            max_sequence_length=MAX_SEQUENCE_LENGTH,
        )


def render_member(renderer: Any, scenario: Scenario, gang: Any) -> MemberResult:
    from gpu_consumers.render.base import DENOISE

    result = MemberResult()
    seen: list[int] = result.denoise_steps

    def on_progress(stage: str, step: int, total: int) -> None:
        if stage == DENOISE:
            seen.append(step)

    def is_canceled() -> bool:
        leader, last = gang is None or gang.is_leader, gang is None or gang.rank == gang.world_size - 1
        if last and scenario.check_fails_after is not None and len(seen) >= scenario.check_fails_after:
            raise OSError("cancel check broken")
        return leader and scenario.cancel_after is not None and len(seen) >= scenario.cancel_after

    with observed(renderer.pipeline, result):
        if not scenario.split_cfg:
            pipeline_latents(renderer, scenario, gang)
            return result
        try:
            result.frames = renderer.render(request_for(scenario), on_progress, is_canceled, gang=gang).frames
        except Exception as exc:  # the test compares what every member raised
            result.error = f"{type(exc).__name__}: {exc}"
    return result


def _member(rank: int, world_size: int, scenarios: list[Scenario], folder: str) -> None:
    os.environ.setdefault("GLOO_SOCKET_IFNAME", "lo")
    os.environ["HF_HUB_OFFLINE"] = "1"
    import torch
    import torch.distributed as dist

    from gpu_consumers.render.gang import GangContext

    torch.set_num_threads(1)
    dist.init_process_group(
        "gloo", init_method=f"file://{folder}/rendezvous", rank=rank, world_size=world_size
    )
    try:
        gang = GangContext(rank=rank, world_size=world_size, group=dist.group.WORLD)
        renderer = tiny_renderer()
        results = {scenario.name: render_member(renderer, scenario, gang) for scenario in scenarios}
    finally:
        dist.destroy_process_group()
    Path(folder, f"rank{rank}.pickle").write_bytes(pickle.dumps(results))


def run_gang(
    world_size: int, scenarios: list[Scenario], folder: Path, deadline_s: float = 540.0
) -> dict[str, list[MemberResult]]:
    """Each scenario's result on every rank, in rank order; fails if a member fails or the deadline passes."""
    import torch.multiprocessing as mp

    context = mp.start_processes(
        _member,
        args=(world_size, scenarios, str(folder)),
        nprocs=world_size,
        join=False,
        start_method="spawn",
    )
    deadline = time.monotonic() + deadline_s
    try:
        while not context.join(timeout=5):
            if time.monotonic() > deadline:
                raise TimeoutError(f"a gang of {world_size} did not finish in {deadline_s:.0f} s")
    finally:
        for process in context.processes:
            if process.is_alive():
                process.kill()
    # written by the members this function started, in the test's own temporary folder
    files = [Path(folder, f"rank{rank}.pickle") for rank in range(world_size)]
    by_rank = [pickle.loads(file.read_bytes()) for file in files]  # noqa: S301
    return {scenario.name: [results[scenario.name] for results in by_rank] for scenario in scenarios}


def run_alone(scenarios: list[Scenario]) -> dict[str, MemberResult]:
    """The same scenarios rendered by one process with no gang: the reference."""
    renderer = tiny_renderer()
    return {scenario.name: render_member(renderer, scenario, None) for scenario in scenarios}
