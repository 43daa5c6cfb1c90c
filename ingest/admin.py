"""Admin routes (`ingest.policy`): tenant limits as data, changed at run time.

`PUT /v1/admin/tenants/{tenant}/limits` writes the tenant's new limits to the compacted
`reelstream.tenants.limit-settings` topic; every admission replica follows it and applies them from the
next command on, without a restart.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from ingest.auth import principal_of
from ingest.context import IngestContext, context_of
from ingest.errors import LimitAboveCeiling
from ingest.policy import is_operator
from ingest.routes import read_body
from ingest.submission import INT, NUMBER, check_shape, parse_json_object
from ingest.tenant_registry import TENANT_PATTERN, TENANT_RULE
from reelstream.params import FieldError, InvalidRequest
from reelstream.settings import TenantLimit
from schemas.events import TenantLimitsSet, TenantRecord, new_id, utc_now
from schemas.topics import TENANT_LIMIT_SETTINGS, TENANTS

logger = logging.getLogger(__name__)

LIMIT_FIELDS = {"rate": NUMBER, "burst": NUMBER, "queued": INT, "running": INT, "gang": INT}
MAX_COUNT = 2**31 - 1  # queued and running are Avro ints on the limit-settings topic


def parse_limits(body: bytes) -> TenantLimit:
    """`{"rate": 0.5, "burst": 5, "queued": 100, "running": 2, "gang": 4}`: rate and burst required; queued
    defaults to the default limit's, running to none (no cap of the tenant's own), gang to none (a job's
    gang only from spare slots)."""
    data = parse_json_object(body)
    check_shape(data, LIMIT_FIELDS)
    missing = [FieldError(name, "is required") for name in ("rate", "burst") if data.get(name) is None]
    if missing:
        raise InvalidRequest(missing)
    limit = TenantLimit(
        rate=float(data["rate"]),
        burst=float(data["burst"]),
        queued=data["queued"] if data.get("queued") is not None else TenantLimit().queued,
        running=data.get("running"),
        gang=data.get("gang"),
    )
    violations = limit.violations()
    for name in ("queued", "running"):
        value = getattr(limit, name)
        if value is not None and value > MAX_COUNT:
            violations[name] = f"{name} must be at most {MAX_COUNT}"
    if violations:
        raise InvalidRequest([FieldError(name, message) for name, message in violations.items()])
    return limit


def limits_resource(record: TenantLimitsSet) -> dict[str, Any]:
    return {
        "object": "tenant_limits",
        "tenant": record.tenant_id,
        "rate": record.rate,
        "burst": record.burst,
        "queued": record.queued,
        "running": record.running,
        "gang": record.gang,
        "updated_at": record.occurred_at.isoformat().replace("+00:00", "Z"),
    }


def above_ceiling(limit: TenantLimit, ceiling: TenantRecord) -> list[str]:
    """The fields of `limit` that exceed the tenant's ceiling (a running cap of none exceeds any cap)."""
    over = [name for name in ("rate", "burst", "queued") if getattr(limit, name) > getattr(ceiling, name)]
    if ceiling.running is not None and (limit.running is None or limit.running > ceiling.running):
        over.append("running")
    if limit.gang is not None and limit.gang > 1 and (ceiling.gang is None or limit.gang > ceiling.gang):
        over.append("gang")
    return over


async def put_tenant_limits(request: Request) -> Response:
    """An operator sets any tenant's limits, and they become its ceiling; a tenant admin may set its own
    tenant's limits at or below that ceiling (403 naming the fields above it)."""
    context, principal = context_of(request), principal_of(request)
    tenant_id = request.path_params["tenant"]
    if not TENANT_PATTERN.fullmatch(tenant_id):
        raise InvalidRequest([FieldError("tenant", TENANT_RULE)])
    tenant = context.tenant(tenant_id)
    limit = parse_limits(await read_body(request))
    if not is_operator(principal):
        over = above_ceiling(limit, tenant)
        if over:
            raise LimitAboveCeiling(
                f"{', '.join(over)} above the tenant's ceiling; an admin may only lower them"
            )
    record = TenantLimitsSet(
        tenant_id=tenant_id,
        rate=limit.rate,
        burst=limit.burst,
        queued=limit.queued,
        running=limit.running,
        gang=limit.gang,
        set_by=principal.tenant_id,
    )
    await context.publisher.publish(TENANT_LIMIT_SETTINGS, tenant_id, record)
    if is_operator(principal):
        ceiling = replace(
            tenant,
            rate=limit.rate,
            burst=limit.burst,
            queued=limit.queued,
            running=limit.running,
            gang=limit.gang,
        )
        await publish_tenant(context, replace(ceiling, event_id=new_id(), occurred_at=utc_now()))
    if context.limits is not None:
        context.limits.forget(tenant_id)  # its state was judged by the old limits; admission republishes
    logger.info(
        "limits of tenant %s set by %s",
        tenant_id,
        principal.tenant_id,
        extra={"tenant_id": tenant_id},
    )
    return JSONResponse(limits_resource(record))


async def publish_tenant(context: IngestContext, record: TenantRecord) -> None:
    """Write a tenant's record and apply it here at once (read-your-writes; other replicas follow)."""
    await context.publisher.publish(TENANTS, record.tenant_id, record)
    if context.tenants is not None:
        context.tenants.table.apply(record)
