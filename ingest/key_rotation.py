"""Key rotation with an overlap window (`ingest.policy`: the key's tenant admin, or the operator).

`POST /v1/admin/keys/{key_id}/rotate` `{"overlap_seconds": 86400}` mints a successor with the same tenant,
roles, name and expiry, answered ONCE like a new key, and shortens the old key's life to the overlap (never
lengthens it): both keys work during the overlap, so clients switch without an outage. Both records go to
the compacted `reelstream.auth.keys`; this replica applies them at once, the others within their view's
bound (`key_store_max_lag_seconds`).
"""

from __future__ import annotations

import logging
from dataclasses import replace
from datetime import datetime, timedelta

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from ingest import api_keys
from ingest.admin_keys import NO_STORE, _table, key_resource
from ingest.api_keys import KEY_ID_PATTERN
from ingest.auth import principal_of
from ingest.context import context_of
from ingest.errors import ApiKeyNotFound, KeyNotActive
from ingest.policy import may_act_for
from ingest.routes import read_body
from ingest.submission import INT, check_shape, parse_json_object
from reelstream.crypto.records import signed
from reelstream.params import FieldError, InvalidRequest
from schemas.events import ApiKeyRecord, new_id, utc_now
from schemas.topics import API_KEYS

logger = logging.getLogger(__name__)

DEFAULT_OVERLAP_SECONDS = 24 * 3600
MAX_OVERLAP_SECONDS = 30 * 24 * 3600
ROTATE_FIELDS = {"overlap_seconds": INT}


def parse_rotate_request(body: bytes) -> timedelta:
    data = parse_json_object(body) if body.strip() else {}
    check_shape(data, ROTATE_FIELDS)
    seconds = data.get("overlap_seconds", DEFAULT_OVERLAP_SECONDS)
    if not 0 <= seconds <= MAX_OVERLAP_SECONDS:
        raise InvalidRequest([FieldError("overlap_seconds", f"must be between 0 and {MAX_OVERLAP_SECONDS}")])
    return timedelta(seconds=seconds)


def retiring(record: ApiKeyRecord, overlap: timedelta, now: datetime) -> ApiKeyRecord:
    """The old key's record, valid at most `overlap` longer (an earlier expiry stays)."""
    until = now + overlap
    if record.expires_at is not None and record.expires_at <= until:
        return record
    return replace(record, expires_at=until, occurred_at=now, event_id=new_id())


async def rotate_key(request: Request) -> Response:
    context, principal, now = context_of(request), principal_of(request), utc_now()
    table, key_id = _table(context), request.path_params["key_id"]
    record = table.get(key_id) if KEY_ID_PATTERN.fullmatch(key_id) else None
    if record is None or not may_act_for(principal, record.tenant_id):
        raise ApiKeyNotFound(f"API key {key_id} not found")
    overlap = parse_rotate_request(await read_body(request))
    if record.revoked or (record.expires_at is not None and record.expires_at <= now):
        raise KeyNotActive(f"API key {key_id} is revoked or expired; create a new one instead")
    key, successor = api_keys.mint(
        record.tenant_id,
        record.roles,
        expires_at=record.expires_at,
        name=record.name,
        created_by=principal.tenant_id,
        now=now,
    )
    successor = signed(successor, context.key_provider)  # the key store's view accepts MACed records only
    old = retiring(record, overlap, now)
    if old is not record:
        old = signed(old, context.key_provider)
    await context.publisher.publish(API_KEYS, successor.key_id, successor)
    table.apply(successor)
    if old is not record:
        await context.publisher.publish(API_KEYS, key_id, old)
        old = table.apply(old)
    logger.info(
        "API key %s of tenant %s rotated to %s by %s",
        key_id,
        record.tenant_id,
        successor.key_id,
        principal.tenant_id,
        extra={"tenant_id": record.tenant_id},
    )
    body = {**key_resource(successor, now), "key": key, "replaces": key_resource(old, now)}
    headers = {**NO_STORE, "Location": f"/v1/admin/keys/{successor.key_id}"}
    return JSONResponse(body, status_code=201, headers=headers)
