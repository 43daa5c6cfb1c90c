"""Admin routes (scope `admin`, `ingest.policy`): tenant limits as data, changed at run time.

`PUT /v1/admin/tenants/{tenant}/limits` writes the tenant's new limits to the compacted
`reelstream.tenants.limit-settings` topic; every admission replica follows it and applies them from the
next command on, without a restart.
"""

from __future__ import annotations

import logging
import re
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from ingest.auth import principal_of
from ingest.context import context_of
from ingest.routes import read_body
from ingest.submission import INT, NUMBER, check_shape, parse_json_object
from reelstream.params import FieldError, InvalidRequest
from reelstream.settings import TenantLimit
from schemas.events import TenantLimitsSet
from schemas.topics import TENANT_LIMIT_SETTINGS

logger = logging.getLogger(__name__)

TENANT_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")
TENANT_RULE = "must be 1 to 128 characters of A-Z, a-z, 0-9, ., _ and - (starting with a letter or digit)"
LIMIT_FIELDS = {"rate": NUMBER, "burst": NUMBER, "queued": INT, "running": INT}
MAX_COUNT = 2**31 - 1  # queued and running are Avro ints on the limit-settings topic


def parse_limits(body: bytes) -> TenantLimit:
    """`{"rate": 0.5, "burst": 5, "queued": 100, "running": 2}`: rate and burst required; queued defaults
    to the default limit's, running to none (no cap of the tenant's own)."""
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
        "updated_at": record.occurred_at.isoformat().replace("+00:00", "Z"),
    }


async def put_tenant_limits(request: Request) -> Response:
    context, principal = context_of(request), principal_of(request)
    tenant_id = request.path_params["tenant"]
    if not TENANT_PATTERN.fullmatch(tenant_id):
        raise InvalidRequest([FieldError("tenant", TENANT_RULE)])
    limit = parse_limits(await read_body(request))
    record = TenantLimitsSet(
        tenant_id=tenant_id,
        rate=limit.rate,
        burst=limit.burst,
        queued=limit.queued,
        running=limit.running,
        set_by=principal.tenant_id,
    )
    await context.publisher.publish(TENANT_LIMIT_SETTINGS, tenant_id, record)
    if context.limits is not None:
        context.limits.forget(tenant_id)  # its state was judged by the old limits; admission republishes
    logger.info(
        "limits of tenant %s set by %s",
        tenant_id,
        principal.tenant_id,
        extra={"tenant_id": tenant_id},
    )
    return JSONResponse(limits_resource(record))
