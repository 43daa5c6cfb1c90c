"""A registered endpoint's delivery log, and resending what it logged (tenant admins; `ingest.policy`).

- `GET  …/webhook-endpoints/{endpoint_id}/deliveries?status=failed&cursor=&limit=` pages the endpoint's
  attempts, newest first (`ingest.delivery_log_view`: bounded per endpoint, within the topic's retention).
- `POST …/webhook-endpoints/{endpoint_id}/deliveries/{delivery_id}/resend` sends a logged delivery again.
- `POST …/webhook-endpoints/{endpoint_id}/resend-failed?since=<date-time>` sends again each message the
  endpoint never received (every attempt since then failed), once per webhook-id.

Ingest never delivers: a resend is a `RetryWebhook` on reelstream.webhooks.resends that the notifier attempts,
under the delivery's own webhook-id, so a receiver that already has the message drops it. The body is the
job as it is now (its event's type kept); a job that is gone, a notice of a disabled endpoint and a delivery
logged before types were recorded cannot be resent (409).
"""

from __future__ import annotations

import dataclasses
from datetime import datetime
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from ingest.context import IngestContext, context_of
from ingest.errors import WebhookConfigNotFound, WebhookNotResendable
from ingest.webhook_admin import iso, path_tenant, registered_endpoint, webhook_state
from reelstream.params import FieldError, InvalidRequest
from reelstream.webhooks.delivery_log import parse_cursor
from reelstream.webhooks.messages import PING_TYPE
from schemas.events import (
    JobEvent,
    JobEventType,
    RetryWebhook,
    WebhookDelivery,
    WebhookEndpointRegistered,
    WebhookPingRequested,
    utc_now,
)
from schemas.topics import WEBHOOK_RESENDS

STATUSES = {"failed": True, "delivered": False}
DEFAULT_LIMIT, MAX_LIMIT = 50, 200
MAX_RESEND_BATCH = 500


def delivery_resource(delivery: WebhookDelivery) -> dict[str, Any]:
    error = delivery.error.split(":", 1)[0] if delivery.error else None  # the class, never the details
    return {
        "object": "webhook_delivery",
        "id": delivery.event_id,
        "endpoint_id": delivery.endpoint_id,
        "webhook_id": delivery.webhook_event_id,
        "event_type": delivery.event_type,
        "job_id": delivery.job_id or None,
        "attempt": delivery.attempt,
        "status": "delivered" if delivery.outcome.value == "delivered" else "failed",
        "status_code": delivery.status_code,
        "error_class": error,
        "latency_ms": round(delivery.duration_ms, 1),
        "attempted_at": iso(delivery.occurred_at),
    }


def parse_page_query(request: Request) -> tuple[bool | None, int | None, int]:
    """(failed filter, cursor, limit) from `status`, `cursor` and `limit`; 422 naming the parameter."""
    query = request.query_params
    errors: list[FieldError] = []
    status = query.get("status")
    if status is not None and status not in STATUSES:
        errors.append(FieldError("status", "must be failed or delivered"))
    try:
        cursor = parse_cursor(query.get("cursor"))
    except ValueError:
        errors.append(FieldError("cursor", "must be a next_cursor this API returned"))
        cursor = None
    raw_limit = query.get("limit", str(DEFAULT_LIMIT))
    limit = int(raw_limit) if raw_limit.isascii() and raw_limit.isdigit() and len(raw_limit) <= 6 else 0
    if not 1 <= limit <= MAX_LIMIT:
        errors.append(FieldError("limit", f"must be an integer from 1 to {MAX_LIMIT}"))
    if errors:
        raise InvalidRequest(errors)
    return (STATUSES[status] if status is not None else None), cursor, limit


def parse_since(raw: str | None) -> datetime:
    """`since`: an ISO 8601 date-time with a UTC offset (required)."""
    if raw is None:
        raise InvalidRequest([FieldError("since", "is required (an ISO 8601 date-time)")])
    try:
        since = datetime.fromisoformat(raw[:-1] + "+00:00" if raw[-1:] in ("z", "Z") else raw)
    except ValueError:
        raise InvalidRequest([FieldError("since", "must be an ISO 8601 date-time")]) from None
    if since.tzinfo is None:
        raise InvalidRequest([FieldError("since", "must carry a UTC offset (e.g. 2026-01-01T12:00:00Z)")])
    return since


