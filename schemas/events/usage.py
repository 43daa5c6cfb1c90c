"""Usage metering: one record per render attempt that held a GPU (`reelstream.usage.events`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from schemas.events.ids import new_id, utc_now

USAGE_OUTCOMES = ("succeeded", "failed", "canceled", "timed_out")


def attempt_id_of(job_id: str, attempt: int) -> str:
    """The key of an attempt's usage record: `job_id/attempt`."""
    return f"{job_id}/{attempt}"


@dataclass(frozen=True)
class GpuUsageRecorded:
    attempt_id: str
    tenant_id: str
    job_id: str
    attempt: int
    pool_id: str
    slot: int
    gpu_name: str
    model: str
    width: int
    height: int
    num_frames: int
    num_inference_steps: int
    gpu_seconds: float
    outcome: str  # one of USAGE_OUTCOMES
    started_at: datetime
    error_code: str | None = None
    event_id: str = field(default_factory=new_id)
    occurred_at: datetime = field(default_factory=utc_now)
