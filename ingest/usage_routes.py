"""Usage routes: `GET /v1/usage` (the caller's tenant only) and `GET /v1/admin/usage` (every tenant's
totals, scope `admin`), answered from ingest's view of `reelstream.usage.events` (`ingest.usage_view`); and
the load visualization's `GET /v1/stats/render-load` (the caller's tenant; the operator's choice of tenant),
from the status view (`ingest.render_load`)."""

from __future__ import annotations

import functools

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from ingest.auth import principal_of
from ingest.context import context_of
from ingest.errors import TenantNotFound
from ingest.policy import may_act_for
from ingest.render_load import newest_succeeded, render_load_report
from ingest.render_load import parse_query as parse_load_query
from ingest.usage_report import parse_query, tenant_report, tenants_report
from schemas.events import utc_now


async def get_usage(request: Request) -> Response:
    context, tenant_id = context_of(request), principal_of(request).tenant_id
    query = parse_query(request.query_params, utc_now())
    return JSONResponse(tenant_report(tenant_id, context.usage_view().pieces(query, tenant_id), query))


async def get_admin_usage(request: Request) -> Response:
    context = context_of(request)
    query = parse_query(request.query_params, utc_now(), groups=("tenant",))
    return JSONResponse(tenants_report(context.usage_view().pieces(query), query))


async def get_render_load(request: Request) -> Response:
    """The caller's tenant's render load, or (the platform operator only) the `tenant` parameter's: another
    tenant's answers 404 to anyone else, as a tenant that does not exist would."""
    context, principal = context_of(request), principal_of(request)
    query = parse_load_query(request.query_params)
    tenant_id = query.tenant or principal.tenant_id
    if not may_act_for(principal, tenant_id):
        raise TenantNotFound(f"tenant {tenant_id} not found")
    jobs, complete = await newest_succeeded(functools.partial(context.view.page, tenant_id), query)
    return JSONResponse(render_load_report(tenant_id, jobs, query, complete=complete))
