"""One render attempt, start to finish: render → encode → verify → upload, reporting each step.

The artifact is the MP4 and its poster (the first frame); success is reported only once both objects are
verified in the bucket. A lost GPU is reported as a retriable failure and then raised, so the worker exits.

Blocking work (the model, the encoder, the upload) runs in threads; this coroutine only awaits them, so the
worker's loop keeps heartbeating and reading cancellations while a render takes minutes.

What the attempt reports survives a broker restart: progress is advisory, so a progress report the broker
does not acknowledge is dropped (the next one says more); the start and the outcome are reported until the
broker takes them (`riding_out_outages`), while the worker's heartbeats keep the lease. A forwarder that
died on one failed report would leave the attempt waiting forever for its queue to drain: a zombie slot
that heartbeats a job it will never finish.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import tempfile
import threading
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

from gpu_consumers.progress import ReportPolicy, overall_progress
from gpu_consumers.render.base import (
    ENCODE_VIDEO,
    UPLOAD,
    DeviceLost,
    RenderCanceled,
    RenderedVideo,
    Renderer,
    RenderRequest,
    RenderStuck,
    RenderTimeout,
)
from gpu_consumers.video import encode_mp4, verify_mp4, write_poster
from reelstream.errors import ReelstreamError
from reelstream.kafka.clients import BrokerUnavailableError, riding_out_outages
from reelstream.object_store import ObjectStore, ObjectStoreError, poster_key_for
from schemas.events import (
    Artifact,
    DispatchRender,
    ErrorInfo,
    RenderFailed,
    RenderProgress,
    RenderStage,
    RenderStarted,
    RenderSucceeded,
)

logger = logging.getLogger(__name__)
UPLOAD_RETRY_WAITS = (0.5, 1.0, 2.0)  # seconds between the tries of an upload while the store is unavailable

POSTER_TYPE = "image/jpeg"

# publishes one event of the attempt; raises BrokerUnavailableError when the broker does not acknowledge it,
# and is safe to call again with the same event
Report = Callable[[RenderStarted | RenderProgress | RenderSucceeded | RenderFailed], Awaitable[None]]


def _request(cmd: DispatchRender) -> RenderRequest:
    p = cmd.params
    return RenderRequest(
        prompt=cmd.prompt,
        negative_prompt=cmd.negative_prompt,
        width=p.width,
        height=p.height,
        num_frames=p.num_frames,
        fps=p.fps,
        num_inference_steps=p.num_inference_steps,
        guidance_scale=p.guidance_scale,
        seed=p.seed,
        tier=p.tier,
    )


render_request = _request  # a gang's other members render the same request (gpu_consumers.gang_member)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


class ProgressThrottle:
    """Turns the renderer's per-step callbacks (in its thread) into progress reports, as `ReportPolicy`
    decides, each with the attempt's overall progress (`overall_progress`)."""

    def __init__(self, cmd: DispatchRender, interval: float, loop: asyncio.AbstractEventLoop) -> None:
        self._cmd, self._loop = cmd, loop
        self._policy = ReportPolicy(interval)
        self.queue: asyncio.Queue[RenderProgress] = asyncio.Queue()

    def __call__(self, stage: str, step: int, total: int) -> None:
        if not self._policy.should_report(stage, step, total, time.monotonic()):
            return
        event = RenderProgress(
            job_id=self._cmd.job_id,
            slot=self._cmd.slot,
            attempt=self._cmd.attempt,
            stage=RenderStage(stage),
            step=step,
            total_steps=total,
            progress=overall_progress(stage, step, total),
        )
        self._loop.call_soon_threadsafe(self.queue.put_nowait, event)


