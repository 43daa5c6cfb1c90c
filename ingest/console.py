"""The web console and the API reference, served as the static files `npm run build` makes in console/.

`/console/` is the single-page app: `index.html` is never cached (it names the current hashed assets), the
hashed files under `/console/assets/` are cached for a year as immutable. `/docs` is Swagger UI from its npm
package, bundled at build time (no CDN). Both are public (the pages hold no data; the API calls they make
carry the user's key) and answer with a strict Content-Security-Policy: scripts, styles and connections to
this origin only, media and images also from the object store that presigned URLs point at.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

from starlette.requests import Request
from starlette.responses import (
    FileResponse,
    JSONResponse,
    PlainTextResponse,
    RedirectResponse,
    Response,
)
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import Message, Receive, Scope, Send

from reelstream.settings import OidcSettings

PUBLIC_PREFIXES = ("/console/", "/docs/")
PUBLIC_PATHS = frozenset({"/", "/console", "/docs"})
IMMUTABLE = "public, max-age=31536000, immutable"
NO_CACHE = "no-cache"
NOT_BUILT = "The console is not built: run `npm ci && npm run build` in console/ (make dev does it).\n"


def default_dist() -> Path:
    """The checkout's console/dist (dev and tests); images set REELSTREAM_CONSOLE_DIR."""
    return Path(__file__).resolve().parents[1] / "console" / "dist"


def origin_of(url: str | None) -> str:
    """scheme://host[:port] of a URL ("" when it has none)."""
    parts = urlsplit(url or "")
    return f"{parts.scheme}://{parts.netloc}" if parts.scheme and parts.netloc else ""


def content_security_policy(
    object_store_url: str, *, inline_styles: bool = False, identity_provider: str | None = None
) -> str:
    """Only this origin, plus the object store for the video and poster (their presigned URLs), plus the
    OIDC provider the console signs in with (its discovery document and token endpoint are fetched)."""
    store = origin_of(object_store_url)
    provider = origin_of(identity_provider)
    styles = "'self' 'unsafe-inline'" if inline_styles else "'self'"  # Swagger UI sets style attributes
    return "; ".join(
        (
            "default-src 'none'",
            "script-src 'self'",
            f"style-src {styles}",
            f"img-src 'self' data: {store}".rstrip(),
            f"media-src 'self' {store}".rstrip(),
            f"connect-src 'self' {provider}".rstrip(),
            "font-src 'self'",
            "base-uri 'none'",
            "form-action 'self'",
            "frame-ancestors 'none'",
        )
    )


class CachedStatic(StaticFiles):
    """Static files with one Cache-Control and Content-Security-Policy for all of them."""

    def __init__(self, directory: Path, cache_control: str, csp: str) -> None:
        super().__init__(directory=directory, check_dir=False)
        self.headers = {"Cache-Control": cache_control, "Content-Security-Policy": csp}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message.setdefault("headers", [])
                message["headers"] = [
                    *message["headers"],
                    *((k.lower().encode(), v.encode()) for k, v in self.headers.items()),
                ]
            await send(message)

        await super().__call__(scope, receive, send_with_headers)


def is_static(route: BaseRoute) -> bool:
    """A route of these static pages, not of the API (the route table, the policy and OpenAPI skip it)."""
    return isinstance(route, Mount) or not getattr(route, "include_in_schema", True)


def console_config(oidc: OidcSettings | None) -> dict[str, object]:
    """What the console needs before anyone signed in: whether (and with which provider and client) it
    offers OIDC sign-in next to API keys. Public: it holds no secret (the client is a public one)."""
    if oidc is None or oidc.console_client_id is None:
        return {"oidc": None}
    return {"oidc": {"issuer": oidc.issuer, "client_id": oidc.console_client_id, "scope": oidc.console_scope}}


def config_route(oidc: OidcSettings | None) -> Route:
    """`GET /console/config.json` (public, in the OpenAPI document and the route policy)."""
    body = console_config(oidc)

    async def config_endpoint(request: Request) -> Response:
        return JSONResponse(body, headers={"Cache-Control": NO_CACHE})

    return Route("/console/config.json", config_endpoint, methods=["GET"], name="console_config")


def console_routes(dist: Path, object_store_url: str, oidc: OidcSettings | None = None) -> list[BaseRoute]:
    """The routes of the console and the API reference, over the built files in `dist`."""
    issuer = oidc.issuer if oidc is not None and oidc.console_client_id is not None else None
    app_csp = content_security_policy(object_store_url, identity_provider=issuer)
    docs_csp = content_security_policy(object_store_url, inline_styles=True)

    def page(path: Path, csp: str) -> Response:
        if not path.is_file():
            return PlainTextResponse(NOT_BUILT, status_code=503, headers={"Cache-Control": NO_CACHE})
        return FileResponse(path, headers={"Cache-Control": NO_CACHE, "Content-Security-Policy": csp})

    async def console_index(request: Request) -> Response:
        return page(dist / "index.html", app_csp)

    async def docs_index(request: Request) -> Response:
        return page(dist / "docs" / "index.html", docs_csp)

    async def to_console(request: Request) -> Response:
        return RedirectResponse("/console/", status_code=308)

    return [
        Route("/", to_console, methods=["GET"], include_in_schema=False),
        Route("/console", to_console, methods=["GET"], include_in_schema=False),
        Route("/console/", console_index, methods=["GET"], include_in_schema=False),
        Mount("/console/assets", CachedStatic(dist / "assets", IMMUTABLE, app_csp)),
        Route("/docs", docs_index, methods=["GET"], include_in_schema=False),
        Route("/docs/", docs_index, methods=["GET"], include_in_schema=False),
        Mount("/docs", CachedStatic(dist / "docs", NO_CACHE, docs_csp)),
    ]
