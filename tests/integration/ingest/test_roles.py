"""Roles on two planes against the real ingest (real Kafka, registry, MinIO): the generated role matrix
(every route of the app × operator, admin, submitter, viewer × own / other tenant × API key / JWT, each
cell's status asserted), then what the matrix cannot show by status alone: a tenant admin bound to its own
tenant's keys and limits, tenants as records the operator creates, keys and endpoints for a tenant that
does not exist refused."""

from __future__ import annotations

import asyncio
import secrets
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from reelstream_client import AsyncClient
from reelstream_client.cli.main import main as cli_main
from reelstream_client.cli.output import AUTH
from reelstream_client.errors import NotFound
from starlette.routing import Route

from devstack.manager import ensure_bucket
from devstack.tenants import ensure_tenants
from ingest.app import create_app
from ingest.console import is_static
from reelstream.endpoints import Endpoints
from reelstream.settings import IngestSettings, OidcSettings, PipelineSettings
from tests.integration.ingest.jwks import AUDIENCE, ISSUER, Jwks
from tests.integration.ingest.support import eventually, readyz, serve, shutdown
from tests.keys import shared_key_dir

RUN = uuid.uuid4().hex[:8]
OPS, OWN, OTHER = f"ops-{RUN}", f"own-{RUN}", f"other-{RUN}"
TENANT_ROLES = ("admin", "submitter", "viewer")
ROLES = ("operator", *TENANT_ROLES)
KINDS = ("api_key", "jwt")
PROBE = {"matrix_probe": True}  # a body every route refuses (unknown field): no cell changes anything
FILLED = {
    "{job_id}": "0" * 32,
    "{key_id}": "0" * 16,
    "{secret_id}": "0" * 16,
    "{endpoint_id}": "0" * 16,
    "{delivery_id}": "0" * 32,
}


@dataclass
class Matrix:
    base_url: str
    routes: list[tuple[str, str]]  # (method, template) of every route of the app
    keys: dict[str, str]  # role → static API key (operator of OPS, the others of OWN)
    jwks: Jwks
    clients: list[httpx.AsyncClient] = field(default_factory=list)

    def client(self, token: str | None) -> httpx.AsyncClient:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        # a connection per request: no idle keep-alive connection for the server to close under a request
        # sent as it does (the matrix runs long on a loaded machine; the server closes idle ones after 5 s)
        no_reuse = httpx.Limits(max_keepalive_connections=0)
        client = httpx.AsyncClient(base_url=self.base_url, headers=headers, timeout=15.0, limits=no_reuse)
        self.clients.append(client)
        return client

    def token(self, role: str, kind: str) -> str:
        if kind == "api_key":
            return self.keys[role]
        return self.jwks.token("rsa-1", tenant=home(role), roles=[role])


def home(role: str) -> str:
    return OPS if role == "operator" else OWN


@pytest.fixture(scope="module")
async def matrix(stack: Endpoints, topics: None) -> AsyncIterator[Matrix]:
    ensure_bucket(stack)
    await ensure_tenants(stack, [OPS, OWN, OTHER])
    jwks = Jwks()
    jwks.add("rsa-1", "RS256")
    idp = await serve(jwks.app())
    keys = {role: f"rs_test_{secrets.token_urlsafe(24)}" for role in ROLES}
    settings = IngestSettings(
        key_dir=shared_key_dir(),
        pipeline=PipelineSettings(endpoints=stack, default_model="tiny-mochi"),
        api_keys={key: home(role) for role, key in keys.items()},
        api_key_roles={key: frozenset({role}) for role, key in keys.items()},
        oidc=OidcSettings(issuer=ISSUER, audience=AUDIENCE, jwks_url=f"{idp.base_url}/jwks.json"),
    )
    app = create_app(settings)
    routes = sorted(
        (method, route.path)
        for route in app.routes
        if isinstance(route, Route) and not is_static(route)
        for method in (route.methods or ())
        if method != "HEAD"
    )
    served = await serve(app)
    running = Matrix(served.base_url, routes, keys, jwks)
    probe = running.client(None)
    await eventually(lambda: readyz(probe), lambda status: status == 200, within=120)
    try:
        yield running
    finally:
        for client in running.clients:
            await client.aclose()
        await shutdown(served)
        await shutdown(idp)


# ---- the specification, written from the issue (not from ingest.policy) ---------------------------------