async def run_attempt(
    cmd: DispatchRender,
    renderer: Renderer,
    store: ObjectStore,
    report: Report,
    canceled: threading.Event,
    worker_id: str,
    progress_interval: float,
    deadline: AttemptDeadline | None = None,
    gpu_done: Callable[[], None] | None = None,
) -> None:
    """Run one attempt and report its outcome; never raises for a failure of the job itself, only (after
    reporting it) for a lost device or a render stuck past its deadline (RenderStuck, a DeviceLost).
    `gpu_done` is called when the GPU part (denoise, decode) ended and the finish begins."""
    ids = {"job_id": cmd.job_id, "slot": cmd.slot, "attempt": cmd.attempt}
    if canceled.is_set():  # canceled while it waited for the slot
        refused = _failed(cmd, ErrorInfo("canceled", "canceled before it started", False))
        await riding_out_outages(lambda: report(refused))
        return
    started = time.monotonic()
    begun = RenderStarted(job_id=cmd.job_id, slot=cmd.slot, attempt=cmd.attempt, worker_id=worker_id)
    await riding_out_outages(lambda: report(begun))
    throttle = ProgressThrottle(cmd, progress_interval, asyncio.get_running_loop())
    forward = asyncio.create_task(_forward(throttle.queue, report))
    lost: DeviceLost | None = None
    try:
        artifact = await _produce_artifact(cmd, renderer, store, throttle, canceled, deadline, gpu_done)
        outcome: RenderSucceeded | RenderFailed = RenderSucceeded(
            job_id=cmd.job_id,
            slot=cmd.slot,
            attempt=cmd.attempt,
            artifact=artifact,
            render_seconds=time.monotonic() - started,
        )
        logger.info("render succeeded", extra=ids)
    except RenderCanceled as exc:
        outcome = _failed(cmd, ErrorInfo("canceled", exc.message, False))
        logger.info("render canceled", extra=ids)
    except DeviceLost as exc:
        outcome, lost = _failed(cmd, ErrorInfo(exc.code, exc.message, True)), exc
        logger.critical("%s: reporting the attempt, then exiting", exc.code, extra=ids)
    except ReelstreamError as exc:
        outcome = _failed(cmd, ErrorInfo(exc.code, exc.message, exc.retriable))
        logger.warning("render failed: %s", exc.code, extra=ids)
    except Exception as exc:  # a bug or an unexpected library error: fail the attempt, keep the worker
        logger.exception("render crashed", extra=ids)
        outcome = _failed(cmd, ErrorInfo("internal", f"{type(exc).__name__}: {exc}", True))
    finally:
        await throttle.queue.join()
        forward.cancel()
    await riding_out_outages(lambda: report(outcome))
    if lost is not None:
        raise lost


def _failed(cmd: DispatchRender, error: ErrorInfo) -> RenderFailed:
    return RenderFailed(job_id=cmd.job_id, slot=cmd.slot, attempt=cmd.attempt, error=error)


async def _forward(queue: asyncio.Queue[RenderProgress], report: Report) -> None:
    """Report each progress event in turn; one the broker does not acknowledge is dropped, not retried."""
    while True:
        event = await queue.get()
        try:
            await report(event)
        except BrokerUnavailableError as exc:
            logger.warning("progress not reported: %s", exc, extra={"step": event.step, "stage": event.stage})
        finally:
            queue.task_done()


@dataclass(frozen=True)
class AttemptDeadline:
    """The render's deadline (seconds from its start) and the grace it has to stop after it."""

    seconds: float
    grace_seconds: float


async def _render(
    cmd: DispatchRender,
    renderer: Renderer,
    throttle: ProgressThrottle,
    canceled: threading.Event,
    deadline: AttemptDeadline | None,
) -> RenderedVideo:
    """The render in a thread. Past the deadline its cancel check turns true, so it stops at the next step
    (RenderTimeout); one still running `grace_seconds` later is stuck (RenderStuck)."""
    if deadline is None:
        return await asyncio.to_thread(renderer.render, _request(cmd), throttle, canceled.is_set)
    expires = time.monotonic() + deadline.seconds

    def stop_now() -> bool:
        return canceled.is_set() or time.monotonic() > expires

    thread = asyncio.ensure_future(asyncio.to_thread(renderer.render, _request(cmd), throttle, stop_now))
    try:
        video = await asyncio.wait_for(asyncio.shield(thread), deadline.seconds + deadline.grace_seconds)
    except TimeoutError:
        raise RenderStuck(
            f"the render ran past its deadline of {deadline.seconds:.0f} s and did not stop within "
            f"{deadline.grace_seconds:.0f} s"
        ) from None
    except RenderCanceled:
        if canceled.is_set():
            raise
        raise RenderTimeout(
            f"the render ran past its deadline of {deadline.seconds:.0f} s and was stopped"
        ) from None
    return video  # one that finished after its deadline without looking is kept: the work is done


