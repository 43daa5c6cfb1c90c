"""Liveness and readiness, the two routes that need no credentials."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from ingest.context import context_of
from ingest.errors import NotReady


async def healthz(request: Request) -> Response:
    """200 whenever the process serves HTTP."""
    return JSONResponse({"status": "ok"})


async def readyz(request: Request) -> Response:
    """200 once the producer is started, the status view and every view a request may need have caught up (the
    status view still consuming), and the key store's view heard from the broker within
    `key_store_max_lag_seconds` (the revocation bound). The delivery log and the pool view are not waited
    for: their routes answer 503 until they have caught up."""
    context = context_of(request)
    if not context.producer_started:
        raise NotReady("the producer is not started")
    if not context.view.running:
        raise NotReady("the status view is not consuming")
    if not context.view.caught_up:
        raise NotReady("the status view is still catching up")
    if not context.ready:  # every request needs them: the tenant registry, keys, limits, webhooks, job keys
        raise NotReady("a view of tenants, keys, limits, webhooks or job keys is still loading")
    bound = context.settings.key_store_max_lag_seconds
    if context.api_keys is not None and context.api_keys.silent_seconds() > bound:
        # a key revoked on another replica may still be accepted here: stop taking traffic
        raise NotReady(f"the key store's view has not heard from the broker for over {bound:g} s")
    return JSONResponse({"status": "ready"})
