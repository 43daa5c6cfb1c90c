"""Usage metering on the worker: one `GpuUsageRecorded` per attempt that held the GPU.

Pure (no Kafka): the worker tells the meter when an attempt's start and outcome are reported, on its
monotonic clock, and publishes what it returns. The same instants drive the slot's busy-seconds counter
(`reelstream.metrics.WorkerMetrics`), so usage and busy time are one measurement seen two ways.

An outcome reported again (the broker did not acknowledge it the first time) gets the same record back,
event id included: published twice under its attempt id, it still counts once.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from schemas.events import (
    DispatchRender,
    GpuUsageRecorded,
    RenderFailed,
    RenderSucceeded,
    attempt_id_of,
)

TIMED_OUT_CODES = frozenset({"render_timeout"})  # RenderTimeout, and RenderStuck past its grace
RECENT_OUTCOMES = 64  # outcomes kept for a repeated report; an attempt is reported again within seconds


def outcome_of(event: RenderSucceeded | RenderFailed) -> tuple[str, str | None]:
    """(outcome, error code): succeeded, canceled, timed_out (a render past its deadline) or failed."""
    if isinstance(event, RenderSucceeded):
        return "succeeded", None
    code = event.error.code
    if code == "canceled":
        return "canceled", code
    return ("timed_out" if code in TIMED_OUT_CODES else "failed"), code


@dataclass(frozen=True)
class Started:
    command: DispatchRender
    monotonic: float
    wall: datetime


class UsageMeter:
    """Measures each attempt between the reports of its start and its outcome (or the end of its GPU
    part, when its finish overlaps the next render: `gpu_done`)."""

    def __init__(self, pool_id: str, gpu_name: str) -> None:
        self.pool_id, self.gpu_name = pool_id, gpu_name
        self._started: dict[str, Started] = {}
        self._ended: dict[str, GpuUsageRecorded] = {}
        self._gpu_ended: dict[str, float] = {}  # attempts whose finish overlaps the next render

    def gpu_done(self, command: DispatchRender, now: float) -> None:
        """The attempt left the GPU to the next one for its finish: its usage ends here, not at its
        outcome, so two attempts never bill the same GPU seconds."""
        key = attempt_id_of(command.job_id, command.attempt)
        if key in self._started:
            self._gpu_ended.setdefault(key, now)

    def started(self, command: DispatchRender, now: float, wall: datetime | None = None) -> None:
        key = attempt_id_of(command.job_id, command.attempt)
        if key not in self._started and key not in self._ended:
            self._started[key] = Started(command, now, wall or datetime.now(UTC))

    def finished(self, event: RenderSucceeded | RenderFailed, now: float) -> GpuUsageRecorded | None:
        """The attempt's usage record; None for one that never started (canceled while it waited)."""
        key = attempt_id_of(event.job_id, event.attempt)
        if key in self._ended:
            return self._ended[key]
        start = self._started.pop(key, None)
        if start is None:
            return None
        seconds = max(0.0, self._gpu_ended.pop(key, now) - start.monotonic)
        outcome, code = outcome_of(event)
        p, cmd = start.command.params, start.command
        record = GpuUsageRecorded(
            attempt_id=key,
            tenant_id=cmd.tenant_id,
            job_id=cmd.job_id,
            attempt=cmd.attempt,
            pool_id=self.pool_id,
            slot=cmd.slot,
            gpu_name=self.gpu_name,
            model=p.model,
            width=p.width,
            height=p.height,
            num_frames=p.num_frames,
            num_inference_steps=p.num_inference_steps,
            gpu_seconds=seconds,
            outcome=outcome,
            error_code=code,
            started_at=start.wall,
            occurred_at=start.wall + timedelta(seconds=seconds),
        )
        self._ended[key] = record
        while len(self._ended) > RECENT_OUTCOMES:
            del self._ended[next(iter(self._ended))]
        return record
