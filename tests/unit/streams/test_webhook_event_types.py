"""Opt-in event types and the enabled flag: which job events reach which registered endpoints."""

from __future__ import annotations

import dataclasses

from reelstream.webhooks.messages import DEFAULT_TYPE_NAMES, SUBSCRIBABLE_TYPE_NAMES, endpoint_notifies
from reelstream.webhooks.tenants import TenantWebhooks
from schemas.events import JobEvent, JobEventType, JobState, WebhookEndpointRegistered
from streams.webhook_delivery import requests_for
from tests.samples import T0, job_status


def _endpoint(eid: str, types: list[str], *, enabled: bool = True) -> WebhookEndpointRegistered:
    return WebhookEndpointRegistered(
        tenant_id="t1", endpoint_id=eid, url=f"https://h.example/{eid}", event_types=types, occurred_at=T0,
        enabled=enabled,
    )  # fmt: skip


def _event(event_type: JobEventType, state: JobState = JobState.RUNNING, version: int = 1) -> JobEvent:
    status = job_status(state=state, version=version)
    return JobEvent(job_id="j1", tenant_id="t1", type=event_type, status=status, occurred_at=T0)


def _targets(state: TenantWebhooks, event: JobEvent) -> list[str | None]:
    return [r.endpoint_id for r in requests_for(event, state, None)]


def test_opt_in_types_reach_only_endpoints_that_name_them_and_never_the_job_s_own_url() -> None:
    state = TenantWebhooks()
    state.put_endpoint(_endpoint("ep_default", []))
    state.put_endpoint(_endpoint("ep_progress", ["job.progress", "job.started", "job.succeeded"]))
    assert _targets(state, _event(JobEventType.PROGRESS)) == ["ep_progress"]
    assert _targets(state, _event(JobEventType.STARTED)) == ["ep_progress"]
    assert _targets(state, _event(JobEventType.QUEUED)) == []  # nobody asked for it
    succeeded = _event(JobEventType.SUCCEEDED, JobState.SUCCEEDED)
    assert _targets(state, succeeded) == [None, "ep_default", "ep_progress"]


def test_job_queued_goes_out_when_the_job_enters_the_queue_not_on_position_refreshes() -> None:
    assert endpoint_notifies(_event(JobEventType.QUEUED, JobState.QUEUED, version=1))
    assert not endpoint_notifies(_event(JobEventType.QUEUED, JobState.QUEUED, version=3))
    assert not endpoint_notifies(_event(JobEventType.DISPATCHED))


def test_a_disabled_endpoint_gets_nothing_until_enabled_again() -> None:
    state = TenantWebhooks()
    state.put_endpoint(_endpoint("ep_1", [], enabled=False))
    event = _event(JobEventType.FAILED, JobState.FAILED)
    assert _targets(state, event) == [None]
    state.put_endpoint(dataclasses.replace(state.endpoint("t1", "ep_1"), enabled=True))  # type: ignore[type-var]
    assert _targets(state, event) == [None, "ep_1"]


def test_the_default_filter_is_today_s_and_the_opt_in_types_are_subscribable() -> None:
    assert "job.progress" not in DEFAULT_TYPE_NAMES
    assert {"job.queued", "job.started", "job.progress"} <= SUBSCRIBABLE_TYPE_NAMES
    assert DEFAULT_TYPE_NAMES <= SUBSCRIBABLE_TYPE_NAMES
