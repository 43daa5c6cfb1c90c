"""Admin routes (`ingest.policy`: the tenant's admin, or the operator) for a tenant's own webhooks: signing
secrets with rotation, registered endpoints with event filters, and a ping. The tenant must exist.

- `POST   /v1/admin/tenants/{tenant}/webhook-secrets` creates a secret; the response is the only place
  its value is ever shown. `GET` lists the active ones (ids and dates, never values); `DELETE …/{secret_id}`
  retires one. While a tenant has several, every delivery carries one signature per secret.
- `POST   /v1/admin/tenants/{tenant}/webhook-endpoints` registers a URL (syntax checked here, SSRF at
  delivery) with an `event_types` filter; `GET` lists them; `DELETE …/{endpoint_id}` removes one. A
  tenant's first endpoint also creates its first secret, shown in that response only. Secrets are the
  tenant's, shared by its endpoints (updates and rotation: `ingest.webhook_portal`).
- `POST   …/webhook-endpoints/{endpoint_id}/ping` queues a `ping` to the endpoint (202).
- `POST   /v1/admin/webhooks/enable` (the operator only) re-enables a webhook URL that a notifier disabled
  after a 410 Gone: a tombstone for its SHA-256 on reelstream.webhooks.endpoints, which notifiers follow.

Each change is a record (or a tombstone) on a compacted topic that every notifier follows; this replica's
view is updated at once, so a GET right after a change sees it.
"""

from __future__ import annotations

import logging
import re
from datetime import datetime
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from ingest.auth import principal_of
from ingest.context import IngestContext, context_of
from ingest.errors import NotReady, TooManyWebhookSecrets, WebhookConfigNotFound
from ingest.routes import read_body
from ingest.submission import ARRAY, HTTPS_ONLY, STRING, check_shape, parse_json_object
from ingest.tenant_registry import TENANT_PATTERN, TENANT_RULE
from reelstream.http_settings import WebhookTargetPolicy
from reelstream.params import FieldError, InvalidRequest, check_webhook_url
from reelstream.webhooks.messages import SUBSCRIBABLE_TYPE_NAMES, generate_secret
from reelstream.webhooks.retries import endpoint_key
from reelstream.webhooks.sealing import sealed
from reelstream.webhooks.tenants import TenantWebhooks, new_endpoint_id, new_secret_id, record_key
from schemas.events import WebhookEndpointRegistered, WebhookPingRequested, WebhookSecretIssued, utc_now
from schemas.topics import WEBHOOK_ENDPOINTS, WEBHOOK_PINGS, WEBHOOK_REGISTRATIONS, WEBHOOK_SECRETS

logger = logging.getLogger(__name__)

MAX_SECRETS = 5  # active at once: enough to overlap a rotation, few enough to keep signing cheap
MAX_ENDPOINTS = 20
MAX_DESCRIPTION_CHARS = 200
SECRET_FIELDS = {"expires_at": STRING}
ENDPOINT_FIELDS = {"url": STRING, "description": STRING, "event_types": ARRAY}
ENABLE_FIELDS = {"url": STRING, "endpoint_sha256": STRING}
SHA256_HEX = re.compile(r"[0-9a-f]{64}")


def iso(ts: datetime | None) -> str | None:
    return ts.isoformat().replace("+00:00", "Z") if ts is not None else None


def path_tenant(request: Request) -> str:
    """The path's tenant, which must exist in the registry (`ingest.policy` checked the caller may act
    for it)."""
    tenant_id: str = request.path_params["tenant"]
    if not TENANT_PATTERN.fullmatch(tenant_id):
        raise InvalidRequest([FieldError("tenant", TENANT_RULE)])
    context_of(request).tenant(tenant_id)
    return tenant_id


def webhook_state(context: IngestContext) -> TenantWebhooks:
    if context.webhooks is None or not context.webhooks.ready:
        raise NotReady("the webhook configuration is still loading")
    return context.webhooks.state


# ---- parsing (pure) ----------------------------------------------------------------------------------


def parse_secret_request(body: bytes, now: datetime) -> datetime | None:
    """`{}` or `{"expires_at": "2026-12-01T00:00:00Z"}` (an instant with a UTC offset)."""
    data = parse_json_object(body) if body.strip() else {}
    check_shape(data, SECRET_FIELDS)
    raw = data.get("expires_at")
    if raw is None:
        return None
    try:
        expires_at = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        raise InvalidRequest([FieldError("expires_at", "must be an ISO 8601 date-time")]) from None
    if expires_at.tzinfo is None:
        raise InvalidRequest(
            [FieldError("expires_at", "must carry a UTC offset (e.g. 2026-01-01T12:00:00Z)")]
        )
    return expires_at  # one already past makes a secret that never signs


