"""Usage routes: `GET /v1/usage` (the caller's tenant only) and `GET /v1/admin/usage` (every tenant's
totals, scope `admin`), answered from ingest's view of `reelstream.usage.events` (`ingest.usage_view`)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from ingest.auth import principal_of
from ingest.context import context_of
from ingest.usage_report import parse_query, tenant_report, tenants_report
from schemas.events import utc_now


async def get_usage(request: Request) -> Response:
    context, tenant_id = context_of(request), principal_of(request).tenant_id
    query = parse_query(request.query_params, utc_now())
    return JSONResponse(tenant_report(tenant_id, context.usage_view().of_tenant(tenant_id), query))


async def get_admin_usage(request: Request) -> Response:
    context = context_of(request)
    query = parse_query(request.query_params, utc_now(), groups=("tenant",))
    return JSONResponse(tenants_report(context.usage_view().every(), query))