def expected_refusal(method: str, template: str, role: str, own: bool) -> int | None:
    """403 (the role lacks the route's scope), 404 (another tenant's, answered like a missing one), or None:
    the route's handler answers. A route this function does not know fails the test: specify it here."""
    if template in ("/healthz", "/readyz", "/openapi.json", "/console/config.json"):  # public
        return None
    operator = role == "operator"
    if template.startswith("/v1/jobs"):
        needed = {"viewer", "submitter", "admin", "operator"} if method == "GET" else {"submitter", "admin"}
        return None if operator or role in needed else 403
    if template in ("/v1/usage", "/v1/limits", "/v1/stats/render-load"):  # the caller's own: any role reads
        return None
    if template in ("/v1/admin/tenants", "/v1/admin/webhooks/enable", "/v1/admin/usage", "/v1/admin/pool"):
        return None if operator else 403  # the platform plane
    if (method, template) in OPERATORS_ONLY:  # suspend, resume, delete, retention: any tenant
        return None if operator else 403
    if template.startswith("/v1/admin/tenants/{tenant}"):
        if not operator and role != "admin":
            return 403
        return None if operator or own else 404
    if template.startswith("/v1/admin/keys"):
        return None if operator or role == "admin" else 403
    raise AssertionError(f"{method} {template}: no expectation; add the route to expected_refusal")


OPERATORS_ONLY = {
    ("PUT", "/v1/admin/tenants/{tenant}/retention"),
    ("POST", "/v1/admin/tenants/{tenant}/suspend"),
    ("POST", "/v1/admin/tenants/{tenant}/resume"),
    ("DELETE", "/v1/admin/tenants/{tenant}"),
}


def concrete(template: str, tenant: str) -> str:
    path = template.replace("{tenant}", tenant)
    for name, value in FILLED.items():
        path = path.replace(name, value)
    return path


async def call(client: httpx.AsyncClient, method: str, path: str) -> httpx.Response:
    body = PROBE if method in ("POST", "PUT", "PATCH") else None
    return await client.request(method, path, json=body)


async def test_the_generated_role_matrix_holds_on_the_real_ingest(matrix: Matrix) -> None:
    operator = matrix.client(matrix.keys["operator"])
    reference: dict[tuple[str, str], int] = {}  # what the handler answers (the operator is never refused)
    cells: list[tuple[str, str, str, str, str, int, int]] = []
    for method, template in matrix.routes:
        for role in ROLES:
            for own in (True, False):
                path = concrete(template, home(role) if own else OTHER)
                if (method, path) not in reference:
                    answered = await call(operator, method, path)
                    assert answered.status_code not in (401, 403), f"{method} {path}: {answered.text}"
                    if answered.status_code == 404 and "{tenant}" in template:
                        assert not answered.json()["detail"].startswith("tenant "), (
                            f"{method} {path} {answered.text}"
                        )
                    reference[(method, path)] = answered.status_code
                refusal = expected_refusal(method, template, role, own)
                expected = refusal if refusal is not None else reference[(method, path)]
                for kind in KINDS:
                    response = await call(matrix.client(matrix.token(role, kind)), method, path)
                    cells.append(
                        (
                            method,
                            template,
                            role,
                            "own" if own else "other",
                            kind,
                            expected,
                            response.status_code,
                        )
                    )
                    if response.status_code >= 400:
                        assert response.headers["content-type"] == "application/problem+json", path
    wrong = [cell for cell in cells if cell[5] != cell[6]]
    print(
        f"role matrix: {len(matrix.routes)} routes × {len(ROLES)} roles × 2 tenants × {len(KINDS)} "
        f"credentials = {len(cells)} cells"
    )
    assert not wrong, "\n".join(
        f"{m} {t} {r}/{o}/{k}: expected {e}, got {g}" for m, t, r, o, k, e, g in wrong
    )
    assert len(cells) == len(matrix.routes) * len(ROLES) * 2 * len(KINDS) >= 400
    assert {c[6] for c in cells} >= {403, 404}  # the matrix exercises both kinds of refusal


async def json_of(response: httpx.Response, status: int) -> Any:
    assert response.status_code == status, response.text
    return response.json()


