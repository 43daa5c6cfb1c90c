"""Admin routes of the key store (`ingest.policy`): create, list and revoke API keys. A tenant admin
manages its own tenant's keys only (another tenant's answer 404); the operator any tenant's.

`POST /v1/admin/keys` mints a key and answers it ONCE (only its salted hash is stored); `GET /v1/admin/keys`
lists metadata; `DELETE /v1/admin/keys/{key_id}` revokes. Each change is a record on the compacted
`reelstream.auth.keys` topic, applied to this replica's table at once and to every other replica's when its
view reads it.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from ingest import api_keys
from ingest.api_keys import KEY_ID_PATTERN, KeyTable
from ingest.auth import principal_of
from ingest.context import IngestContext, context_of
from ingest.errors import ApiKeyNotFound, Forbidden, NotReady, TenantNotFound
from ingest.policy import OPERATOR, is_operator, may_act_for
from ingest.routes import read_body
from ingest.submission import ARRAY, STRING, check_shape, parse_json_object
from ingest.tenant_registry import TENANT_PATTERN, TENANT_RULE
from reelstream.crypto.records import signed
from reelstream.params import FieldError, InvalidRequest
from reelstream.settings import ROLES
from schemas.events import ApiKeyRecord, utc_now
from schemas.topics import API_KEYS

logger = logging.getLogger(__name__)

KEY_FIELDS = {"tenant": STRING, "roles": ARRAY, "expires_at": STRING, "name": STRING}
MAX_NAME_CHARS = 100
NO_STORE = {"Cache-Control": "no-store"}


def _timestamp(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat().replace("+00:00", "Z")


def key_resource(record: ApiKeyRecord, now: datetime, last_used: datetime | None = None) -> dict[str, Any]:
    """A key's metadata: never its secret nor its hash. `last_used`: when this replica last accepted it."""
    expired = record.expires_at is not None and now >= record.expires_at
    return {
        "object": "api_key",
        "id": record.key_id,
        "prefix": f"{api_keys.PREFIX}{record.key_id}",
        "tenant": record.tenant_id,
        "roles": list(record.roles),
        "name": record.name,
        "status": "revoked" if record.revoked else "expired" if expired else "active",
        "created_at": _timestamp(record.created_at),
        "expires_at": _timestamp(record.expires_at),
        "revoked_at": _timestamp(record.revoked_at),
        "last_used_at": _timestamp(last_used),
    }


def parse_key_request(body: bytes, now: datetime) -> tuple[str, tuple[str, ...], datetime | None, str | None]:
    """(tenant, roles, expires_at, name) of `{"tenant": "t", "roles": ["viewer"], "expires_at": "…Z"}`;
    roles default to submitter."""
    data = parse_json_object(body)
    check_shape(data, KEY_FIELDS)
    errors: list[FieldError] = []
    tenant = data.get("tenant")
    if tenant is None or not TENANT_PATTERN.fullmatch(tenant):
        errors.append(FieldError("tenant", TENANT_RULE))
    roles = data.get("roles", ["submitter"])
    if not roles or not all(isinstance(r, str) and r in ROLES for r in roles):
        errors.append(FieldError("roles", f"must be a non-empty list of {', '.join(sorted(ROLES))}"))
    expires_at = None
    if data.get("expires_at") is not None:
        try:
            expires_at = datetime.fromisoformat(data["expires_at"])
            if expires_at.tzinfo is not None:  # UTC, at the millisecond precision the record keeps
                expires_at = expires_at.astimezone(UTC).replace(
                    microsecond=expires_at.microsecond // 1000 * 1000
                )
        except ValueError:
            errors.append(FieldError("expires_at", "must be an RFC 3339 timestamp"))
        else:
            if expires_at.tzinfo is None:  # one already past makes a key that is born expired
                errors.append(FieldError("expires_at", "must be an RFC 3339 timestamp with an offset"))
    name = data.get("name")
    if name is not None and len(name) > MAX_NAME_CHARS:
        errors.append(FieldError("name", f"must be at most {MAX_NAME_CHARS} characters"))
    if errors:
        raise InvalidRequest(errors)
    return str(tenant), tuple(roles), expires_at, name


def _table(context: IngestContext) -> KeyTable:
    if context.api_keys is None:
        raise NotReady("the key store is not open on this replica")
    return context.api_keys.table


async def create_key(request: Request) -> Response:
    context, principal, now = context_of(request), principal_of(request), utc_now()
    table = _table(context)
    tenant, roles, expires_at, name = parse_key_request(await read_body(request), now)
    if not may_act_for(principal, tenant):
        raise TenantNotFound(f"tenant {tenant} not found")  # another tenant is answered like a missing one
    if OPERATOR in roles and not is_operator(principal):
        raise Forbidden("only an operator may grant the operator role")
    context.tenant(tenant)  # a key for a tenant the operator never created is refused (404)
    key, record = api_keys.mint(
        tenant, roles, expires_at=expires_at, name=name, created_by=principal.tenant_id, now=now
    )
    record = signed(record, context.key_provider)
    await context.publisher.publish(API_KEYS, record.key_id, record)
    table.apply(record)  # read-your-writes on this replica; the others follow the topic
    logger.info(
        "API key %s created for tenant %s by %s",
        record.key_id,
        tenant,
        principal.tenant_id,
        extra={"tenant_id": tenant},
    )
    body = {**key_resource(record, now), "key": key}
    headers = {**NO_STORE, "Location": f"/v1/admin/keys/{record.key_id}"}
    return JSONResponse(body, status_code=201, headers=headers)


async def list_keys(request: Request) -> Response:
    table, now, principal = _table(context_of(request)), utc_now(), principal_of(request)
    tenant = request.query_params.get("tenant")
    if not is_operator(principal):  # a tenant admin sees its own tenant's keys only
        if tenant is not None and tenant != principal.tenant_id:
            raise TenantNotFound(f"tenant {tenant} not found")
        tenant = principal.tenant_id
    data = [key_resource(r, now, table.last_used(r.key_id)) for r in table.records(tenant)]
    return JSONResponse({"object": "list", "data": data}, headers=NO_STORE)


async def revoke_key(request: Request) -> Response:
    context, principal = context_of(request), principal_of(request)
    table, key_id = _table(context), request.path_params["key_id"]
    record = table.get(key_id) if KEY_ID_PATTERN.fullmatch(key_id) else None
    if record is None or not may_act_for(principal, record.tenant_id):
        raise ApiKeyNotFound(f"API key {key_id} not found")
    revoked = api_keys.revoke(record)
    if revoked is not record:
        revoked = signed(revoked, context.key_provider)
        await context.publisher.publish(API_KEYS, key_id, revoked)
        revoked = table.apply(revoked)
        logger.info(
            "API key %s of tenant %s revoked by %s",
            key_id,
            record.tenant_id,
            principal.tenant_id,
            extra={"tenant_id": record.tenant_id},
        )
    return JSONResponse(key_resource(revoked, utc_now(), table.last_used(key_id)), headers=NO_STORE)
