"""Every route except the health checks and the API document needs a bearer key and a scope from the one
policy table; the OpenAPI document describes every route. (The console's static pages: test_console.py.)"""

from __future__ import annotations

from starlette.routing import Route

from ingest.console import is_static
from ingest.policy import ADMIN, PLATFORM, ROUTE_SCOPES
from tests.integration.ingest.support import RunningApi

# health, the API reference, and how the console signs in (it reads this before anyone has a credential)
PUBLIC = {"/healthz", "/readyz", "/openapi.json", "/console/config.json"}
FILLED = {"{job_id}": "0" * 32, "{tenant}": "tenant-0", "{key_id}": "0" * 16}


def routes_of(api: RunningApi) -> list[tuple[str, str]]:
    """(method, path) of every route of the app, path parameters filled in."""
    found = []
    for route in api.app.routes:
        if is_static(route):
            continue  # the console's and /docs' files: public pages, tests/unit/ingest/test_console.py
        assert isinstance(route, Route), f"unexpected route type {route!r}: extend this walk"
        for method in sorted((route.methods or set()) - {"HEAD"}):
            found.append((method, fill(route.path)))
    return found


def fill(template: str) -> str:
    for name, value in FILLED.items():
        template = template.replace(name, value)
    return template


def template_of(path: str) -> str:
    for name, value in FILLED.items():
        path = path.replace(value, name)
    return path


async def test_every_route_but_health_refuses_missing_or_unknown_keys(ready_api: RunningApi) -> None:
    protected = [(m, p) for m, p in routes_of(ready_api) if p not in PUBLIC]
    assert len(protected) >= 7
    callers = {
        "no header": ready_api.client(None),
        "unknown key": ready_api.client(token="rs_not_a_key"),
    }
    for name, header in {"scheme only": "Bearer", "basic scheme": "Basic " + ready_api.keys["alice"]}.items():
        callers[name] = ready_api.client(None)
        callers[name].headers["Authorization"] = header
    for method, path in protected:
        for name, client in callers.items():
            response = await client.request(method, path, json={} if method == "POST" else None)
            where = f"{method} {path} with {name}"
            assert response.status_code == 401, where
            assert response.headers["www-authenticate"].startswith("Bearer"), where
            assert response.headers["content-type"] == "application/problem+json", where
            assert response.json()["status"] == 401, where
            assert ready_api.keys["alice"] not in response.text, where


async def test_a_valid_key_passes_authentication(ready_api: RunningApi) -> None:
    response = await ready_api.client("alice").get(f"/v1/jobs/{'0' * 32}")
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"


async def test_health_routes_need_no_key(ready_api: RunningApi) -> None:
    client = ready_api.client(None)
    assert sorted(p for _, p in routes_of(ready_api) if p in PUBLIC) == sorted(PUBLIC)
    assert (await client.get("/healthz")).json() == {"status": "ok"}
    ready = await client.get("/readyz")  # the fixture waited for it: the status view has caught up
    assert (ready.status_code, ready.json()) == (200, {"status": "ready"})


async def test_openapi_describes_every_route_with_bearer_security(ready_api: RunningApi) -> None:
    response = await ready_api.client("alice").get("/openapi.json")
    assert response.status_code == 200
    document = response.json()
    assert document["openapi"].startswith("3.1")
    assert document["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"
    for method, path in routes_of(ready_api):
        template = template_of(path)
        assert method.lower() in document["paths"].get(template, {}), f"{method} {template} is not documented"
    for path in PUBLIC:
        assert document["paths"][path]["get"]["security"] == []


async def test_unknown_routes_and_methods_answer_problem_json(ready_api: RunningApi) -> None:
    client = ready_api.client("alice")
    missing = await client.get("/v2/nothing")
    assert (missing.status_code, missing.headers["content-type"]) == (404, "application/problem+json")
    wrong = await client.delete("/v1/jobs")
    assert (wrong.status_code, wrong.headers["content-type"]) == (405, "application/problem+json")
    assert "GET" in wrong.headers["allow"]


async def test_every_route_is_in_the_policy_table_and_admin_routes_refuse_submitters(
    ready_api: RunningApi,
) -> None:
    routed = {(m, template_of(p)) for m, p in routes_of(ready_api)}
    assert routed == set(ROUTE_SCOPES), "every route needs an entry in ingest.policy.ROUTE_SCOPES"
    admin_routes = [(m, fill(t)) for (m, t), scope in ROUTE_SCOPES.items() if scope in (ADMIN, PLATFORM)]
    assert admin_routes
    for method, path in admin_routes:
        response = await ready_api.client("alice").request(method, path, json={"rate": 1, "burst": 1})
        assert response.status_code == 403, f"{method} {path}"
        assert response.headers["content-type"] == "application/problem+json"
