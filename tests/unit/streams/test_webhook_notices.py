"""An attempt's overall deadline against a real loopback receiver, and the endpoint.disabled notices."""

from __future__ import annotations

import json
import threading
import time

import httpx
import pytest

from reelstream.errors import InvalidRecordError
from reelstream.webhooks.messages import ENDPOINT_DISABLED_TYPE, endpoint_disabled_payload, generate_secret
from reelstream.webhooks.retries import DEADLINE_EXCEEDED, Verdict, endpoint_key, verdict
from reelstream.webhooks.tenants import TenantWebhooks
from schemas.events import RetryWebhook, WebhookEndpointDisabled, WebhookEndpointRegistered
from streams.invariants import check_webhook_request
from streams.webhook_delivery import notices_for, tenant_of
from streams.webhook_http import Outbound, post
from tests.webhook_receiver import Delivery, webhook_receiver


async def test_an_attempt_ends_at_its_deadline_although_the_receiver_keeps_the_connection() -> None:
    released = threading.Event()

    def stall(_: Delivery) -> None:
        released.wait(10)

    with webhook_receiver() as receiver:
        receiver.stall = stall
        message = Outbound(receiver.url, "msg_1", b"{}", "t1", "j1")
        started = time.monotonic()
        async with httpx.AsyncClient(timeout=30) as client:  # each step's timeout far beyond the deadline
            sent = await post(client, generate_secret(), message, int(time.time()), deadline=0.5)
        took = time.monotonic() - started
        released.set()
    assert sent.delivery.error is not None
    assert sent.delivery.error.startswith(DEADLINE_EXCEEDED)
    assert verdict(None, DEADLINE_EXCEEDED) is Verdict.RETRY
    assert took < 5, took


def endpoint(endpoint_id: str, url: str, types: list[str] | None = None) -> WebhookEndpointRegistered:
    return WebhookEndpointRegistered("t1", endpoint_id, url, types or [])


def test_a_disabled_endpoint_is_announced_to_the_tenants_other_subscribed_endpoints() -> None:
    tenants = TenantWebhooks()
    tenants.put_endpoint(endpoint("ep_dead", "https://dead.example/hook?token=s3cret"))
    tenants.put_endpoint(endpoint("ep_ops", "https://ops.example/hook"))
    tenants.put_endpoint(endpoint("ep_jobs", "https://jobs.example/hook", ["job.succeeded"]))
    tenants.put_endpoint(endpoint("ep_watch", "https://watch.example/hook", [ENDPOINT_DISABLED_TYPE]))
    record = WebhookEndpointDisabled(
        endpoint_key("https://dead.example/hook?token=s3cret"),
        "t1",
        "dead.example",
        0,
        "msg_9",
        endpoint_id="ep_dead",
    )
    notices = notices_for(record, tenants)
    # not to the dead one, nor to one whose filter leaves it out
    assert sorted(n.endpoint_id or "" for n in notices) == ["ep_ops", "ep_watch"]
    notice = next(n for n in notices if n.endpoint_id == "ep_ops")
    check_webhook_request(notice)
    assert tenant_of(notice) == "t1"
    body = json.loads(endpoint_disabled_payload(record))
    assert body["type"] == ENDPOINT_DISABLED_TYPE
    assert body["data"]["endpoint_id"] == "ep_dead"
    assert "s3cret" not in json.dumps(body)


def test_a_notice_without_a_target_endpoint_is_refused() -> None:
    record = WebhookEndpointDisabled("0" * 64, "t1", "dead.example", 410, "msg_9")
    with pytest.raises(InvalidRecordError):
        check_webhook_request(RetryWebhook(attempt=1, due_at=record.occurred_at, endpoint_disabled=record))
