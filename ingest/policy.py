"""Who may call what, on two planes: ONE table maps every route (method, path template) to a `Rule`: the
scope it needs and whose tenant it acts for. Roles grant scopes: the tenant roles `viewer`, `submitter` and
`admin` are bound to the caller's tenant; the platform `operator` is cluster-wide (it creates tenants, sets
any tenant's limits, enables webhooks globally) and may act for any tenant.

`ScopeMiddleware` enforces the table after authentication and fails closed: a route missing from the table
answers 403 to everyone (a test walks every route of the app and fails if one is missing); a route whose
`{tenant}` is not the caller's answers 404, exactly like a tenant that does not exist. Routes whose tenant
comes from the credential (`Tenant.CREDENTIAL`) scope what they touch by `may_act_for` in the handler.
"""

from __future__ import annotations

import enum
import logging
from collections.abc import Sequence
from dataclasses import dataclass

from starlette.routing import BaseRoute
from starlette.types import ASGIApp, Receive, Scope, Send

from ingest.auth import OPERATOR_ROLE, Principal
from ingest.errors import Forbidden, TenantNotFound
from ingest.problems import problem_response
from reelstream.route_match import route_match

logger = logging.getLogger(__name__)

READ, SUBMIT, ADMIN, PLATFORM = "jobs:read", "jobs:write", "admin", "platform"
OPERATOR = OPERATOR_ROLE

ROLE_SCOPES: dict[str, frozenset[str]] = {
    "viewer": frozenset({READ}),
    "submitter": frozenset({READ, SUBMIT}),
    "admin": frozenset({READ, SUBMIT, ADMIN}),
    OPERATOR: frozenset({READ, SUBMIT, ADMIN, PLATFORM}),
}


class Tenant(enum.Enum):
    """Whose tenant a route acts for."""

    NONE = "none"  # public: no caller at all
    CREDENTIAL = "credential"  # the caller's own (jobs; keys, checked in the handler by `may_act_for`)
    PATH = "path"  # the path's {tenant}: the caller's own, unless the caller is an operator


@dataclass(frozen=True)
class Rule:
    scope: str | None  # None: public (the authentication middleware lets these paths through)
    tenant: Tenant


PUBLIC = Rule(None, Tenant.NONE)
OWN_READ, OWN_SUBMIT, OWN_ADMIN = (Rule(s, Tenant.CREDENTIAL) for s in (READ, SUBMIT, ADMIN))
TENANT_ADMIN = Rule(ADMIN, Tenant.PATH)
PLATFORM_ONLY = Rule(PLATFORM, Tenant.CREDENTIAL)
TENANT_PLATFORM = Rule(PLATFORM, Tenant.PATH)

_TENANT = "/v1/admin/tenants/{tenant}"
ROUTE_POLICY: dict[tuple[str, str], Rule] = {
    ("GET", "/healthz"): PUBLIC,
    ("GET", "/readyz"): PUBLIC,
    ("GET", "/openapi.json"): PUBLIC,  # the API reference (/docs) and the console read it signed out
    ("GET", "/console/config.json"): PUBLIC,  # the console's sign-in choices (OIDC provider, client id)
    ("GET", "/v1/jobs"): OWN_READ,
    ("POST", "/v1/jobs"): OWN_SUBMIT,
    ("GET", "/v1/jobs/{job_id}"): OWN_READ,
    ("PUT", "/v1/jobs/{job_id}"): OWN_SUBMIT,
    ("DELETE", "/v1/jobs/{job_id}"): OWN_SUBMIT,
    ("POST", "/v1/jobs/{job_id}/cancel"): OWN_SUBMIT,
    ("GET", "/v1/jobs/{job_id}/content"): OWN_READ,
    ("GET", "/v1/jobs/{job_id}/events"): OWN_READ,
    ("GET", "/v1/usage"): OWN_READ,
    ("GET", "/v1/limits"): OWN_READ,  # the caller's tenant's limits and its use of them
    ("GET", "/v1/stats/render-load"): OWN_READ,  # the load visualization: the caller's tenant's jobs
    ("GET", "/v1/admin/usage"): PLATFORM_ONLY,  # every tenant's totals
    ("GET", "/v1/admin/pool"): PLATFORM_ONLY,  # the GPU pools' slots and queues (every tenant's jobs)
    ("GET", "/v1/admin/tenants"): PLATFORM_ONLY,
    ("POST", "/v1/admin/tenants"): PLATFORM_ONLY,
    ("GET", _TENANT): TENANT_ADMIN,  # a tenant admin reads its own record (its ceiling)
    ("DELETE", _TENANT): TENANT_PLATFORM,  # the operator only (ingest.tenant_lifecycle)
    ("POST", f"{_TENANT}/suspend"): TENANT_PLATFORM,
    ("POST", f"{_TENANT}/resume"): TENANT_PLATFORM,
    ("PUT", f"{_TENANT}/retention"): TENANT_PLATFORM,  # the operator's overrides (ingest.tenants)
    ("PUT", f"{_TENANT}/limits"): TENANT_ADMIN,  # a tenant admin may only lower them (ingest.admin)
    ("GET", f"{_TENANT}/webhook-secrets"): TENANT_ADMIN,
    ("POST", f"{_TENANT}/webhook-secrets"): TENANT_ADMIN,
    ("DELETE", f"{_TENANT}/webhook-secrets/{{secret_id}}"): TENANT_ADMIN,
    ("GET", f"{_TENANT}/webhook-endpoints"): TENANT_ADMIN,
    ("POST", f"{_TENANT}/webhook-endpoints"): TENANT_ADMIN,
    ("DELETE", f"{_TENANT}/webhook-endpoints/{{endpoint_id}}"): TENANT_ADMIN,
    ("PATCH", f"{_TENANT}/webhook-endpoints/{{endpoint_id}}"): TENANT_ADMIN,
    ("GET", f"{_TENANT}/webhook-endpoints/{{endpoint_id}}/deliveries"): TENANT_ADMIN,
    ("POST", f"{_TENANT}/webhook-endpoints/{{endpoint_id}}/deliveries/{{delivery_id}}/resend"): TENANT_ADMIN,
    ("POST", f"{_TENANT}/webhook-endpoints/{{endpoint_id}}/resend-failed"): TENANT_ADMIN,
    ("POST", f"{_TENANT}/webhook-secrets/{{secret_id}}/rotate"): TENANT_ADMIN,
    ("POST", f"{_TENANT}/webhook-endpoints/{{endpoint_id}}/ping"): TENANT_ADMIN,
    ("POST", "/v1/admin/webhooks/enable"): PLATFORM_ONLY,
    ("GET", "/v1/admin/keys"): OWN_ADMIN,
    ("POST", "/v1/admin/keys"): OWN_ADMIN,
    ("DELETE", "/v1/admin/keys/{key_id}"): OWN_ADMIN,
    ("POST", "/v1/admin/keys/{key_id}/rotate"): OWN_ADMIN,
}
ROUTE_SCOPES: dict[tuple[str, str], str | None] = {route: rule.scope for route, rule in ROUTE_POLICY.items()}