def _endpoint(request: Request) -> tuple[IngestContext, WebhookEndpointRegistered]:
    context = context_of(request)
    tenant_id, endpoint_id = path_tenant(request), request.path_params["endpoint_id"]
    return context, registered_endpoint(webhook_state(context), tenant_id, endpoint_id)


async def list_deliveries(request: Request) -> Response:
    context, endpoint = _endpoint(request)
    failed, cursor, limit = parse_page_query(request)
    page = context.delivery_log().page(
        endpoint.tenant_id, endpoint.endpoint_id, failed=failed, after=cursor, limit=limit
    )
    data = [delivery_resource(a.delivery) for a in page.attempts]
    return JSONResponse({"object": "list", "data": data, "next_cursor": page.next_cursor})


def resend_request(
    context: IngestContext, endpoint: WebhookEndpointRegistered, delivery: WebhookDelivery
) -> RetryWebhook:
    """The notifier's request to send `delivery` to `endpoint` again, under the same webhook-id."""
    if not endpoint.enabled:
        raise WebhookNotResendable(f"endpoint {endpoint.endpoint_id} is disabled; enable it first")
    now, webhook_id = utc_now(), delivery.webhook_event_id
    first = RetryWebhook(attempt=1, due_at=now, endpoint_id=endpoint.endpoint_id, webhook_id=webhook_id)
    kind = delivery.event_type or ""
    if kind == PING_TYPE:
        ping = WebhookPingRequested(endpoint.tenant_id, endpoint.endpoint_id, endpoint.url, webhook_id)
        return dataclasses.replace(first, ping=ping)
    try:
        event_type = JobEventType(kind.removeprefix("job.")) if kind.startswith("job.") else None
    except ValueError:
        event_type = None
    if event_type is None:
        raise WebhookNotResendable(f"delivery {delivery.event_id} ({kind or 'untyped'}) cannot be resent")
    status = context.view.get(delivery.job_id)
    if status is None or status.tenant_id != endpoint.tenant_id:
        raise WebhookNotResendable(f"job {delivery.job_id} is gone (deleted or past its retention)")
    event = JobEvent(delivery.job_id, endpoint.tenant_id, event_type, status)
    return dataclasses.replace(first, job_event=event)


def _resend_resource(request: RetryWebhook, delivery: WebhookDelivery) -> dict[str, Any]:
    return {"webhook_id": request.webhook_id, "delivery_id": delivery.event_id, "resend_id": request.event_id}


async def resend_delivery(request: Request) -> Response:
    context, endpoint = _endpoint(request)
    delivery_id = request.path_params["delivery_id"]
    delivery = context.delivery_log().find(endpoint.tenant_id, endpoint.endpoint_id, delivery_id)
    if delivery is None:
        raise WebhookConfigNotFound(f"delivery {delivery_id} of endpoint {endpoint.endpoint_id} not found")
    resend = resend_request(context, endpoint, delivery)
    await context.publisher.publish(WEBHOOK_RESENDS, endpoint.tenant_id, resend)
    body = {
        "object": "webhook_resend",
        "endpoint_id": endpoint.endpoint_id,
        **_resend_resource(resend, delivery),
    }
    return JSONResponse({**body, "requested_at": iso(resend.occurred_at)}, status_code=202)


async def resend_failed(request: Request) -> Response:
    context, endpoint = _endpoint(request)
    since = parse_since(request.query_params.get("since"))
    log = context.delivery_log()
    failed = log.failed_since(endpoint.tenant_id, endpoint.endpoint_id, since)[:MAX_RESEND_BATCH]
    sent, skipped = [], 0
    for delivery in failed:
        try:
            resend = resend_request(context, endpoint, delivery)
        except WebhookNotResendable:
            if not endpoint.enabled:
                raise
            skipped += 1
            continue
        await context.publisher.publish(WEBHOOK_RESENDS, endpoint.tenant_id, resend)
        sent.append(_resend_resource(resend, delivery))
    body = {
        "object": "webhook_resend_batch",
        "endpoint_id": endpoint.endpoint_id,
        "since": iso(since),
        "count": len(sent),
        "skipped": skipped,
        "data": sent,
    }
    return JSONResponse(body, status_code=202)
