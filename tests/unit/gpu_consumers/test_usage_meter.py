"""The worker's usage meter: one record per attempt that started, the same seconds as the busy counter."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from gpu_consumers.usage import UsageMeter, outcome_of
from reelstream.metrics import Metrics, WorkerMetrics
from schemas import events as ev
from tests.samples import artifact, render_params


def dispatch(job_id: str = "j", attempt: int = 1, tenant_id: str = "t") -> ev.DispatchRender:
    return ev.DispatchRender(
        job_id=job_id,
        slot=0,
        attempt=attempt,
        tenant_id=tenant_id,
        prompt="never in a usage record",
        params=render_params(width=96, height=64, num_frames=19, num_inference_steps=7),
        artifact_key=f"{tenant_id}/{job_id}/{attempt}/video.mp4",
    )


def failed(job_id: str, attempt: int, code: str) -> ev.RenderFailed:
    return ev.RenderFailed(job_id=job_id, slot=0, attempt=attempt, error=ev.ErrorInfo(code, "m", False))


def test_a_started_attempt_gets_one_record_with_its_shape_and_seconds() -> None:
    meter = UsageMeter("default", "cpu")
    meter.started(dispatch(), now=100.0)
    record = meter.finished(failed("j", 1, "canceled"), now=103.25)
    assert record is not None
    assert (record.attempt_id, record.tenant_id, record.job_id, record.attempt) == ("j/1", "t", "j", 1)
    assert (record.model, record.width, record.height, record.num_frames) == ("tiny-mochi", 96, 64, 19)
    assert record.num_inference_steps == 7
    assert record.gpu_seconds == 3.25
    assert (record.outcome, record.error_code) == ("canceled", "canceled")
    assert record.occurred_at > record.started_at
    assert "prompt" not in vars(record)
    assert meter.finished(failed("j", 1, "canceled"), now=200.0) is record  # reported again: the same record


def test_an_attempt_canceled_before_it_started_used_no_gpu() -> None:
    assert UsageMeter("default", "cpu").finished(failed("j", 1, "canceled"), now=5.0) is None


def test_outcomes() -> None:
    ok = ev.RenderSucceeded(job_id="j", slot=0, attempt=1, artifact=artifact(), render_seconds=1.0)
    assert outcome_of(ok) == ("succeeded", None)
    assert outcome_of(failed("j", 1, "render_timeout")) == ("timed_out", "render_timeout")
    assert outcome_of(failed("j", 1, "oom")) == ("failed", "oom")


@given(
    st.lists(
        st.tuples(
            st.floats(0.0, 100.0),
            st.lists(st.floats(0.0, 10.0), max_size=4),
            st.sampled_from(["oom", "canceled"]),
        ),
        min_size=1,
        max_size=8,
    )
)
def test_usage_seconds_equal_the_busy_counter(attempts: list[tuple[float, list[float], str]]) -> None:
    """Whatever the attempts and the heartbeats between them, the records' seconds sum to the busy time."""
    metrics = Metrics()
    worker, meter = WorkerMetrics(metrics, "default", 0, "cpu", "tiny"), UsageMeter("default", "cpu")
    now, total = 0.0, 0.0
    for n, (idle, beats, code) in enumerate(attempts):
        now += idle
        cmd = dispatch(job_id=f"j{n}")
        start = ev.RenderStarted(job_id=cmd.job_id, slot=0, attempt=1, worker_id="w")
        worker.reported(start, cmd.params, now)
        meter.started(cmd, now)
        for gap in beats:
            now += gap
            beat = ev.WorkerHeartbeat(
                worker_id="w",
                pool_id="default",
                slot=0,
                state=ev.WorkerState.BUSY,
                renderer="tiny",
                job_id=cmd.job_id,
            )
            worker.reported(beat, cmd.params, now)
        now += 0.5
        outcome = failed(cmd.job_id, 1, code)
        worker.reported(outcome, cmd.params, now)
        record = meter.finished(outcome, now)
        assert record is not None
        worker.usage(record)
        total += record.gpu_seconds
    busy = metrics.registry.get_sample_value(
        "reelstream_worker_busy_seconds_total", {"pool": "default", "slot": "0"}
    )
    assert busy is not None
    assert abs(busy - total) <= 1e-9 * max(1.0, total)
    metered = sum(
        metrics.registry.get_sample_value(
            "reelstream_usage_gpu_seconds_total",
            {"pool": "default", "tenant_class": "other", "model": "tiny-mochi", "outcome": o},
        )
        or 0.0
        for o in ("failed", "canceled")
    )
    assert abs(metered - total) <= 1e-9 * max(1.0, total)


def test_an_overlapped_finish_bills_and_counts_busy_its_gpu_part_only() -> None:
    """Two attempts, the first finishing while the second renders: usage and busy time agree, and count
    the GPU's seconds once."""
    metrics = Metrics()
    worker, meter = WorkerMetrics(metrics, "default", 0, "cpu", "tiny"), UsageMeter("default", "cpu")
    first, second = dispatch(job_id="a"), dispatch(job_id="b")
    worker.reported(ev.RenderStarted(job_id="a", slot=0, attempt=1, worker_id="w"), first.params, 0.0)
    meter.started(first, 0.0)
    worker.gpu_part_done("a", 1, 10.0)
    meter.gpu_done(first, 10.0)
    worker.reported(ev.RenderStarted(job_id="b", slot=0, attempt=1, worker_id="w"), second.params, 10.5)
    meter.started(second, 10.5)
    records = []
    for cmd, at in ((first, 14.0), (second, 30.5)):  # the first's outcome comes while the second renders
        outcome = failed(cmd.job_id, 1, "canceled")
        worker.reported(outcome, cmd.params, at)
        record = meter.finished(outcome, at)
        assert record is not None
        records.append(record.gpu_seconds)
    assert records == [10.0, 20.0]
    busy = metrics.registry.get_sample_value(
        "reelstream_worker_busy_seconds_total", {"pool": "default", "slot": "0"}
    )
    assert busy == 30.0