def scopes_of(roles: frozenset[str]) -> frozenset[str]:
    return frozenset().union(*(ROLE_SCOPES.get(role, frozenset()) for role in roles))


def rule_of(method: str, template: str) -> Rule | None:
    """The route's rule (HEAD as GET), None when the table does not name it."""
    return ROUTE_POLICY.get(("GET" if method == "HEAD" else method, template))


def required_scope(method: str, template: str) -> tuple[bool, str | None]:
    """(known, scope): whether the table names the route, and the scope it needs (None: public)."""
    rule = rule_of(method, template)
    return rule is not None, None if rule is None else rule.scope


def is_operator(principal: Principal) -> bool:
    return OPERATOR in principal.roles


def may_act_for(principal: Principal, tenant_id: str) -> bool:
    """The caller's own tenant, or any tenant for the platform operator."""
    return is_operator(principal) or principal.tenant_id == tenant_id


def verdict(rule: Rule | None, principal: Principal | None, path_tenant: str | None) -> Exception | None:
    """Why the caller may not call a route with this rule (None: it may). Pure: the matrix test's oracle
    and the middleware share it."""
    if rule is None:
        return Forbidden("not in the route policy")
    if rule.scope is None:
        return None
    roles = principal.roles if principal is not None else frozenset()
    if rule.scope not in scopes_of(roles):
        return Forbidden(f"needs scope {rule.scope}")
    if rule.tenant is Tenant.PATH and (
        principal is None or path_tenant is None or not may_act_for(principal, path_tenant)
    ):
        return TenantNotFound(f"tenant {path_tenant} not found")
    return None


class ScopeMiddleware:
    """403 problem+json unless the caller's roles grant the scope of the route the request matches; 404
    when the path names a tenant the caller may not act for.

    Requests that match no route pass on, so the router answers 404/405 as usual."""

    def __init__(self, app: ASGIApp, routes: Sequence[BaseRoute], principal_key: str) -> None:
        self.app = app
        self.routes = routes
        self.principal_key = principal_key

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            matched = route_match(scope, self.routes)
            if matched.full and matched.route is not None:
                principal = scope.get("state", {}).get(self.principal_key)
                _, child = matched.route.matches(scope)
                path_tenant = child.get("path_params", {}).get("tenant")
                refused = verdict(
                    rule_of(scope["method"], str(matched.template)),
                    principal if isinstance(principal, Principal) else None,
                    path_tenant,
                )
                if refused is not None:
                    logger.info(
                        "refused %s %s: %s", scope["method"], matched.template, type(refused).__name__
                    )
                    response = problem_response(refused, scope["path"])
                    await response(scope, receive, send)
                    return
        await self.app(scope, receive, send)
