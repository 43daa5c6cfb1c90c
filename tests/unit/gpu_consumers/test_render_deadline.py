"""A render's deadline: past it the render is stopped at its next step (`render_timeout`, the slot is free
again); a render that does not stop within the grace period is stuck (RenderStuck: the attempt is reported
and the worker process ends). The deadline is a multiple of the prediction plus a margin, with a ceiling."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from dataclasses import replace

import pytest

from gpu_consumers.job import AttemptDeadline, ProgressThrottle, _render
from gpu_consumers.render.base import (
    DENOISE,
    CancelCheck,
    DeviceLost,
    ProgressCallback,
    RenderCanceled,
    RenderedVideo,
    RenderRequest,
    RenderStuck,
    RenderTimeout,
)
from gpu_consumers.worker import Worker
from reelstream.cost_model import RenderDeadline
from reelstream.endpoints import Endpoints
from reelstream.settings import PipelineSettings, WorkerSettings
from schemas import events as ev
from tests.samples import T0, render_params


class SlowRenderer:
    """Denoises forever, `step_seconds` a step, and looks at its cancel check after each step unless told
    not to (then it hangs until `release` is set: a render stuck in a kernel)."""

    name = "slow"
    settings: dict[str, str] = {}

    def __init__(self, step_seconds: float, looks: bool = True) -> None:
        self.step_seconds, self.looks = step_seconds, looks
        self.release = threading.Event()
        self.steps = 0

    def load(self) -> None:
        return None

    def render(
        self, request: RenderRequest, on_progress: ProgressCallback, is_canceled: CancelCheck
    ) -> RenderedVideo:
        while not self.release.wait(self.step_seconds):
            self.steps += 1
            on_progress(DENOISE, self.steps, 10**6)
            if self.looks and is_canceled():
                raise RenderCanceled(f"canceled after denoise step {self.steps}")
        raise RenderCanceled("released")


@pytest.fixture
def slow() -> Iterator[list[SlowRenderer]]:
    made: list[SlowRenderer] = []
    yield made
    for renderer in made:  # never leave a thread behind
        renderer.release.set()


def dispatch() -> ev.DispatchRender:
    return ev.DispatchRender(
        job_id="j1",
        slot=0,
        attempt=1,
        tenant_id="t1",
        prompt="p",
        params=render_params(),
        artifact_key="t1/j1/1/video.mp4",
        occurred_at=T0,
    )


async def render_with(renderer: SlowRenderer, deadline: AttemptDeadline, canceled: threading.Event) -> None:
    throttle = ProgressThrottle(dispatch(), 10.0, asyncio.get_running_loop())
    try:
        await _render(dispatch(), renderer, throttle, canceled, deadline)
    finally:  # a stuck render's thread would keep asyncio.run from returning (the worker ends its process)
        renderer.release.set()


def test_the_deadline_is_a_multiple_of_the_prediction_plus_a_margin_with_a_ceiling() -> None:
    deadline = RenderDeadline(multiple=3.0, margin_seconds=60.0, max_seconds=7200.0)
    assert deadline.seconds(600.0) == 1860.0
    assert deadline.seconds(0.0) == 60.0
    assert deadline.seconds(10_000.0) == 7200.0


def test_past_its_deadline_a_render_is_stopped_at_its_next_step(slow: list[SlowRenderer]) -> None:
    renderer = SlowRenderer(0.01)
    slow.append(renderer)
    with pytest.raises(RenderTimeout) as stopped:
        asyncio.run(render_with(renderer, AttemptDeadline(0.2, 30.0), threading.Event()))
    assert stopped.value.code == "render_timeout"
    assert stopped.value.retriable
    assert renderer.steps >= 10  # it ran until the deadline, then stopped at a step boundary


def test_a_render_that_does_not_stop_within_the_grace_period_is_stuck(slow: list[SlowRenderer]) -> None:
    renderer = SlowRenderer(0.01, looks=False)
    slow.append(renderer)
    with pytest.raises(RenderStuck) as stuck:
        asyncio.run(render_with(renderer, AttemptDeadline(0.1, 0.2), threading.Event()))
    assert isinstance(stuck.value, DeviceLost)  # the worker reports the attempt, then its process ends
    assert stuck.value.code == "render_timeout"


def test_a_cancel_before_the_deadline_is_a_cancel_not_a_timeout(slow: list[SlowRenderer]) -> None:
    renderer = SlowRenderer(0.01)
    slow.append(renderer)
    canceled = threading.Event()
    canceled.set()
    with pytest.raises(RenderCanceled) as refused:
        asyncio.run(render_with(renderer, AttemptDeadline(60.0, 30.0), canceled))
    assert not isinstance(refused.value, RenderTimeout)


def test_a_dispatch_with_a_deadline_multiple_gets_a_longer_deadline() -> None:
    """The retry of a job predicted long (streams.scheduling's long-task path) stretches its prediction."""
    nowhere = Endpoints("127.0.0.1:1", "http://127.0.0.1:1", "http://127.0.0.1:1", "a", "s", "b")
    deadline = RenderDeadline(3.0, 10.0, 10_000.0, 5.0)
    settings = WorkerSettings(PipelineSettings(endpoints=nowhere), slot=0, deadline=deadline)
    worker = Worker(settings, SlowRenderer(0.01))  # type: ignore[arg-type]
    plain = ev.DispatchRender("j", 0, 1, "t", "p", render_params(), "t/j/1/video.mp4")
    plain_deadline = worker._deadline(plain)
    stretched = worker._deadline(replace(plain, attempt=2, deadline_multiple=2.0))
    assert stretched.seconds - 10.0 == pytest.approx(2 * (plain_deadline.seconds - 10.0))
    assert stretched.grace_seconds == plain_deadline.grace_seconds