def parse_endpoint_request(
    body: bytes, targets: WebhookTargetPolicy = HTTPS_ONLY
) -> tuple[str, list[str], str | None]:
    """`{"url": "https://…", "event_types": ["job.succeeded"], "description": "…"}` → (url, filter, text).
    An absent or empty `event_types` subscribes to the default types; `targets`: where the URL may point."""
    data = parse_json_object(body)
    check_shape(data, ENDPOINT_FIELDS)
    types = data.get("event_types", [])
    url = data.get("url")
    problem = "is required" if url is None else targets.problem(url)
    errors = [] if problem is None else [FieldError("url", problem)]
    description = data.get("description")
    if description is not None and len(description) > MAX_DESCRIPTION_CHARS:
        errors.append(FieldError("description", f"must be at most {MAX_DESCRIPTION_CHARS} characters"))
    errors.extend(event_types_errors(types))
    if errors:
        raise InvalidRequest(errors)
    return str(url), sorted(set(types)), description


def event_types_errors(types: Any) -> list[FieldError]:
    """What is wrong with an `event_types` filter (an array of known type names)."""
    allowed = ", ".join(sorted(SUBSCRIBABLE_TYPE_NAMES))
    if not isinstance(types, list) or not all(isinstance(t, str) for t in types):
        return [FieldError("event_types", "must be an array of strings")]
    if unknown := sorted(set(types) - SUBSCRIBABLE_TYPE_NAMES):
        return [FieldError("event_types", f"unknown {', '.join(unknown)}; known: {allowed}")]
    return []


def parse_enable_request(body: bytes) -> str:
    """`{"url": "https://…"}` or `{"endpoint_sha256": "<64 hex>"}` (its key on the topic) → the
    SHA-256 the disabled endpoint is recorded under."""
    data = parse_json_object(body)
    check_shape(data, ENABLE_FIELDS)
    url, digest = data.get("url"), data.get("endpoint_sha256")
    if (url is None) == (digest is None):
        raise InvalidRequest([FieldError("url", "give exactly one of url and endpoint_sha256")])
    if url is not None:
        errors = [FieldError("url", e.message) for e in check_webhook_url(url)]
        if errors:
            raise InvalidRequest(errors)
        return endpoint_key(url)
    if not isinstance(digest, str) or not SHA256_HEX.fullmatch(digest):
        raise InvalidRequest([FieldError("endpoint_sha256", "must be 64 lowercase hexadecimal digits")])
    return digest


# ---- resources ---------------------------------------------------------------------------------------


async def _sealed(context: IngestContext, record: WebhookSecretIssued, secret: str) -> WebhookSecretIssued:
    """The record with the secret sealed under the tenant's data key (issued first if it has none)."""
    views = context.webhooks
    if views is None or context.key_issuer is None:
        raise NotReady("webhook configuration is not open on this replica")
    await context.key_issuer.ensure(record.tenant_id)
    return sealed(views.keyring, record, secret)


def secret_resource(record: WebhookSecretIssued) -> dict[str, Any]:
    return {
        "object": "webhook_secret",
        "id": record.secret_id,
        "tenant": record.tenant_id,
        "created_at": iso(record.occurred_at),
        "expires_at": iso(record.expires_at),
    }


def endpoint_resource(record: WebhookEndpointRegistered) -> dict[str, Any]:
    return {
        "object": "webhook_endpoint",
        "id": record.endpoint_id,
        "tenant": record.tenant_id,
        "url": record.url,
        "event_types": list(record.event_types),
        "description": record.description,
        "enabled": record.enabled,
        "created_at": iso(record.occurred_at),
    }


async def issue_secret(
    request: Request, tenant_id: str, expires_at: datetime | None
) -> tuple[WebhookSecretIssued, str]:
    """A new signing secret of the tenant, recorded (sealed): the record, and the value shown once."""
    context, principal = context_of(request), principal_of(request)
    now = utc_now()
    state = webhook_state(context)
    if len(state.secrets_of(tenant_id, now)) >= MAX_SECRETS:
        raise TooManyWebhookSecrets(f"tenant {tenant_id} has {MAX_SECRETS} active secrets; retire one first")
    secret = generate_secret()
    record = WebhookSecretIssued(
        tenant_id=tenant_id,
        secret_id=new_secret_id(),
        expires_at=expires_at,
        created_by=principal.tenant_id,
        occurred_at=now,
    )
    record = await _sealed(context, record, secret)
    await context.publisher.publish(WEBHOOK_SECRETS, record_key(tenant_id, record.secret_id), record)
    state.put_secret(record)
    logger.info(
        "webhook secret %s of tenant %s created by %s",
        record.secret_id,
        tenant_id,
        principal.tenant_id,
        extra={"tenant_id": tenant_id},
    )
    return record, secret


# ---- routes ------------------------------------------------------------------------------------------


async def create_secret(request: Request) -> Response:
    tenant_id = path_tenant(request)
    now = utc_now()
    expires_at = parse_secret_request(await read_body(request), now)
    record, secret = await issue_secret(request, tenant_id, expires_at)
    return JSONResponse({**secret_resource(record), "secret": secret}, status_code=201)


async def list_secrets(request: Request) -> Response:
    tenant_id = path_tenant(request)
    active = webhook_state(context_of(request)).secrets_of(tenant_id, utc_now())
    return JSONResponse({"object": "list", "data": [secret_resource(s) for s in active]})


