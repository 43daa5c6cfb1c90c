"""The enumerations and value types the records are made of (Avro enums and nested records)."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum


class JobState(StrEnum):
    ACCEPTED = "accepted"
    QUEUED = "queued"
    DISPATCHED = "dispatched"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELED = "canceled"
    REJECTED = "rejected"
    EXPIRED = "expired"

    @property
    def terminal(self) -> bool:
        return self in TERMINAL_STATES


TERMINAL_STATES = frozenset(
    {JobState.SUCCEEDED, JobState.FAILED, JobState.CANCELED, JobState.REJECTED, JobState.EXPIRED}
)


class RenderStage(StrEnum):
    ENCODE_TEXT = "encode_text"
    DENOISE = "denoise"
    DECODE = "decode"
    ENCODE_VIDEO = "encode_video"
    UPLOAD = "upload"


class JobEventType(StrEnum):
    ACCEPTED = "accepted"
    QUEUED = "queued"
    DISPATCHED = "dispatched"
    STARTED = "started"
    PROGRESS = "progress"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELED = "canceled"
    REJECTED = "rejected"
    EXPIRED = "expired"
    CANCEL_REQUESTED = "cancel_requested"
    REQUEUED = "requeued"
    DELETED = "deleted"  # the job and its video were deleted (by the client or its retention)


class Priority(StrEnum):
    HIGH = "high"
    NORMAL = "normal"
    LOW = "low"

    @property
    def rank(self) -> int:
        """0 runs first."""
        return ("high", "normal", "low").index(self.value)


class WorkerState(StrEnum):
    IDLE = "idle"
    BUSY = "busy"
    DRAINING = "draining"


class DeliveryOutcome(StrEnum):
    DELIVERED = "delivered"
    FAILED = "failed"
    GAVE_UP = "gave_up"


# ---- value types -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RequestedParams:
    model: str | None = None
    width: int | None = None
    height: int | None = None
    num_frames: int | None = None
    duration_seconds: float | None = None
    fps: int | None = None
    num_inference_steps: int | None = None
    guidance_scale: float | None = None
    seed: int | None = None
    quality: str | None = None
    tier: str | None = None


@dataclass(frozen=True, slots=True)  # no __dict__: the status view holds one per job
class RenderParams:
    model: str
    width: int
    height: int
    num_frames: int
    fps: int
    num_inference_steps: int
    guidance_scale: float
    seed: int
    quality: str = "standard"
    tier: str = "full"


@dataclass(frozen=True, slots=True)  # no __dict__: the status view holds one per job
class Artifact:
    key: str
    sha256: str
    bytes: int
    content_type: str
    duration_seconds: float
    frames: int
    width: int
    height: int
    fps: float
    poster_key: str | None = None
    renderer: str = ""
    render_settings: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)  # no __dict__: the status view holds one per job
class ErrorInfo:
    code: str
    message: str
    retriable: bool
