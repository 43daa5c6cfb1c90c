"""A tenant admin's changes to its webhooks beyond create/list/delete (`ingest.webhook_admin`):

- `PATCH …/webhook-endpoints/{endpoint_id}` changes an endpoint's `url` (the same form and SSRF rules as
  registering it), `event_types` filter, `description` and `enabled` flag; what is absent is kept. The
  record is written again under the same key (its registration time kept), so the notifiers follow it.
- `POST  …/webhook-secrets/{secret_id}/rotate` creates a new secret (its value shown in this response only)
  and makes the old one expire after `overlap_seconds` (default a day): until then every delivery carries
  both signatures (Standard Webhooks: space-separated), so receivers can switch at their own pace.

Secrets are the tenant's and sign every delivery to every one of its endpoints
(`reelstream.webhooks.tenants`): a receiver verifies all of a tenant's endpoints the same way.
"""

from __future__ import annotations

import dataclasses
import logging
from datetime import timedelta
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from ingest.context import context_of
from ingest.errors import TooManyWebhookSecrets, WebhookConfigNotFound
from ingest.routes import read_body
from ingest.submission import ARRAY, BOOLEAN, HTTPS_ONLY, INT, STRING, check_shape, parse_json_object
from ingest.webhook_admin import (
    MAX_DESCRIPTION_CHARS,
    MAX_SECRETS,
    endpoint_resource,
    event_types_errors,
    issue_secret,
    path_tenant,
    registered_endpoint,
    secret_resource,
    webhook_state,
)
from reelstream.http_settings import WebhookTargetPolicy
from reelstream.params import FieldError, InvalidRequest
from reelstream.webhooks.tenants import record_key
from schemas.events import new_id, utc_now
from schemas.topics import WEBHOOK_REGISTRATIONS, WEBHOOK_SECRETS

logger = logging.getLogger(__name__)

UPDATE_FIELDS = {"url": STRING, "event_types": ARRAY, "description": STRING, "enabled": BOOLEAN}
ROTATE_FIELDS = {"overlap_seconds": INT}
DEFAULT_OVERLAP_SECONDS = 24 * 3600
MAX_OVERLAP_SECONDS = 30 * 24 * 3600


def parse_endpoint_update(body: bytes, targets: WebhookTargetPolicy = HTTPS_ONLY) -> dict[str, Any]:
    """`{"url"?, "event_types"?, "description"?, "enabled"?}` (at least one) → the fields to change."""
    data = parse_json_object(body)
    check_shape(data, UPDATE_FIELDS)
    if not data:
        names = ", ".join(UPDATE_FIELDS)
        raise InvalidRequest([FieldError("body", f"name at least one of {names}")])
    errors: list[FieldError] = []
    if "url" in data and (problem := targets.problem(data["url"])) is not None:
        errors.append(FieldError("url", problem))
    if "event_types" in data:
        errors.extend(event_types_errors(data["event_types"]))
        data["event_types"] = sorted(set(data["event_types"])) if not errors else []
    if len(data.get("description", "")) > MAX_DESCRIPTION_CHARS:
        errors.append(FieldError("description", f"must be at most {MAX_DESCRIPTION_CHARS} characters"))
    if errors:
        raise InvalidRequest(errors)
    return data


def parse_rotate_request(body: bytes) -> int:
    """`{}` or `{"overlap_seconds": 3600}` → how long the old secret keeps signing (0 to 30 days)."""
    data = parse_json_object(body) if body.strip() else {}
    check_shape(data, ROTATE_FIELDS)
    overlap: int = data.get("overlap_seconds", DEFAULT_OVERLAP_SECONDS)
    if not 0 <= overlap <= MAX_OVERLAP_SECONDS:
        raise InvalidRequest(
            [FieldError("overlap_seconds", f"must be between 0 and {MAX_OVERLAP_SECONDS} (30 days)")]
        )
    return overlap


async def update_endpoint(request: Request) -> Response:
    context = context_of(request)
    tenant_id, endpoint_id = path_tenant(request), request.path_params["endpoint_id"]
    state = webhook_state(context)
    current = registered_endpoint(state, tenant_id, endpoint_id)  # 404 before the body's 422
    changes = parse_endpoint_update(await read_body(request), context.settings.webhook_targets)
    record = dataclasses.replace(current, event_id=new_id(), **changes)
    await context.publisher.publish(WEBHOOK_REGISTRATIONS, record_key(tenant_id, endpoint_id), record)
    state.put_endpoint(record)
    logger.info(
        "webhook endpoint %s of tenant %s updated (%s)",
        endpoint_id,
        tenant_id,
        ", ".join(sorted(changes)),
        extra={"tenant_id": tenant_id},
    )
    return JSONResponse(endpoint_resource(record))


async def rotate_secret(request: Request) -> Response:
    context = context_of(request)
    tenant_id, secret_id = path_tenant(request), request.path_params["secret_id"]
    overlap = parse_rotate_request(await read_body(request))
    state = webhook_state(context)
    now = utc_now()
    old = state.secret(tenant_id, secret_id)
    active = state.secrets_of(tenant_id, now)
    if old is None or old not in active:
        raise WebhookConfigNotFound(f"active webhook secret {secret_id} of tenant {tenant_id} not found")
    if len(active) >= MAX_SECRETS:  # the old one still signs during the overlap
        raise TooManyWebhookSecrets(f"tenant {tenant_id} has {MAX_SECRETS} active secrets; retire one first")
    record, secret = await issue_secret(request, tenant_id, None)
    until = now + timedelta(seconds=overlap)
    if old.expires_at is None or until < old.expires_at:
        old = dataclasses.replace(old, expires_at=until, event_id=new_id())
        await context.publisher.publish(WEBHOOK_SECRETS, record_key(tenant_id, secret_id), old)
        state.put_secret(old)
    logger.info(
        "webhook secret %s of tenant %s rotated to %s",
        secret_id,
        tenant_id,
        record.secret_id,
        extra={"tenant_id": tenant_id},
    )
    body = {**secret_resource(record), "secret": secret, "rotated": secret_resource(old)}
    return JSONResponse(body, status_code=201)
