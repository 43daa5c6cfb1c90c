"""Who may call what: ONE table maps every route (method, path template) to the scope it needs, and roles
grant scopes. `ScopeMiddleware` enforces it after authentication and fails closed: a route missing from
the table answers 403 to everyone (a test walks every route of the app and fails if one is missing).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from starlette.routing import BaseRoute
from starlette.types import ASGIApp, Receive, Scope, Send

from ingest.errors import Forbidden
from ingest.problems import problem_response
from reelstream.route_match import route_match

logger = logging.getLogger(__name__)

READ, SUBMIT, ADMIN = "jobs:read", "jobs:write", "admin"
PUBLIC = None  # no credentials at all (the authentication middleware lets these paths through)

ROLE_SCOPES: dict[str, frozenset[str]] = {
    "viewer": frozenset({READ}),
    "submitter": frozenset({READ, SUBMIT}),
    "admin": frozenset({READ, SUBMIT, ADMIN}),
}

ROUTE_SCOPES: dict[tuple[str, str], str | None] = {
    ("GET", "/healthz"): PUBLIC,
    ("GET", "/readyz"): PUBLIC,
    ("GET", "/openapi.json"): PUBLIC,  # the API reference (/docs) and the console read it signed out
    ("GET", "/v1/jobs"): READ,
    ("POST", "/v1/jobs"): SUBMIT,
    ("GET", "/v1/jobs/{job_id}"): READ,
    ("PUT", "/v1/jobs/{job_id}"): SUBMIT,
    ("DELETE", "/v1/jobs/{job_id}"): SUBMIT,
    ("POST", "/v1/jobs/{job_id}/cancel"): SUBMIT,
    ("GET", "/v1/jobs/{job_id}/content"): READ,
    ("GET", "/v1/jobs/{job_id}/events"): READ,
    ("GET", "/v1/usage"): READ,
    ("GET", "/v1/admin/usage"): ADMIN,
    ("PUT", "/v1/admin/tenants/{tenant}/limits"): ADMIN,
    ("GET", "/v1/admin/tenants/{tenant}/webhook-secrets"): ADMIN,
    ("POST", "/v1/admin/tenants/{tenant}/webhook-secrets"): ADMIN,
    ("DELETE", "/v1/admin/tenants/{tenant}/webhook-secrets/{secret_id}"): ADMIN,
    ("GET", "/v1/admin/tenants/{tenant}/webhook-endpoints"): ADMIN,
    ("POST", "/v1/admin/tenants/{tenant}/webhook-endpoints"): ADMIN,
    ("DELETE", "/v1/admin/tenants/{tenant}/webhook-endpoints/{endpoint_id}"): ADMIN,
    ("POST", "/v1/admin/tenants/{tenant}/webhook-endpoints/{endpoint_id}/ping"): ADMIN,
    ("POST", "/v1/admin/webhooks/enable"): ADMIN,
    ("GET", "/v1/admin/keys"): ADMIN,
    ("POST", "/v1/admin/keys"): ADMIN,
    ("DELETE", "/v1/admin/keys/{key_id}"): ADMIN,
}


def scopes_of(roles: frozenset[str]) -> frozenset[str]:
    return frozenset().union(*(ROLE_SCOPES.get(role, frozenset()) for role in roles))


def required_scope(method: str, template: str) -> tuple[bool, str | None]:
    """(known, scope): whether the table names the route, and the scope it needs (None: public)."""
    key = ("GET" if method == "HEAD" else method, template)
    return key in ROUTE_SCOPES, ROUTE_SCOPES.get(key)


class ScopeMiddleware:
    """403 problem+json unless the caller's roles grant the scope of the route the request matches.

    Requests that match no route pass on, so the router answers 404/405 as usual."""

    def __init__(self, app: ASGIApp, routes: Sequence[BaseRoute], principal_key: str) -> None:
        self.app = app
        self.routes = routes
        self.principal_key = principal_key

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        template = self._template(scope) if scope["type"] == "http" else None
        if template is not None:
            known, needed = required_scope(scope["method"], template)
            principal = scope.get("state", {}).get(self.principal_key)
            roles: frozenset[str] = getattr(principal, "roles", frozenset())
            if not known or (needed is not None and needed not in scopes_of(roles)):
                logger.info("forbidden %s %s", scope["method"], template)
                why = "not in the route policy" if not known else f"needs scope {needed}"
                response = problem_response(Forbidden(f"{scope['method']} {template} {why}"), scope["path"])
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)

    def _template(self, scope: Scope) -> str | None:
        matched = route_match(scope, self.routes)
        return matched.template if matched.full else None
