"""Faults injected while jobs flow through the real processes; after each, every accepted job ended exactly
once, no webhook-id carried two payloads, no job got two artifacts (tests.reliability.invariants), and the
counts are recorded (the session's summary prints them)."""

from __future__ import annotations

from schemas.events import JobEvent, JobEventType, RenderStage
from tests.reliability.support import LONG_STEPS, RunFactory


def _long_render_denoising(event: JobEvent) -> bool:
    params = event.status.params
    return (
        event.type == JobEventType.PROGRESS
        and event.status.stage == RenderStage.DENOISE
        and params is not None
        and params.num_inference_steps == LONG_STEPS
    )


async def test_a_worker_killed_mid_render(fault_run: RunFactory) -> None:
    async with fault_run("worker SIGKILL mid-render") as run:
        await run.submit([run.body(i, long=i < 2) for i in range(8)])
        started = await run.until(_long_render_denoising)
        victim = f"worker-{started.status.slot}"
        run.kill(victim)
        run.respawn(victim)
        await run.finish()
    requeued = [e for e in run.tail.read if e.job_id == started.job_id and e.type == JobEventType.REQUEUED]
    assert requeued, "the killed worker's job was never requeued"
