"""The route a request goes to, matched once per request and kept in its ASGI scope.

Several pure-ASGI middlewares need the route of a request (metrics label it by template, the scope policy
looks its template up) before Starlette's router runs. Matching a request against every route costs a
regular expression per route; `route_match` does it for the first middleware that asks and leaves the
result in the scope for the others (the scope is one dict handed down the whole stack).
"""

from __future__ import annotations

from collections.abc import MutableMapping, Sequence
from dataclasses import dataclass
from typing import Any

from starlette.routing import BaseRoute, Match

ROUTE_MATCH_KEY = "reelstream.route_match"
UNMATCHED = "unmatched"


@dataclass(frozen=True, slots=True)
class RouteMatch:
    """Starlette's choice: the first route matching path and method (`full`), else the first matching
    the path only (the router answers 405 there); `route` is None when no path matches (404)."""

    route: BaseRoute | None
    full: bool

    @property
    def template(self) -> str | None:
        """The path template (`/v1/jobs/{job_id}`), or None when no route's path matches."""
        return None if self.route is None else str(getattr(self.route, "path", UNMATCHED))


def route_match(scope: MutableMapping[str, Any], routes: Sequence[BaseRoute]) -> RouteMatch:
    """The request's route among `routes` (one route table per application), matched on the first call
    and read from the scope afterwards."""
    found = scope.get(ROUTE_MATCH_KEY)
    if isinstance(found, RouteMatch):
        return found
    partial: BaseRoute | None = None
    for route in routes:
        match, _ = route.matches(scope)
        if match is Match.FULL:
            found = RouteMatch(route, full=True)
            break
        if match is Match.PARTIAL and partial is None:
            partial = route
    else:
        found = RouteMatch(partial, full=False)
    scope[ROUTE_MATCH_KEY] = found
    return found
