"""The delivery log: bounded per endpoint, newest first, filtered and paged; what to resend."""

from __future__ import annotations

from datetime import timedelta

import pytest

from reelstream.webhooks.delivery_log import DeliveryLog, parse_cursor
from schemas.events import DeliveryOutcome, WebhookDelivery
from tests.samples import T0


def _attempt(
    n: int,
    *,
    ok: bool = False,
    webhook_id: str | None = None,
    endpoint: str | None = "ep_1",
    tenant: str = "t1",
) -> WebhookDelivery:
    return WebhookDelivery(
        job_id=f"j{n}",
        tenant_id="t1",
        webhook_event_id=webhook_id or f"msg_{n}",
        attempt=1,
        outcome=DeliveryOutcome.DELIVERED if ok else DeliveryOutcome.FAILED,
        duration_ms=3.0,
        status_code=200 if ok else 500,
        endpoint_id=endpoint,
        event_id=f"d{n}",
        occurred_at=T0 + timedelta(seconds=n),
        event_type="job.succeeded",
    )


def test_each_endpoint_keeps_its_newest_attempts_only() -> None:
    log = DeliveryLog(per_endpoint=3)
    for n in range(5):
        log.add(_attempt(n))
    assert not log.add(_attempt(9, endpoint=None))  # a job's own URL: not an endpoint's log
    log.add(_attempt(7, endpoint="ep_2"))
    assert [a.delivery.event_id for a in log.page("t1", "ep_1").attempts] == ["d4", "d3", "d2"]
    assert len(log) == 4
    assert log.page("t2", "ep_1").attempts == []  # another tenant's endpoint of the same id: nothing


def test_pages_follow_the_cursor_and_the_status_filter() -> None:
    log = DeliveryLog()
    for n in range(7):
        log.add(_attempt(n, ok=n % 2 == 0))
    first = log.page("t1", "ep_1", failed=True, limit=2)
    assert [a.delivery.event_id for a in first.attempts] == ["d5", "d3"]
    assert first.next_cursor is not None
    second = log.page("t1", "ep_1", failed=True, limit=2, after=parse_cursor(first.next_cursor))
    assert [a.delivery.event_id for a in second.attempts] == ["d1"]
    assert second.next_cursor is None
    delivered = log.page("t1", "ep_1", failed=False)
    assert [a.delivery.event_id for a in delivered.attempts] == ["d6", "d4", "d2", "d0"]


@pytest.mark.parametrize("raw", ["", "-1", "1.5", "١٢", "9" * 19, "abc"])
def test_a_cursor_is_ascii_digits(raw: str) -> None:
    with pytest.raises(ValueError, match="cursor"):
        parse_cursor(raw)


def test_failed_since_picks_each_never_delivered_message_once() -> None:
    log = DeliveryLog()
    log.add(_attempt(0, webhook_id="msg_old"))  # before `since`
    log.add(_attempt(1, webhook_id="msg_a"))
    log.add(_attempt(2, webhook_id="msg_a"))  # retried, failed again
    log.add(_attempt(3, webhook_id="msg_b"))
    log.add(_attempt(4, webhook_id="msg_b", ok=True))  # delivered in the end
    log.add(_attempt(5, webhook_id="msg_c"))
    chosen = log.failed_since("t1", "ep_1", T0 + timedelta(seconds=1))
    assert [(d.webhook_event_id, d.event_id) for d in chosen] == [("msg_a", "d2"), ("msg_c", "d5")]
    assert log.find("t1", "ep_1", "d3") is not None
    assert log.find("t1", "ep_2", "d3") is None
    log.forget("t1", "ep_1")
    assert len(log) == 0