async def test_tenants_are_records_the_operator_creates(matrix: Matrix) -> None:
    operator, admin = matrix.client(matrix.keys["operator"]), matrix.client(matrix.keys["admin"])
    fresh = f"new-{RUN}"
    assert (await admin.post("/v1/admin/keys", json={"tenant": fresh})).status_code == 404  # not created yet
    assert (await operator.post("/v1/admin/keys", json={"tenant": fresh})).status_code == 404
    missing = await operator.post(
        f"/v1/admin/tenants/{fresh}/webhook-endpoints", json={"url": "https://e.test/h"}
    )
    assert missing.status_code == 404
    assert (
        await operator.put(f"/v1/admin/tenants/{fresh}/limits", json={"rate": 1, "burst": 1})
    ).status_code == 404
    body = {
        "id": fresh,
        "name": "Fresh Inc",
        "limits": {"rate": 2, "burst": 4, "queued": 50},
        "retention_days": 7,
    }
    created = await json_of(await operator.post("/v1/admin/tenants", json=body), 201)
    assert (created["id"], created["status"], created["retention_days"]) == (fresh, "active", 7)
    assert created["limits"] == {"rate": 2.0, "burst": 4.0, "queued": 50, "running": None, "gang": None}
    assert (await operator.post("/v1/admin/tenants", json=body)).status_code == 409
    listed = await json_of(await operator.get("/v1/admin/tenants"), 200)
    assert {OPS, OWN, OTHER, fresh} <= {t["id"] for t in listed["data"]}
    assert (await json_of(await operator.get(f"/v1/admin/tenants/{fresh}"), 200))["name"] == "Fresh Inc"
    retention = f"/v1/admin/tenants/{fresh}/retention"
    changed = await json_of(await operator.put(retention, json={"video_retention_days": 2}), 200)
    assert (changed["retention_days"], changed["video_retention_days"]) == (None, 2)  # replaced both
    shown = await json_of(await operator.get(f"/v1/admin/tenants/{fresh}"), 200)
    assert (shown["retention_days"], shown["video_retention_days"]) == (None, 2)
    refused = await json_of(await operator.put(retention, json={"retention_days": 0}), 422)
    assert {e["field"] for e in refused["errors"]} == {"retention_days"}
    # the bucket's lifecycle rule deletes videos a day past the platform's 7 days: no override past it
    too_long = await json_of(await operator.put(retention, json={"video_retention_days": 8}), 422)
    assert {e["field"] for e in too_long["errors"]} == {"video_retention_days"}
    assert (await json_of(await operator.post("/v1/admin/keys", json={"tenant": fresh}), 201))[
        "tenant"
    ] == fresh
    invalid = await json_of(
        await operator.post("/v1/admin/tenants", json={"id": "no spaces", "retention_days": 0}), 422
    )
    assert {e["field"] for e in invalid["errors"]} == {"id", "retention_days"}
    bad_limits = await operator.post(
        "/v1/admin/tenants", json={"id": f"x-{RUN}", "limits": {"rate": 0, "burst": 1}}
    )
    assert {e["field"] for e in (await json_of(bad_limits, 422))["errors"]} == {"limits.rate"}


async def test_a_tenant_admin_manages_only_its_own_tenant(matrix: Matrix) -> None:
    admin = matrix.client(matrix.keys["admin"])
    mine = await json_of(await admin.post("/v1/admin/keys", json={"tenant": OWN, "roles": ["viewer"]}), 201)
    assert (await admin.post("/v1/admin/keys", json={"tenant": OTHER})).status_code == 404
    escalated = await admin.post("/v1/admin/keys", json={"tenant": OWN, "roles": ["operator"]})
    assert escalated.status_code == 403
    theirs = await json_of(
        await matrix.client(matrix.keys["operator"]).post("/v1/admin/keys", json={"tenant": OTHER}), 201
    )
    listed = await json_of(await admin.get("/v1/admin/keys"), 200)
    assert {k["tenant"] for k in listed["data"]} == {OWN}
    assert mine["id"] in {k["id"] for k in listed["data"]}
    assert (await admin.get("/v1/admin/keys", params={"tenant": OTHER})).status_code == 404
    assert (await admin.delete(f"/v1/admin/keys/{theirs['id']}")).status_code == 404
    assert (await admin.delete(f"/v1/admin/keys/{mine['id']}")).status_code == 200


async def test_a_tenant_admin_may_lower_its_limits_never_raise_them(matrix: Matrix) -> None:
    operator, admin = matrix.client(matrix.keys["operator"]), matrix.client(matrix.keys["admin"])
    ceiling = {"rate": 5, "burst": 10, "queued": 100, "running": 3, "gang": 4}
    set_ = await json_of(await operator.put(f"/v1/admin/tenants/{OWN}/limits", json=ceiling), 200)
    assert set_["gang"] == 4
    tenant = await json_of(await admin.get(f"/v1/admin/tenants/{OWN}"), 200)  # its own record: the ceiling
    assert tenant["limits"] == {"rate": 5.0, "burst": 10.0, "queued": 100, "running": 3, "gang": 4}
    lowered = {"rate": 1, "burst": 2, "queued": 10, "running": 1, "gang": 2}
    assert (await json_of(await admin.put(f"/v1/admin/tenants/{OWN}/limits", json=lowered), 200))["gang"] == 2
    wider = await admin.put(f"/v1/admin/tenants/{OWN}/limits", json={**lowered, "gang": 8})
    assert wider.status_code == 403
    assert "gang" in wider.json()["detail"]
    odd = await operator.put(f"/v1/admin/tenants/{OWN}/limits", json={**ceiling, "gang": 3})
    assert [e["field"] for e in (await json_of(odd, 422))["errors"]] == ["gang"]
    raised = await admin.put(f"/v1/admin/tenants/{OWN}/limits", json={"rate": 6, "burst": 2, "queued": 10})
    assert raised.status_code == 403
    assert "rate" in raised.json()["detail"]
    assert "running" in raised.json()["detail"]
    after = await json_of(await admin.get(f"/v1/admin/tenants/{OWN}"), 200)
    assert after["limits"]["rate"] == 5.0  # an admin's lowering leaves the ceiling where the operator put it