async def _produce_artifact(
    cmd: DispatchRender,
    renderer: Renderer,
    store: ObjectStore,
    throttle: ProgressThrottle,
    canceled: threading.Event,
    deadline: AttemptDeadline | None = None,
    gpu_done: Callable[[], None] | None = None,
) -> Artifact:
    video = await _render(cmd, renderer, throttle, canceled, deadline)  # the GPU part: denoise and decode
    if canceled.is_set():
        raise RenderCanceled("canceled after denoising")
    if gpu_done is not None:
        gpu_done()  # the finish may overlap the next render (gpu_consumers.in_flight)
    return await _finish(cmd, video, renderer, store, throttle, canceled)


async def _finish(
    cmd: DispatchRender,
    video: RenderedVideo,
    renderer: Renderer,
    store: ObjectStore,
    throttle: ProgressThrottle,
    canceled: threading.Event,
) -> Artifact:
    """The CPU and I/O part after the GPU's (MP4 encode, decode-verify, poster, upload), which overlaps the
    next render's GPU part (docs/architecture.md, "No idle gap between renders"). A cancel stops it before
    each upload: nothing of a canceled job is stored after the cancel was seen."""
    p = cmd.params
    with tempfile.TemporaryDirectory(prefix="reelstream-") as tmp:
        path, poster = Path(tmp) / "video.mp4", Path(tmp) / "poster.jpg"
        throttle(ENCODE_VIDEO, 0, 1)
        await asyncio.to_thread(encode_mp4, video, path)
        throttle(ENCODE_VIDEO, 1, 1)
        info = await asyncio.to_thread(
            verify_mp4, path, frames=p.num_frames, width=p.width, height=p.height, fps=p.fps
        )
        await asyncio.to_thread(write_poster, video, poster)
        sha256 = await asyncio.to_thread(_sha256, path)
        _stop_if(canceled)
        throttle(UPLOAD, 0, 2)
        poster_key = poster_key_for(cmd.artifact_key)
        poster_sha256 = await asyncio.to_thread(_sha256, poster)
        await _upload(lambda: store.upload(poster, poster_key, poster_sha256, POSTER_TYPE))
        throttle(UPLOAD, 1, 2)
        _stop_if(canceled)
        size = await _upload(lambda: store.upload(path, cmd.artifact_key, sha256))
    return Artifact(
        key=cmd.artifact_key,
        sha256=sha256,
        bytes=size,
        content_type="video/mp4",
        duration_seconds=info.duration_seconds,
        frames=info.frames,
        width=info.width,
        height=info.height,
        fps=info.fps,
        poster_key=poster_key,
        renderer=renderer.name,
        render_settings={**renderer.settings, **video.settings, "tier": p.tier},
    )


def _stop_if(canceled: threading.Event) -> None:
    if canceled.is_set():
        raise RenderCanceled("canceled during its finish")


async def _upload(upload: Callable[[], int]) -> int:
    """An upload tried again after 0.5, 1 and 2 s while the object store is unavailable: a short outage
    costs a moment, not the attempt (which the scheduler would retry only after its own backoff)."""
    for wait in UPLOAD_RETRY_WAITS:
        try:
            return await asyncio.to_thread(upload)
        except ObjectStoreError as exc:
            logger.warning("upload failed; trying again", extra={"retry_in_s": wait, "error": exc.message})
            await asyncio.sleep(wait)  # back off while the store is away (not a synchronization)
    return await asyncio.to_thread(upload)
