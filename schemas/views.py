"""The JSON representation of a job: what `GET /v1/jobs/{id}`, SSE and webhooks show a client."""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime
from typing import Any

from schemas.events import JobStatus


def _iso(ts: datetime) -> str:
    return ts.isoformat().replace("+00:00", "Z")


def job_resource(status: JobStatus) -> dict[str, Any]:
    """A job as clients see it. The webhook URL is not echoed (it may carry a token); metadata is."""
    return {
        "id": status.job_id,
        "object": "job",
        "status": status.state.value,
        "stage": status.stage.value if status.stage else None,
        "prompt": status.prompt,
        "negative_prompt": status.negative_prompt,
        "parameters": asdict(status.params) if status.params else None,
        "metadata": dict(status.metadata),
        "has_webhook": status.webhook_url is not None,
        "created_at": _iso(status.created_at),
        "updated_at": _iso(status.updated_at),
        "timestamps": {
            state: _iso(ts) for state, ts in sorted(status.state_times.items(), key=lambda i: i[1])
        },
        "progress": status.progress,
        "queue_position": status.queue_position,
        "eta_seconds": status.eta_seconds,
        "attempt": status.attempt,
        "artifact": asdict(status.artifact) if status.artifact else None,
        "error": asdict(status.error) if status.error else None,
        "version": status.version,
        "priority": status.priority.value,
        "deadline": _iso(status.deadline) if status.deadline else None,
        "reason": status.reason,
    }