async def retire_secret(request: Request) -> Response:
    context, principal = context_of(request), principal_of(request)
    tenant_id, secret_id = path_tenant(request), request.path_params["secret_id"]
    state = webhook_state(context)
    if state.secret(tenant_id, secret_id) is None:
        raise WebhookConfigNotFound(f"webhook secret {secret_id} of tenant {tenant_id} not found")
    await context.publisher.tombstone(WEBHOOK_SECRETS, record_key(tenant_id, secret_id))
    state.retire_secret(tenant_id, secret_id)
    logger.info(
        "webhook secret %s of tenant %s retired by %s",
        secret_id,
        tenant_id,
        principal.tenant_id,
        extra={"tenant_id": tenant_id},
    )
    return Response(status_code=204)


async def create_endpoint(request: Request) -> Response:
    context, principal = context_of(request), principal_of(request)
    tenant_id = path_tenant(request)
    url, types, description = parse_endpoint_request(
        await read_body(request), context.settings.webhook_targets
    )
    state = webhook_state(context)
    if len(state.endpoints_of(tenant_id)) >= MAX_ENDPOINTS:
        raise InvalidRequest([FieldError("tenant", f"has {MAX_ENDPOINTS} endpoints; delete one first")])
    record = WebhookEndpointRegistered(
        tenant_id=tenant_id,
        endpoint_id=new_endpoint_id(),
        url=url,
        event_types=types,
        description=description,
    )
    await context.publisher.publish(WEBHOOK_REGISTRATIONS, record_key(tenant_id, record.endpoint_id), record)
    state.put_endpoint(record)
    logger.info(
        "webhook endpoint %s of tenant %s registered by %s",
        record.endpoint_id,
        tenant_id,
        principal.tenant_id,
        extra={"tenant_id": tenant_id},
    )
    body = endpoint_resource(record)
    if not state.secrets_of(tenant_id, utc_now()):  # its first: deliveries need a secret, shown only now
        issued, secret = await issue_secret(request, tenant_id, None)
        body |= {"secret_id": issued.secret_id, "secret": secret}
    return JSONResponse(body, status_code=201)


async def list_endpoints(request: Request) -> Response:
    tenant_id = path_tenant(request)
    endpoints = webhook_state(context_of(request)).endpoints_of(tenant_id)
    return JSONResponse({"object": "list", "data": [endpoint_resource(e) for e in endpoints]})


def registered_endpoint(state: TenantWebhooks, tenant_id: str, endpoint_id: str) -> WebhookEndpointRegistered:
    endpoint = state.endpoint(tenant_id, endpoint_id)
    if endpoint is None:
        raise WebhookConfigNotFound(f"webhook endpoint {endpoint_id} of tenant {tenant_id} not found")
    return endpoint


async def delete_endpoint(request: Request) -> Response:
    context = context_of(request)
    tenant_id, endpoint_id = path_tenant(request), request.path_params["endpoint_id"]
    state = webhook_state(context)
    registered_endpoint(state, tenant_id, endpoint_id)
    await context.publisher.tombstone(WEBHOOK_REGISTRATIONS, record_key(tenant_id, endpoint_id))
    state.delete_endpoint(tenant_id, endpoint_id)
    if context.deliveries is not None:
        context.deliveries.log.forget(tenant_id, endpoint_id)
    logger.info(
        "webhook endpoint %s of tenant %s deleted", endpoint_id, tenant_id, extra={"tenant_id": tenant_id}
    )
    return Response(status_code=204)


async def ping_endpoint(request: Request) -> Response:
    context = context_of(request)
    tenant_id, endpoint_id = path_tenant(request), request.path_params["endpoint_id"]
    endpoint = registered_endpoint(webhook_state(context), tenant_id, endpoint_id)
    ping = WebhookPingRequested(tenant_id=tenant_id, endpoint_id=endpoint_id, url=endpoint.url)
    await context.publisher.publish(WEBHOOK_PINGS, tenant_id, ping)
    body = {
        "object": "webhook_ping",
        "id": ping.event_id,
        "endpoint_id": endpoint_id,
        "tenant": tenant_id,
        "requested_at": iso(ping.occurred_at),
    }
    return JSONResponse(body, status_code=202)


async def enable_endpoint(request: Request) -> Response:
    """Re-enable a webhook URL disabled by a 410 Gone: deliveries to it resume once the notifiers have read
    the tombstone (they follow the topic). Harmless for a URL that is not disabled."""
    context, principal = context_of(request), principal_of(request)
    digest = parse_enable_request(await read_body(request))
    await context.publisher.tombstone(WEBHOOK_ENDPOINTS, digest)
    logger.info("webhook endpoint %s… re-enabled by %s", digest[:12], principal.tenant_id)
    body = {"object": "webhook_endpoint_enabled", "endpoint_sha256": digest, "enabled_at": iso(utc_now())}
    return JSONResponse(body)
