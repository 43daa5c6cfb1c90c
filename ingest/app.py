"""The application factory: routes, bearer auth, problem+json errors, resources opened in the lifespan."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ingest import (
    admin,
    admin_keys,
    console,
    key_rotation,
    limits,
    pool,
    routes,
    tenant_lifecycle,
    tenants,
    usage_routes,
    webhook_admin,
    webhook_deliveries,
    webhook_portal,
)
from ingest.api_keys import KeyTable
from ingest.auth import (
    PRINCIPAL_KEY,
    Authenticator,
    BearerAuthMiddleware,
    FirstOf,
    KeyStoreKeys,
    StaticApiKeys,
)
from ingest.context import CONTEXT_KEY, open_context
from ingest.deletion import Clock
from ingest.health import healthz, readyz
from ingest.jwt_auth import JwtAuthenticator
from ingest.openapi import openapi_endpoint
from ingest.policy import ScopeMiddleware
from ingest.problems import exception_handlers
from ingest.sse import events_route
from ingest.tenant_registry import TenantTable
from reelstream.gc_tuning import settle_heap
from reelstream.http_settings import EventStreamSettings
from reelstream.metrics import HttpMetricsMiddleware, Metrics, route_template
from reelstream.settings import IngestSettings, OidcSettings
from reelstream.tracing import request_span
from schemas.events import utc_now

Endpoint = Callable[[Request], Awaitable[Response]]

PUBLIC_PATHS = frozenset({"/healthz", "/readyz", "/openapi.json", "/console/config.json"})


def by_method(**handlers: Endpoint) -> Endpoint:
    """One endpoint for several methods of a path, so a 405 there lists every allowed method."""

    async def endpoint(request: Request) -> Response:
        return await handlers["GET" if request.method == "HEAD" else request.method](request)

    return endpoint


def traced(name: str, handler: Endpoint) -> Endpoint:
    """The request's span (reelstream.tracing): the records the handler publishes carry its trace."""

    async def endpoint(request: Request) -> Response:
        with request_span(name, request.headers):
            return await handler(request)

    return endpoint


def api_routes(sse: EventStreamSettings, oidc: OidcSettings | None = None) -> list[Route]:
    return [
        Route("/healthz", healthz, methods=["GET"], name="healthz"),
        Route("/readyz", readyz, methods=["GET"], name="readyz"),
        Route("/openapi.json", openapi_endpoint, methods=["GET"], name="openapi"),
        console.config_route(oidc),
        Route(
            "/v1/jobs",
            by_method(GET=routes.list_jobs, POST=traced("POST /v1/jobs", routes.submit_job)),
            methods=["GET", "POST"],
        ),
        Route(
            "/v1/jobs/{job_id}",
            by_method(
                GET=routes.get_job,
                PUT=traced("PUT /v1/jobs/{job_id}", routes.put_job),
                DELETE=routes.delete_job,
            ),
            methods=["GET", "PUT", "DELETE"],
        ),
        Route("/v1/jobs/{job_id}/cancel", routes.cancel_job, methods=["POST"], name="cancel_job"),
        Route("/v1/jobs/{job_id}/content", routes.job_content, methods=["GET"], name="job_content"),
        events_route(sse),
        Route("/v1/usage", usage_routes.get_usage, methods=["GET"], name="get_usage"),
        Route("/v1/limits", limits.get_limits, methods=["GET"], name="get_limits"),
        Route("/v1/admin/usage", usage_routes.get_admin_usage, methods=["GET"], name="get_admin_usage"),
        Route("/v1/admin/pool", pool.get_pool, methods=["GET"], name="get_pool"),
        Route("/v1/stats/render-load", usage_routes.get_render_load, methods=["GET"], name="get_render_load"),
        Route(
            "/v1/admin/tenants",
            by_method(GET=tenants.list_tenants, POST=tenants.create_tenant),
            methods=["GET", "POST"],
        ),
        Route(
            "/v1/admin/tenants/{tenant}",
            by_method(GET=tenants.get_tenant, DELETE=tenant_lifecycle.delete_tenant),
            methods=["GET", "DELETE"],
        ),
        Route(
            "/v1/admin/tenants/{tenant}/suspend",
            tenant_lifecycle.suspend_tenant,
            methods=["POST"],
            name="suspend_tenant",
        ),
        Route(
            "/v1/admin/tenants/{tenant}/resume",
            tenant_lifecycle.resume_tenant,
            methods=["POST"],
            name="resume_tenant",
        ),
        Route(
            "/v1/admin/tenants/{tenant}/retention",
            tenants.put_tenant_retention,
            methods=["PUT"],
            name="put_tenant_retention",
        ),
        Route(
            "/v1/admin/tenants/{tenant}/limits",
            admin.put_tenant_limits,
            methods=["PUT"],
            name="put_tenant_limits",
        ),
        Route(
            "/v1/admin/keys",
            by_method(GET=admin_keys.list_keys, POST=admin_keys.create_key),
            methods=["GET", "POST"],
        ),
        Route("/v1/admin/keys/{key_id}", admin_keys.revoke_key, methods=["DELETE"], name="revoke_key"),
        Route("/v1/admin/keys/{key_id}/rotate", key_rotation.rotate_key, methods=["POST"], name="rotate_key"),
        *webhook_admin_routes(),
    ]


