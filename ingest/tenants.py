"""The platform operator's tenant routes (`ingest.policy`): tenants are records, created before anything
of theirs may exist.

- `POST /v1/admin/tenants` creates one: `{"id": "acme", "name": "Acme", "limits": {...},
  "retention_days": 30, "video_retention_days": 7}` (limits as `PUT …/limits` takes them, default the
  configured ones; the retention overrides in days, each absent: the platform's setting,
  REELSTREAM_JOB_RETENTION_SECONDS / REELSTREAM_VIDEO_RETENTION_SECONDS); 409 if it exists.
- `PUT /v1/admin/tenants/{tenant}/retention` (operator only) replaces both overrides: `{"retention_days": 1}`
  (an absent one: back to the platform's setting). Existing jobs follow at the next sweep (ingest.retention).
- `GET /v1/admin/tenants` lists them; `GET /v1/admin/tenants/{tenant}` reads one (a tenant admin its own).

Each tenant is a record on the compacted `reelstream.tenants.registry` topic; this replica applies it at
once, the others when their view reads it.
"""

from __future__ import annotations

import dataclasses
import logging
from datetime import timedelta
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from ingest.admin import parse_limits, publish_tenant
from ingest.auth import principal_of
from ingest.context import IngestContext, context_of
from ingest.errors import NotReady, TenantExists
from ingest.retention import longest_video_override
from ingest.routes import read_body
from ingest.submission import INT, OBJECT, STRING, check_shape, parse_json_object
from ingest.tenant_registry import ACTIVE, TENANT_PATTERN, TENANT_RULE
from reelstream.params import FieldError, InvalidRequest
from reelstream.settings import TenantLimit, TenantLimits
from schemas.events import TenantRecord, new_id, utc_now

logger = logging.getLogger(__name__)

RETENTION_FIELDS = {"retention_days": INT, "video_retention_days": INT}
TENANT_FIELDS = {"id": STRING, "name": STRING, "limits": OBJECT, **RETENTION_FIELDS}
MAX_NAME_CHARS = 200
MAX_RETENTION_DAYS = 3650
Overrides = tuple[int | None, int | None]  # (retention_days, video_retention_days); None: the platform's


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
            "gang": record.gang,
        },
        "retention_days": record.retention_days,
        "video_retention_days": record.video_retention_days,
        "created_at": _iso(record.created_at),
        "updated_at": _iso(record.occurred_at),
    }


def retention_overrides(data: dict[str, Any], errors: list[FieldError], longest_video: int) -> Overrides:
    """The retention overrides of a checked request (absent: None); out-of-range ones added to `errors`.
    `longest_video`: the bucket's lifecycle rule deletes videos after that many days (ingest.retention)."""
    days: list[int | None] = []
    for field, most in (("retention_days", MAX_RETENTION_DAYS), ("video_retention_days", longest_video)):
        value = data.get(field)
        if value is not None and not 1 <= value <= min(most, MAX_RETENTION_DAYS):
            errors.append(FieldError(field, f"must be between 1 and {min(most, MAX_RETENTION_DAYS)}"))
        days.append(None if value is None else int(value))
    return days[0], days[1]


def parse_retention_request(body: bytes, longest_video: int = MAX_RETENTION_DAYS) -> Overrides:
    """(retention_days, video_retention_days) of `PUT …/retention`; every error names its field."""
    data = parse_json_object(body)
    check_shape(data, RETENTION_FIELDS)
    errors: list[FieldError] = []
    overrides = retention_overrides(data, errors, longest_video)
    if errors:
        raise InvalidRequest(errors)
    return overrides


def parse_tenant_request(
    body: bytes, defaults: TenantLimits, longest_video: int = MAX_RETENTION_DAYS
) -> tuple[str, str, TenantLimit, Overrides]:
    """(id, name, limits, retention overrides) of a creation request; every error names its field."""
    data = parse_json_object(body)
    check_shape(data, TENANT_FIELDS)
    errors: list[FieldError] = []
    tenant_id = data.get("id")
    if not isinstance(tenant_id, str) or not TENANT_PATTERN.fullmatch(tenant_id):
        errors.append(FieldError("id", TENANT_RULE))
    name = data.get("name", tenant_id)
    if not isinstance(name, str) or not 1 <= len(name) <= MAX_NAME_CHARS:
        errors.append(FieldError("name", f"must be 1 to {MAX_NAME_CHARS} characters"))
    retention = retention_overrides(data, errors, longest_video)
    limit = defaults.of(str(tenant_id))
    if data.get("limits") is not None:
        try:
            limit = parse_limits(orjson.dumps(data["limits"]))
        except InvalidRequest as invalid:
            errors.extend(FieldError(f"limits.{e.field}", e.message) for e in invalid.errors)
    if errors:
        raise InvalidRequest(errors)
    return str(tenant_id), str(name), limit, retention


async def create_tenant(request: Request) -> Response:
    context, principal = context_of(request), principal_of(request)
    if context.tenants is None or not context.tenants.caught_up:
        raise NotReady("the tenant registry is still loading")
    defaults = context.settings.pipeline.tenant_limits
    body = await read_body(request)
    tenant_id, name, limit, retention = parse_tenant_request(body, defaults, longest_video(context))
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
        gang=limit.gang,
        retention_days=retention[0],
        video_retention_days=retention[1],
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


async def put_tenant_retention(request: Request) -> Response:
    context, principal = context_of(request), principal_of(request)
    records_days, videos_days = parse_retention_request(await read_body(request), longest_video(context))
    record = context.tenant(request.path_params["tenant"])  # 404 unless it exists and is not deleted
    record = dataclasses.replace(
        record,
        retention_days=records_days,
        video_retention_days=videos_days,
        event_id=new_id(),
        occurred_at=utc_now(),
    )
    await publish_tenant(context, record)
    logger.info(
        "tenant %s retention set to %s/%s days by %s",
        record.tenant_id,
        records_days,
        videos_days,
        principal.tenant_id,
        extra={"tenant_id": record.tenant_id},
    )
    return JSONResponse(tenant_resource(record))


def longest_video(context: IngestContext) -> int:
    return longest_video_override(timedelta(seconds=context.settings.video_retention_seconds))
