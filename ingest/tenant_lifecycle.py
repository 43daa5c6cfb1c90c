"""The platform operator suspends, resumes and deletes tenants (`ingest.policy`: operator only).

- `POST /v1/admin/tenants/{tenant}/suspend` (optional body `{"reason": "…"}`, logged): the record's status
  becomes `suspended`. From then on every key
  and token of the tenant answers 403 `tenant-suspended` (ingest.auth; an operator's own pass, so an operator
  can always resume). What was chosen for work already queued: nothing new can be submitted, read or
  cancelled through the API while suspended; jobs already admitted are not held back by the scheduler.
- `POST /v1/admin/tenants/{tenant}/resume`: back to `active`.
- `DELETE /v1/admin/tenants/{tenant}?confirm={tenant}` (the id again: deletion cannot be undone, and a
  request without it is refused 422 naming `confirm`): every key of the tenant is revoked, its webhook
  endpoints and secrets removed (tombstones), the record marked `deleted` (kept: a tenant id is never given
  again; a deleted tenant answers 404 everywhere), then `shred_tenant` is called. 204.

Each change is a record on the compacted `reelstream.tenants.registry` (or the key store's, the webhook
topics'); this replica applies it at once, the others when their views read it.
"""

from __future__ import annotations

import dataclasses
import logging

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from ingest import api_keys
from ingest.admin import publish_tenant
from ingest.auth import principal_of
from ingest.context import IngestContext, context_of
from ingest.routes import read_body
from ingest.submission import STRING, check_shape, parse_json_object
from ingest.tenant_registry import ACTIVE, DELETED, SUSPENDED
from ingest.tenants import tenant_resource
from reelstream.crypto.records import signed
from reelstream.params import FieldError, InvalidRequest
from reelstream.webhooks.tenants import record_key
from schemas.events import new_id, utc_now
from schemas.topics import API_KEYS, WEBHOOK_REGISTRATIONS, WEBHOOK_SECRETS

logger = logging.getLogger(__name__)


MAX_REASON_CHARS = 500
CONFIRM_RULE = "must repeat the tenant id: deletion cannot be undone"


def parse_status_request(body: bytes) -> str | None:
    """The reason of a suspend or resume request (an empty body: none); errors name their field."""
    if not body:
        return None
    data = parse_json_object(body)
    check_shape(data, {"reason": STRING})
    reason = data.get("reason")
    if reason is not None and not 1 <= len(reason) <= MAX_REASON_CHARS:
        raise InvalidRequest([FieldError("reason", f"must be 1 to {MAX_REASON_CHARS} characters")])
    return reason


def check_confirmation(tenant_id: str, confirm: str | None) -> None:
    if confirm != tenant_id:
        raise InvalidRequest([FieldError("confirm", CONFIRM_RULE)])


async def _set_status(request: Request, status: str) -> Response:
    context, principal = context_of(request), principal_of(request)
    reason = parse_status_request(await read_body(request))
    record = context.tenant(request.path_params["tenant"])  # 404 unless it exists and is not deleted
    if record.status != status:
        record = dataclasses.replace(record, status=status, event_id=new_id(), occurred_at=utc_now())
        await publish_tenant(context, record)
        logger.info(
            "tenant %s %s by %s (%s)",
            record.tenant_id,
            status,
            principal.tenant_id,
            reason or "no reason given",
            extra={"tenant_id": record.tenant_id},
        )
    return JSONResponse(tenant_resource(record))


async def suspend_tenant(request: Request) -> Response:
    return await _set_status(request, SUSPENDED)


async def resume_tenant(request: Request) -> Response:
    return await _set_status(request, ACTIVE)


async def delete_tenant(request: Request) -> Response:
    context, principal = context_of(request), principal_of(request)
    check_confirmation(request.path_params["tenant"], request.query_params.get("confirm"))
    record = context.tenant(request.path_params["tenant"])
    tenant_id = record.tenant_id
    revoked = await revoke_keys(context, tenant_id)
    removed = await remove_webhooks(context, tenant_id)
    deleted = dataclasses.replace(record, status=DELETED, event_id=new_id(), occurred_at=utc_now())
    await publish_tenant(context, deleted)
    shredded = await shred_tenant(context, tenant_id)
    logger.info(
        "tenant %s deleted by %s (%d keys revoked, %d webhook records removed, %d data keys shredded)",
        tenant_id,
        principal.tenant_id,
        revoked,
        removed,
        shredded,
        extra={"tenant_id": tenant_id},
    )
    return Response(status_code=204)


async def revoke_keys(context: IngestContext, tenant_id: str) -> int:
    """Revoke every key of the tenant still active (signed records, as `DELETE /v1/admin/keys/{id}` does)."""
    if context.api_keys is None:
        return 0
    table, count = context.api_keys.table, 0
    for record in table.records(tenant_id):
        revoked = api_keys.revoke(record)
        if revoked is record:
            continue  # revoked already
        revoked = signed(revoked, context.key_provider)
        await context.publisher.publish(API_KEYS, revoked.key_id, revoked)
        table.apply(revoked)
        count += 1
    return count


async def remove_webhooks(context: IngestContext, tenant_id: str) -> int:
    """Tombstone every webhook endpoint and signing secret of the tenant (notifiers follow the topics)."""
    if context.webhooks is None:
        return 0
    state, count = context.webhooks.state, 0
    for endpoint in state.endpoints_of(tenant_id):
        await context.publisher.tombstone(WEBHOOK_REGISTRATIONS, record_key(tenant_id, endpoint.endpoint_id))
        state.delete_endpoint(tenant_id, endpoint.endpoint_id)
        count += 1
    for secret in [s for s in state.all_secrets() if s.tenant_id == tenant_id]:
        await context.publisher.tombstone(WEBHOOK_SECRETS, record_key(tenant_id, secret.secret_id))
        state.retire_secret(tenant_id, secret.secret_id)
        count += 1
    return count


async def shred_tenant(context: IngestContext, tenant_id: str) -> int:
    """Crypto-shred the deleted tenant (ingest.sealed_jobs): every data key of the tenant is tombstoned on
    `reelstream.keys.tenants`, so every job key, prompt, negative prompt and webhook URL sealed under them, on
    any topic or in any backup, can no longer be opened. Idempotent; how many keys were shredded."""
    if context.sealed_jobs is None:
        return 0
    return await context.sealed_jobs.shred_tenant(tenant_id)
