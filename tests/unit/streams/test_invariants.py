"""The record invariants a stage checks before acting (streams.invariants): a broken one is an
InvalidRecordError, which is not retriable (the stage parks the record and moves on)."""

from __future__ import annotations

from dataclasses import replace

import pytest

from reelstream.errors import InvalidRecordError
from schemas import events as ev
from streams.invariants import (
    check_command,
    check_inbox_event,
    check_job_event,
    check_ping,
    check_webhook_request,
)
from tests.samples import T0, job_status


def _event(**status: object) -> ev.JobEvent:
    snapshot = job_status(**{"job_id": "j1", "tenant_id": "t1", "webhook_url": "https://h.test/a", **status})
    return ev.JobEvent(job_id="j1", tenant_id="t1", type=ev.JobEventType.SUCCEEDED, status=snapshot)


def _ping(url: str = "https://hooks.example.test/p") -> ev.WebhookPingRequested:
    return ev.WebhookPingRequested(tenant_id="t1", endpoint_id="ep1", url=url)


def test_well_formed_records_pass() -> None:
    check_command(ev.CancelJob(job_id="j1", tenant_id="t1", reason=None))
    check_job_event(_event())
    check_job_event(_event(webhook_url=None))
    check_ping(_ping())
    check_webhook_request(ev.RetryWebhook(attempt=2, due_at=T0, job_event=_event()))
    check_webhook_request(ev.RetryWebhook(attempt=2, due_at=T0, ping=_ping()))
    check_inbox_event(ev.SchedulerTick(pool_id="default"), "default")
    idle = ev.WorkerHeartbeat(
        worker_id="w0", pool_id="default", slot=0, state=ev.WorkerState.IDLE, renderer="r"
    )
    check_inbox_event(idle, "default")
    check_inbox_event(ev.RenderStarted(job_id="j1", slot=0, attempt=1, worker_id="w0"), "default")


@pytest.mark.parametrize(
    "check",
    [
        lambda: check_command(ev.CancelJob(job_id="", tenant_id="t1", reason=None)),
        lambda: check_command(ev.CancelJob(job_id="j1", tenant_id="", reason=None)),
        lambda: check_job_event(replace(_event(), job_id="j2")),
        lambda: check_job_event(replace(_event(), tenant_id="t2")),
        lambda: check_job_event(_event(webhook_url="not a url")),
        lambda: check_job_event(_event(webhook_url="ftp://hooks.example.test/a")),
        lambda: check_ping(_ping("https://")),
        lambda: check_webhook_request(ev.RetryWebhook(attempt=2, due_at=T0)),
        lambda: check_webhook_request(
            ev.RetryWebhook(attempt=2, due_at=T0, job_event=_event(), ping=_ping())
        ),
        lambda: check_webhook_request(ev.RetryWebhook(attempt=2, due_at=T0, ping=_ping("mailto:x@y"))),
        lambda: check_inbox_event(ev.SchedulerTick(pool_id="big-gpus"), "default"),
        lambda: check_inbox_event(ev.CancelRequested(job_id="j1", tenant_id="t1", pool_id="x"), "default"),
        lambda: check_inbox_event(ev.RenderStarted(job_id="", slot=0, attempt=1, worker_id="w0"), "default"),
    ],
)
def test_a_broken_invariant_is_a_non_retriable_invalid_record(check: object) -> None:
    with pytest.raises(InvalidRecordError) as raised:
        check()  # type: ignore[operator]
    assert raised.value.code == "invalid_record"
    assert raised.value.retriable is False