def webhook_admin_routes() -> list[Route]:
    """A tenant's webhook secrets and registered endpoints (ingest.webhook_admin, ingest.webhook_portal),
    and its endpoints' delivery logs and resends (ingest.webhook_deliveries)."""
    base = "/v1/admin/tenants/{tenant}"
    endpoint = f"{base}/webhook-endpoints/{{endpoint_id}}"
    return [
        Route(
            f"{base}/webhook-secrets",
            by_method(GET=webhook_admin.list_secrets, POST=webhook_admin.create_secret),
            methods=["GET", "POST"],
        ),
        Route(f"{base}/webhook-secrets/{{secret_id}}", webhook_admin.retire_secret, methods=["DELETE"]),
        Route(f"{base}/webhook-secrets/{{secret_id}}/rotate", webhook_portal.rotate_secret, methods=["POST"]),
        Route(
            f"{base}/webhook-endpoints",
            by_method(GET=webhook_admin.list_endpoints, POST=webhook_admin.create_endpoint),
            methods=["GET", "POST"],
        ),
        Route(
            f"{endpoint}",
            by_method(DELETE=webhook_admin.delete_endpoint, PATCH=webhook_portal.update_endpoint),
            methods=["DELETE", "PATCH"],
        ),
        Route(f"{endpoint}/deliveries", webhook_deliveries.list_deliveries, methods=["GET"]),
        Route(
            f"{endpoint}/deliveries/{{delivery_id}}/resend",
            webhook_deliveries.resend_delivery,
            methods=["POST"],
        ),
        Route(f"{endpoint}/resend-failed", webhook_deliveries.resend_failed, methods=["POST"]),
        Route(
            f"{base}/webhook-endpoints/{{endpoint_id}}/ping", webhook_admin.ping_endpoint, methods=["POST"]
        ),
        Route("/v1/admin/webhooks/enable", webhook_admin.enable_endpoint, methods=["POST"]),
    ]


def default_authenticator(
    settings: IngestSettings, key_table: KeyTable, tenant_table: TenantTable | None = None
) -> Authenticator:
    """The key store first (`rs_live_…`, looked up by key_id), then OIDC JWTs where configured (their tenant
    claim must name a tenant of the registry), then the configured keys (bootstrap and operators)."""
    chain: list[Authenticator] = [KeyStoreKeys(key_table)]
    if settings.oidc is not None:
        chain.append(
            JwtAuthenticator(
                settings.oidc, tenants=tenant_table if tenant_table is not None else TenantTable()
            )
        )
    chain.append(StaticApiKeys(settings.api_keys, settings.api_key_roles))
    return FirstOf(*chain)


def cors_middleware(origins: tuple[str, ...]) -> Middleware:
    """Browser pages of these origins may call the API with a bearer key (no cookies are involved)."""
    return Middleware(
        CORSMiddleware,
        allow_origins=list(origins),
        allow_methods=["GET", "POST", "PUT", "DELETE"],
        allow_headers=["Authorization", "Content-Type", "Idempotency-Key", "Last-Event-ID"],
        expose_headers=["Location", "Retry-After", "RateLimit", "RateLimit-Policy", "Idempotent-Replayed"],
        max_age=600,
    )


def create_app(
    settings: IngestSettings,
    *,
    authenticator: Authenticator | None = None,
    metrics: Metrics | None = None,
    settle_heap_once_started: bool = False,
    clock: Clock = utc_now,
) -> Starlette:
    """The ingest API. Nothing is opened until the server runs the lifespan. `settle_heap_once_started`: the
    process is the service's own (reelstream.gc_tuning; not for an app served inside another program).
    `clock`: the time job retention is measured by (a test moves it forward)."""
    key_table = KeyTable()  # filled by the key store's view, read by the authenticator
    tenant_table = TenantTable()  # filled by the tenant registry's view, read by the JWT authenticator

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[dict[str, Any]]:
        async with open_context(settings, key_table, tenant_table, clock) as context:
            if settle_heap_once_started:
                settle_heap()  # what start-up built lives as long as the process
            yield {CONTEXT_KEY: context}

    auth = Middleware(
        BearerAuthMiddleware,
        authenticator=authenticator or default_authenticator(settings, key_table, tenant_table),
        public_paths=PUBLIC_PATHS | console.PUBLIC_PATHS,
        public_prefixes=console.PUBLIC_PREFIXES,
        tenants=tenant_table,
    )
    routes = api_routes(settings.sse, settings.oidc)
    middleware = [auth, Middleware(ScopeMiddleware, routes=routes, principal_key=PRINCIPAL_KEY)]
    if settings.cors_origins:  # before auth: a preflight carries no credentials
        middleware.insert(0, cors_middleware(settings.cors_origins))
    if metrics is not None:  # outermost, so refused (401) requests count too; served on its own port
        middleware.insert(
            0, Middleware(HttpMetricsMiddleware, metrics=metrics, route_of=route_template(routes))
        )
    dist = Path(settings.console_dir) if settings.console_dir else console.default_dist()
    static = console.console_routes(dist, settings.pipeline.endpoints.s3_endpoint, settings.oidc)
    return Starlette(
        routes=[*routes, *static],
        middleware=middleware,
        exception_handlers=exception_handlers(),
        lifespan=lifespan,
    )
