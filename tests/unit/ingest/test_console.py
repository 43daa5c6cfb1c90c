"""The console and /docs as ingest serves them: cache headers, the Content-Security-Policy, public static
files that open no hole in the API's auth, and the CORS allow-list (none by default)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from ingest.app import create_app
from ingest.console import content_security_policy
from reelstream.endpoints import Endpoints
from reelstream.settings import IngestSettings, OidcSettings, PipelineSettings

STORE = "http://127.0.0.1:9000"
ENDPOINTS = Endpoints("127.0.0.1:1", "http://127.0.0.1:1", STORE, "a", "s", "b")
ALLOWED = "https://app.example.com"


@pytest.fixture
def dist(tmp_path: Path) -> Path:
    (tmp_path / "assets").mkdir()
    (tmp_path / "docs").mkdir()
    (tmp_path / "index.html").write_text('<script src="/console/assets/index-abc123.js"></script>')
    (tmp_path / "assets" / "index-abc123.js").write_text("console.log(1)")
    (tmp_path / "docs" / "index.html").write_text("<main id=swagger-ui></main>")
    (tmp_path / "docs" / "init.js").write_text("SwaggerUIBundle({})")
    return tmp_path


@pytest.fixture
def client_factory(dist: Path) -> Callable[..., TestClient]:
    """A client of an app that is never started (no lifespan: the static routes need no Kafka)."""

    def factory(**overrides: object) -> TestClient:
        settings = IngestSettings(
            pipeline=PipelineSettings(endpoints=ENDPOINTS), console_dir=str(dist), **overrides
        )
        return TestClient(create_app(settings), follow_redirects=False)

    return factory


def test_index_is_never_cached_and_hashed_assets_are_immutable(
    client_factory: Callable[..., TestClient],
) -> None:
    client = client_factory()
    index = client.get("/console/")
    assert index.status_code == 200
    assert index.headers["cache-control"] == "no-cache"
    assert index.headers["content-security-policy"] == content_security_policy(STORE)
    asset = client.get("/console/assets/index-abc123.js")
    assert asset.status_code == 200
    assert asset.headers["cache-control"] == "public, max-age=31536000, immutable"
    assert client.get("/console/assets/missing.js").status_code == 404


def test_the_policy_allows_this_origin_and_the_object_stores_media_only() -> None:
    policy = dict(part.split(" ", 1) for part in content_security_policy(STORE).split("; "))
    assert policy["default-src"] == "'none'"
    assert policy["script-src"] == "'self'"
    assert policy["connect-src"] == "'self'"
    assert policy["media-src"] == f"'self' {STORE}"
    assert "unsafe" not in content_security_policy(STORE)


def test_root_and_bare_paths_lead_to_the_console(client_factory: Callable[..., TestClient]) -> None:
    client = client_factory()
    for path in ("/", "/console"):
        response = client.get(path)
        assert (response.status_code, response.headers["location"]) == (308, "/console/")


def test_docs_are_served_from_the_bundle(client_factory: Callable[..., TestClient]) -> None:
    client = client_factory()
    page = client.get("/docs")
    assert page.status_code == 200
    assert "swagger-ui" in page.text
    assert "script-src 'self'" in page.headers["content-security-policy"]
    assert client.get("/docs/init.js").status_code == 200


def test_static_files_open_no_hole_in_the_apis_auth(client_factory: Callable[..., TestClient]) -> None:
    client = client_factory()
    assert client.get("/v1/jobs").status_code == 401
    assert client.get("/console/../v1/jobs").status_code in (401, 404)
    assert client.get("/docsx").status_code == 401  # a prefix of a public path is not public


def test_an_unbuilt_console_says_how_to_build_it(tmp_path: Path) -> None:
    settings = IngestSettings(pipeline=PipelineSettings(endpoints=ENDPOINTS), console_dir=str(tmp_path / "x"))
    response = TestClient(create_app(settings)).get("/console/")
    assert response.status_code == 503
    assert "npm run build" in response.text


def test_no_origin_is_allowed_by_default(client_factory: Callable[..., TestClient]) -> None:
    preflight = client_factory().options(
        "/v1/jobs",
        headers={"Origin": ALLOWED, "Access-Control-Request-Method": "POST"},
    )
    assert "access-control-allow-origin" not in preflight.headers


def test_an_allowed_origin_may_call_the_api_with_a_bearer_key(
    client_factory: Callable[..., TestClient],
) -> None:
    client = client_factory(cors_origins=(ALLOWED,))
    preflight = client.options(
        "/v1/jobs",
        headers={
            "Origin": ALLOWED,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization,idempotency-key",
        },
    )
    assert preflight.status_code == 200
    assert preflight.headers["access-control-allow-origin"] == ALLOWED
    other = client.options(
        "/v1/jobs", headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"}
    )
    assert other.status_code == 400
    refused = client.get("/v1/jobs", headers={"Origin": ALLOWED})  # no key: still 401, now readable
    assert refused.status_code == 401
    assert refused.headers["access-control-allow-origin"] == ALLOWED


IDP = "https://id.example.com/realms/reelstream"


def test_the_console_config_is_public_and_names_the_provider_only_when_the_console_has_a_client(
    client_factory: Callable[..., TestClient],
) -> None:
    assert client_factory().get("/console/config.json").json() == {"oidc": None}
    api_only = OidcSettings(issuer=IDP, audience="reelstream", jwks_url=f"{IDP}/jwks")
    assert client_factory(oidc=api_only).get("/console/config.json").json() == {"oidc": None}
    console = OidcSettings(
        issuer=IDP,
        audience="reelstream",
        jwks_url=f"{IDP}/jwks",
        console_client_id="console",
        console_scope="openid api",
    )
    client = client_factory(oidc=console)
    config = client.get("/console/config.json")  # no Authorization header
    assert config.status_code == 200
    assert config.headers["cache-control"] == "no-cache"
    assert config.json() == {"oidc": {"issuer": IDP, "client_id": "console", "scope": "openid api"}}
    # the console fetches the provider's discovery document and token endpoint: its origin only is allowed
    csp = client.get("/console/").headers["content-security-policy"]
    assert "connect-src 'self' https://id.example.com;" in csp
    assert (
        "connect-src 'self';"
        in client_factory(oidc=api_only).get("/console/").headers["content-security-policy"]
    )
