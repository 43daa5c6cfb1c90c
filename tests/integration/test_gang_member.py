"""A gang's members as separate processes joining one gloo group through the leader's TCP store
(gpu_consumers.gang_member), rendering with the simulated renderer (an all-reduce per step): they meet,
split the simulated time, and leave; a member SIGKILLed mid-render breaks the leader's next step
(GangBroken, retriable) instead of hanging it; a member that never comes fails the rendezvous in time."""

from __future__ import annotations

import multiprocessing
import os
import queue
import signal
import time
from multiprocessing.queues import Queue
from typing import Any

import numpy as np
import pytest

from devstack.process import free_port
from gpu_consumers.gang_member import Gang, GangBroken, GangRenderer
from gpu_consumers.render.base import DENOISE, Renderer, RenderRequest
from gpu_consumers.render.mochi import tiny_mochi_renderer
from gpu_consumers.render.simulated import SimulatedRenderer
from reelstream.models import BUILTIN_MODELS
from reelstream.settings import GangSettings
from schemas.events import DispatchRender
from tests.samples import render_params

pytestmark = [
    pytest.mark.render,  # imports torch
    # diffusers' Mochi RoPE asks for a float32 CPU autocast, which torch declines with this warning.
    pytest.mark.filterwarnings("ignore:In CPU autocast, but the target dtype is not supported:UserWarning"),
]

STEPS = 6
REQUEST = RenderRequest(
    prompt="p",
    negative_prompt=None,
    width=64,
    height=48,
    num_frames=13,
    fps=24,
    num_inference_steps=STEPS,
    guidance_scale=4.5,
    seed=7,
)
DEADLINE = 120.0  # seconds any wait below may take on a loaded machine; none is a sleep


def dispatch(rank: int, size: int, attempt: int = 1) -> DispatchRender:
    return DispatchRender(
        job_id="j1",
        slot=rank,
        attempt=attempt,
        tenant_id="t1",
        prompt="p",
        params=render_params(),
        artifact_key="t1/j1/1/video.mp4",
        gang_size=size,
        gang_rank=rank,
        gang_leader_slot=0,
    )


def member(
    rank: int, size: int, port_base: int, scale: float, timeout: float, out: Queue[Any], mochi: bool = False
) -> None:
    """One member's process: join, render (saying which step it is at), leave; put what happened. With
    `mochi`, the member renders with the tiny Mochi itself, which splits the work across the gang."""
    settings = GangSettings("tcp://127.0.0.1:{port}", port_base, timeout)
    gang = Gang(dispatch(rank, size), settings, "cpu")
    inner: Renderer = (
        tiny_mochi_renderer() if mochi else SimulatedRenderer(BUILTIN_MODELS["tiny-mochi"], scale)
    )
    inner.load()
    renderer = GangRenderer(inner, gang)
    started = time.monotonic()
    try:
        video = renderer.render(
            REQUEST, lambda stage, step, total: out.put(("step", rank, stage, step)), lambda: False
        )
        out.put(("done", rank, video.frames.tobytes() if rank == 0 else b"", time.monotonic() - started))
    except GangBroken as exc:
        out.put(("broken", rank, exc.code, exc.retriable))
    finally:
        gang.leave()


def spawn(
    rank: int, size: int, port_base: int, scale: float, timeout: float, out: Queue[Any], mochi: bool = False
) -> Any:
    process = multiprocessing.get_context("spawn").Process(
        target=member, args=(rank, size, port_base, scale, timeout, out, mochi), daemon=True
    )
    process.start()
    return process


class Events:
    """What the members put on `out`, kept as read: waiting for one event does not drop the others."""

    def __init__(self) -> None:
        self.out: Queue[Any] = multiprocessing.get_context("spawn").Queue()
        self.seen: list[tuple[Any, ...]] = []

    def wait(self, kind: str, rank: int) -> tuple[Any, ...]:
        deadline = time.monotonic() + DEADLINE
        while True:
            found = next((e for e in self.seen if e[0] == kind and e[1] == rank), None)
            if found is not None:
                return found
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"no {kind} from rank {rank} within {DEADLINE} s: {self.seen}")
            try:
                self.seen.append(tuple(self.out.get(timeout=left)))
            except queue.Empty:
                continue


def test_two_members_meet_render_as_one_and_only_the_leader_keeps_the_frames() -> None:
    events = Events()
    port_base = free_port()
    processes = [spawn(rank, 2, port_base, 0.02, 60.0, events.out) for rank in (0, 1)]
    leader = events.wait("done", 0)
    events.wait("done", 1)
    for process in processes:
        process.join(DEADLINE)
        assert process.exitcode == 0
    alone = SimulatedRenderer(BUILTIN_MODELS["tiny-mochi"], 0.02).render(
        REQUEST, lambda *_: None, lambda: False
    )
    assert np.frombuffer(leader[2], dtype=np.uint8).tobytes() == alone.frames.tobytes()


def test_a_gang_of_two_tiny_mochi_workers_renders_what_one_renders_alone() -> None:
    """The seam between the worker's gang (its rendezvous and group) and the renderer's split of the work
    (gpu_consumers/render/parallel: with guidance on, a gang of two splits the CFG branches)."""
    events = Events()
    port_base = free_port()
    processes = [spawn(rank, 2, port_base, 0.0, 120.0, events.out, mochi=True) for rank in (0, 1)]
    leader = events.wait("done", 0)
    follower = events.wait("done", 1)
    for process in processes:
        process.join(DEADLINE)
        assert process.exitcode == 0
    assert follower[2] == b""  # only the leader decodes
    steps = [e[3] for e in events.seen if e[:3] == ("step", 1, DENOISE)]
    assert steps[-1] == STEPS  # the follower took part in every step
    alone = tiny_mochi_renderer()
    alone.load()
    frames = alone.render(REQUEST, lambda *_: None, lambda: False).frames
    together = np.frombuffer(leader[2], dtype=np.uint8).reshape(frames.shape)
    assert np.abs(together.astype(int) - frames.astype(int)).max() <= 1  # one uint8 level


def test_a_member_killed_mid_render_breaks_the_leaders_next_step_instead_of_hanging_it() -> None:
    events = Events()
    port_base = free_port()
    # a slow render (≈ 0.5 s a step per member) and a long collective timeout: only the broken
    # connection can end the leader's wait early
    processes = [spawn(rank, 2, port_base, 2.0, 600.0, events.out) for rank in (0, 1)]
    events.wait("step", 1)  # the member is past the rendezvous and rendering
    os.kill(processes[1].pid, signal.SIGKILL)
    broken = events.wait("broken", 0)
    assert broken[2:] == ("gang_broken", True)
    processes[0].join(DEADLINE)
    assert processes[0].exitcode == 0


def test_a_member_that_never_comes_fails_the_rendezvous_within_its_timeout() -> None:
    events = Events()
    process = spawn(0, 2, free_port(), 0.02, 3.0, events.out)
    broken = events.wait("broken", 0)
    assert broken[2:] == ("gang_broken", True)
    process.join(DEADLINE)