async def test_the_cli_creates_lists_and_shows_tenants_and_the_sdk_reads_them(
    matrix: Matrix, capsys: pytest.CaptureFixture[str]
) -> None:
    env = {"REELSTREAM_API_URL": matrix.base_url, "REELSTREAM_API_KEY": matrix.keys["operator"]}
    tenant = f"cli-{RUN}"

    async def run(*argv: str, expect: int = 0) -> str:
        assert await asyncio.to_thread(cli_main, argv, env) == expect  # sync HTTP: off the server's loop
        return capsys.readouterr().out

    created = await run("tenants", "create", tenant, "--name", "CLI", "--rate", "2", "--burst", "3")
    assert created.startswith(f"{tenant}\tactive\tCLI\trate 2/s burst 3 ")
    assert f"{tenant}\tactive" in await run("tenants", "list")
    assert "retention" not in await run("tenants", "show", tenant)  # one line, no header
    limited = await run("tenants", "limits", tenant, "--rate", "2", "--burst", "3", "--gang", "2")
    assert limited.strip().endswith("gang 2")
    assert " gang 2\t" in await run("tenants", "show", tenant)  # the operator's limits: the ceiling
    async with AsyncClient(matrix.base_url, api_key=matrix.keys["admin"]) as admin:
        mine = await admin.get_tenant(OWN)  # a tenant admin reads its own record
        assert (mine.id, mine.status) == (OWN, "active")
        with pytest.raises(NotFound):
            await admin.get_tenant(tenant)  # another tenant: 404
    env["REELSTREAM_API_KEY"] = matrix.keys["admin"]
    await run("tenants", "list", expect=AUTH)  # the platform plane is the operator's


async def test_a_key_rotates_with_an_overlap_window(
    matrix: Matrix, capsys: pytest.CaptureFixture[str]
) -> None:
    admin = matrix.client(matrix.keys["admin"])
    old = await json_of(await admin.post("/v1/admin/keys", json={"tenant": OWN, "roles": ["viewer"]}), 201)
    rotated = await json_of(await admin.post(f"/v1/admin/keys/{old['id']}/rotate", json={}), 201)
    assert (rotated["tenant"], rotated["roles"], rotated["replaces"]["id"]) == (OWN, ["viewer"], old["id"])
    assert rotated["replaces"]["expires_at"] is not None  # a day from now: both keys work meanwhile
    for key in (old["key"], rotated["key"]):
        assert (await matrix.client(key).get("/v1/jobs")).status_code == 200
    closed = await json_of(
        await admin.post(f"/v1/admin/keys/{rotated['id']}/rotate", json={"overlap_seconds": 0}), 201
    )
    refused = await matrix.client(rotated["key"]).get("/v1/jobs")  # no overlap: the old key ends now
    assert (refused.status_code, refused.json()["detail"].split(";")[0]) == (401, "API key expired")
    assert (await matrix.client(closed["key"]).get("/v1/jobs")).status_code == 200
    again = await admin.post(f"/v1/admin/keys/{rotated['id']}/rotate")
    assert again.status_code == 409  # an ended key is not rotated: create a new one
    theirs = await json_of(
        await matrix.client(matrix.keys["operator"]).post("/v1/admin/keys", json={"tenant": OTHER}), 201
    )
    assert (await admin.post(f"/v1/admin/keys/{theirs['id']}/rotate")).status_code == 404
    bad = await admin.post(f"/v1/admin/keys/{closed['id']}/rotate", json={"overlap_seconds": -1})
    assert [e["field"] for e in (await json_of(bad, 422))["errors"]] == ["overlap_seconds"]
    env = {"REELSTREAM_API_URL": matrix.base_url, "REELSTREAM_API_KEY": matrix.keys["admin"]}
    argv = ("keys", "rotate", closed["id"], "--overlap", "1h")
    assert await asyncio.to_thread(cli_main, argv, env) == 0
    successor = capsys.readouterr().out.strip()
    assert successor.startswith("rs_live_")
    assert (await matrix.client(successor).get("/v1/jobs")).status_code == 200
