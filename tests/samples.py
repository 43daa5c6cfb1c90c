"""One realistic instance of every record type (factories with overrides), shared by the test trees."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from schemas import events as ev

T0 = datetime(2026, 11, 27, 12, 0, 0, 123000, tzinfo=UTC)


def render_params(**overrides: Any) -> ev.RenderParams:
    base: dict[str, Any] = dict(
        model="tiny-mochi",
        width=64,
        height=48,
        num_frames=13,
        fps=24,
        num_inference_steps=4,
        guidance_scale=4.5,
        seed=2**40 + 7,
    )
    return ev.RenderParams(**{**base, **overrides})


def artifact(**overrides: Any) -> ev.Artifact:
    base: dict[str, Any] = dict(
        key="t1/j1/1/video.mp4",
        sha256="ab" * 32,
        bytes=123_456,
        content_type="video/mp4",
        duration_seconds=13 / 24,
        frames=13,
        width=64,
        height=48,
        fps=24.0,
    )
    return ev.Artifact(**{**base, **overrides})


def job_status(**overrides: Any) -> ev.JobStatus:
    base: dict[str, Any] = dict(
        job_id="j1",
        tenant_id="t1",
        state=ev.JobState.SUCCEEDED,
        prompt="a red fox in snow",
        created_at=T0,
        updated_at=T0,
        stage=ev.RenderStage.UPLOAD,
        negative_prompt="blurry",
        params=render_params(),
        webhook_url="https://example.test/hook",
        metadata={"project": "x"},
        state_times={"queued": T0, "succeeded": T0},
        progress=1.0,
        attempt=1,
        slot=3,
        artifact=artifact(),
        version=7,
    )
    return ev.JobStatus(**{**base, **overrides})


def every_record() -> list[Any]:
    """One instance of each record that travels on its own (commands, events, snapshots)."""
    error = ev.ErrorInfo(code="oom", message="CUDA out of memory", retriable=False)
    return [
        ev.SubmitJob(
            job_id="j1",
            tenant_id="t1",
            prompt="a red fox in snow",
            negative_prompt=None,
            params=ev.RequestedParams(width=64, duration_seconds=2.0, seed=5),
            webhook_url="https://example.test/hook",
            metadata={"k": "v"},
            occurred_at=T0,
        ),
        ev.CancelJob(job_id="j1", tenant_id="t1", reason="changed my mind", occurred_at=T0),
        ev.JobFinished(job_id="j1", tenant_id="t1", state=ev.JobState.SUCCEEDED, occurred_at=T0),
        ev.JobAdmitted(
            job_id="j1",
            tenant_id="t1",
            pool_id="default",
            prompt="p",
            params=render_params(),
            submitted_at=T0,
            occurred_at=T0,
        ),
        ev.CancelRequested(job_id="j1", tenant_id="t1", pool_id="default", occurred_at=T0),
        ev.RenderStarted(job_id="j1", slot=2, attempt=1, worker_id="w-2", occurred_at=T0),
        ev.RenderProgress(
            job_id="j1",
            slot=2,
            attempt=1,
            stage=ev.RenderStage.DENOISE,
            step=3,
            total_steps=4,
            progress=0.75,
            occurred_at=T0,
        ),
        ev.RenderSucceeded(
            job_id="j1", slot=2, attempt=1, artifact=artifact(), render_seconds=1.5, occurred_at=T0
        ),
        ev.RenderFailed(job_id="j1", slot=2, attempt=2, error=error, occurred_at=T0),
        ev.WorkerHeartbeat(
            worker_id="w-2",
            pool_id="default",
            slot=2,
            state=ev.WorkerState.BUSY,
            renderer="tiny-mochi",
            job_id="j1",
            attempt=1,
            gpu_name="NVIDIA H100 80GB HBM3",
            gpu_memory_bytes=80 * 2**30,
            occurred_at=T0,
        ),
        ev.DispatchRender(
            job_id="j1",
            slot=2,
            attempt=1,
            tenant_id="t1",
            prompt="p",
            params=render_params(),
            artifact_key="t1/j1/1/video.mp4",
            occurred_at=T0,
        ),
        ev.CancelRender(job_id="j1", slot=2, attempt=1, occurred_at=T0),
        job_status(),
        ev.JobEvent(
            job_id="j1",
            tenant_id="t1",
            type=ev.JobEventType.FAILED,
            status=job_status(state=ev.JobState.FAILED, artifact=None, error=error),
            occurred_at=T0,
        ),
        ev.TenantLimitState(
            tenant_id="t1",
            rate=0.5,
            burst=3.0,
            tokens=0.25,
            tokens_at=T0,
            full_at=T0,
            queued=2,
            queued_cap=10,
            running_cap=1,
            over="rate",
            throttled_until=T0,
            occurred_at=T0,
        ),
        ev.TenantLimitsSet(tenant_id="t1", rate=2.0, burst=5.0, queued=50, running=2, occurred_at=T0),
        ev.ApiKeyRecord(
            key_id="k1",
            tenant_id="t1",
            roles=("submitter", "viewer"),
            salt="00" * 16,
            secret_sha256="11" * 32,
            created_at=T0,
            expires_at=T0,
            revoked=True,
            revoked_at=T0,
            name="ci",
            created_by="ops",
            occurred_at=T0,
            mac="kek-1:" + "ab" * 32,
        ),
        ev.WebhookDelivery(
            job_id="j1",
            tenant_id="t1",
            webhook_event_id="e1",
            attempt=1,
            outcome=ev.DeliveryOutcome.DELIVERED,
            duration_ms=12.5,
            status_code=204,
            occurred_at=T0,
        ),
        ev.RetryWebhook(
            job_event=ev.JobEvent(
                job_id="j1",
                tenant_id="t1",
                type=ev.JobEventType.SUCCEEDED,
                status=job_status(),
                occurred_at=T0,
            ),
            attempt=2,
            due_at=T0,
            traceparent="00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
            occurred_at=T0,
        ),
        ev.RetryWebhook(
            ping=ev.WebhookPingRequested(
                tenant_id="t1", endpoint_id="ep_1", url="https://example.test/hooks", occurred_at=T0
            ),
            attempt=3,
            due_at=T0,
            endpoint_id="ep_1",
            webhook_id="msg_1",
            occurred_at=T0,
        ),
        ev.WebhookPingRequested(
            tenant_id="t1", endpoint_id="ep_1", url="https://example.test/hooks", occurred_at=T0
        ),
        ev.WebhookSecretIssued(
            tenant_id="t1",
            secret_id="whsk_1",
            sealed_secret="rsenc1.dk_1." + "QUJD" * 12,
            expires_at=T0,
            created_by="ops",
            occurred_at=T0,
        ),
        ev.TenantKeyIssued(
            tenant_id="t1",
            key_id="dk_1",
            kek_id="kek-1",
            wrapped_key=b"\x01" * 60,
            created_at=T0,
            occurred_at=T0,
        ),
        ev.JobKeyIssued(
            tenant_id="t1",
            job_id="j1",
            key_id="jk_1",
            sealed_key="rsenc1.dk_1." + "QUJD" * 16,
            occurred_at=T0,
        ),
        ev.WebhookEndpointRegistered(
            tenant_id="t1",
            endpoint_id="ep_1",
            url="https://example.test/hooks",
            event_types=["job.succeeded", "job.failed"],
            description="ops",
            occurred_at=T0,
        ),
        ev.WebhookEndpointDisabled(
            endpoint_sha256="ab" * 32,
            tenant_id="t1",
            status_code=410,
            webhook_event_id="e1",
            occurred_at=T0,
        ),
        ev.DeadLetter(
            stage="admission",
            source_topic="reelstream.jobs.commands",
            partition=3,
            offset=42,
            error_code="serialization",
            error_message="unknown magic byte 104",
            key=b"t1",
            value=b"hello",
            headers={"traceparent": b"00-abc"},
            occurred_at=T0,
        ),
        ev.IdempotencyRecord(
            tenant_id="t1",
            idempotency_key="k-1",
            request_sha256="cd" * 32,
            job_id="j1",
            completed=True,
            expires_at=T0,
            occurred_at=T0,
        ),
        usage_record(),
        pool_snapshot(),
    ]


def usage_record(**overrides: Any) -> ev.GpuUsageRecorded:
    base: dict[str, Any] = dict(
        attempt_id="j1/1",
        tenant_id="t1",
        job_id="j1",
        attempt=1,
        pool_id="default",
        slot=3,
        gpu_name="NVIDIA H100 80GB HBM3",
        model="tiny-mochi",
        width=64,
        height=48,
        num_frames=13,
        num_inference_steps=4,
        gpu_seconds=12.5,
        outcome="succeeded",
        started_at=T0,
        occurred_at=T0,
    )
    return ev.GpuUsageRecorded(**{**base, **overrides})


def pool_snapshot(**overrides: Any) -> ev.PoolSnapshot:
    busy = ev.PoolSlotJob(job_id="j1", tenant_id="t1", model="tiny-mochi", attempt=1, since=T0)
    base: dict[str, Any] = dict(
        pool_id="default",
        slots=(
            ev.PoolSlot(slot=0, worker_id="w-0", gpu_name="NVIDIA H100 80GB HBM3", last_seen=T0, job=busy),
            ev.PoolSlot(slot=1, worker_id="w-1", gpu_name="", last_seen=T0),
        ),
        queues=(ev.TenantQueue(tenant_id="t1", queued=2), ev.TenantQueue(tenant_id="t2", queued=1)),
        occurred_at=T0,
    )
    return ev.PoolSnapshot(**{**base, **overrides})
