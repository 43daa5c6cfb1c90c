"""The platform operator's tenant routes (`ingest.policy`): tenants are records, created before anything
of theirs may exist.

- `POST /v1/admin/tenants` creates one: `{"id": "acme", "name": "Acme", "limits": {...},
  "retention_days": 30}` (limits as `PUT …/limits` takes them, default the configured ones);
  409 if it exists.
- `GET /v1/admin/tenants` lists them; `GET /v1/admin/tenants/{tenant}` reads one (a tenant admin its own).

Each tenant is a record on the compacted `reelstream.tenants.registry` topic; this replica applies it at
once, the others when their view reads it.
"""

from __future__ import annotations

import logging
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from ingest.admin import parse_limits, publish_tenant
from ingest.auth import principal_of
from ingest.context import context_of
from ingest.errors import NotReady, TenantExists
from ingest.routes import read_body
from ingest.submission import INT, OBJECT, STRING, check_shape, parse_json_object
from ingest.tenant_registry import ACTIVE, TENANT_PATTERN, TENANT_RULE
from reelstream.params import FieldError, InvalidRequest
from reelstream.settings import TenantLimit, TenantLimits
from schemas.events import TenantRecord, utc_now

logger = logging.getLogger(__name__)

TENANT_FIELDS = {"id": STRING, "name": STRING, "limits": OBJECT, "retention_days": INT}
MAX_NAME_CHARS = 200
DEFAULT_RETENTION_DAYS = 30
MAX_RETENTION_DAYS = 3650


def _iso(value: Any) -> str:
    return str(value.isoformat().replace("+00:00", "Z"))


def tenant_resource(record: TenantRecord) -> dict[str, Any]:
    return {
        "object": "tenant",
        "id": record.tenant_id,
        "name": record.name,
        "status": record.status,
        "limits": {
            "rate": record.rate,
            "burst": record.burst,
            "queued": record.queued,
            "running": record.running,
        },
        "retention_days": record.retention_days,
        "created_at": _iso(record.created_at),
        "updated_at": _iso(record.occurred_at),
    }


def parse_tenant_request(body: bytes, defaults: TenantLimits) -> tuple[str, str, TenantLimit, int]:
    """(id, name, limits, retention_days) of a creation request; every error names its field."""
    data = parse_json_object(body)
    check_shape(data, TENANT_FIELDS)
    errors: list[FieldError] = []
    tenant_id = data.get("id")
    if not isinstance(tenant_id, str) or not TENANT_PATTERN.fullmatch(tenant_id):
        errors.append(FieldError("id", TENANT_RULE))
    name = data.get("name", tenant_id)
    if not isinstance(name, str) or not 1 <= len(name) <= MAX_NAME_CHARS:
        errors.append(FieldError("name", f"must be 1 to {MAX_NAME_CHARS} characters"))
    retention = data.get("retention_days", DEFAULT_RETENTION_DAYS)
    if not 1 <= retention <= MAX_RETENTION_DAYS:
        errors.append(FieldError("retention_days", f"must be between 1 and {MAX_RETENTION_DAYS}"))
    limit = defaults.of(str(tenant_id))
    if data.get("limits") is not None:
        try:
            limit = parse_limits(orjson.dumps(data["limits"]))
        except InvalidRequest as invalid:
            errors.extend(FieldError(f"limits.{e.field}", e.message) for e in invalid.errors)
    if errors:
        raise InvalidRequest(errors)
    return str(tenant_id), str(name), limit, int(retention)


async def create_tenant(request: Request) -> Response:
    context, principal = context_of(request), principal_of(request)
    if context.tenants is None or not context.tenants.caught_up:
        raise NotReady("the tenant registry is still loading")
    defaults = context.settings.pipeline.tenant_limits
    tenant_id, name, limit, retention = parse_tenant_request(await read_body(request), defaults)
    if context.tenants.table.exists(tenant_id):
        raise TenantExists(f"tenant {tenant_id} exists")
    now = utc_now()
    record = TenantRecord(
        tenant_id=tenant_id,
        name=name,
        status=ACTIVE,
        rate=limit.rate,
        burst=limit.burst,
        queued=limit.queued,
        running=limit.running,
        retention_days=retention,
        created_at=now,
        created_by=principal.tenant_id,
        occurred_at=now,
    )
    await publish_tenant(context, record)
    logger.info("tenant %s created by %s", tenant_id, principal.tenant_id, extra={"tenant_id": tenant_id})
    headers = {"Location": f"/v1/admin/tenants/{tenant_id}"}
    return JSONResponse(tenant_resource(record), status_code=201, headers=headers)


async def list_tenants(request: Request) -> Response:
    context = context_of(request)
    if context.tenants is None or not context.tenants.caught_up:
        raise NotReady("the tenant registry is still loading")
    data = [tenant_resource(r) for r in context.tenants.table.records()]
    return JSONResponse({"object": "list", "data": data})


async def get_tenant(request: Request) -> Response:
    return JSONResponse(tenant_resource(context_of(request).tenant(request.path_params["tenant"])))
