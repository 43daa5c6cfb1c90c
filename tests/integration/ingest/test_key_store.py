"""The API key store on the real broker and registry: keys created, used, listed and revoked through the admin
routes and the CLI, on two ingest replicas that materialize the same compacted topic, plus a third started
afterwards that rebuilds the store from the topic alone. Bearer JWTs through the same app."""

from __future__ import annotations

import asyncio
import re
import secrets
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaConsumer
from reelstream_client.cli.main import main as cli_main

from devstack.manager import ensure_bucket
from devstack.tenants import ensure_tenants
from ingest.api_keys import mint
from ingest.app import create_app
from reelstream.crypto.provider import StaticKeyProvider, new_key
from reelstream.crypto.records import signed
from reelstream.endpoints import Endpoints
from reelstream.settings import IngestSettings, OidcSettings, PipelineSettings
from schemas.topics import API_KEYS
from tests.integration.ingest.jwks import AUDIENCE, ISSUER, Jwks
from tests.integration.ingest.support import (
    LONG_RETENTION,
    Served,
    TopicProbe,
    eventually,
    readyz,
    serve,
    shutdown,
)
from tests.kafka_clients import registered_serde, started_producer
from tests.keys import shared_key_dir

RUN = uuid.uuid4().hex[:8]
ADMIN_KEY = f"rs_test_{secrets.token_urlsafe(24)}"
SUBMITTER_KEY = f"rs_test_{secrets.token_urlsafe(24)}"
DEADLINE_S = 30.0
TENANT_NAMES = ("ops", "plain", "acme", "v", "o", "e", "cli", "jwt", "gone")  # recorded in the registry


@dataclass
class Replicas:
    settings: IngestSettings
    urls: list[str]
    jwks: Jwks
    clients: list[httpx.AsyncClient]

    def client(self, replica: int, key: str | None = ADMIN_KEY) -> httpx.AsyncClient:
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        client = httpx.AsyncClient(base_url=self.urls[replica], headers=headers, timeout=15.0)
        self.clients.append(client)
        return client


async def start(settings: IngestSettings) -> Served:
    served = await serve(create_app(settings))
    probe = httpx.AsyncClient(base_url=served.base_url, timeout=15.0)
    async with probe:
        # readyz answers once the lifespan has opened everything, which may outlast one request's timeout
        await eventually(lambda: readyz(probe), lambda status: status == 200, within=120)
    return served


@pytest.fixture(scope="module")
async def replicas(stack: Endpoints, topics: None) -> AsyncIterator[Replicas]:
    ensure_bucket(stack)
    await ensure_tenants(stack, [f"{name}-{RUN}" for name in TENANT_NAMES])
    jwks = Jwks()
    jwks.add("rsa-1", "RS256")
    idp = await serve(jwks.app())
    settings = IngestSettings(
        key_dir=shared_key_dir(),
        pipeline=PipelineSettings(endpoints=stack, default_model="tiny-mochi"),
        api_keys={ADMIN_KEY: f"ops-{RUN}", SUBMITTER_KEY: f"plain-{RUN}"},
        api_key_roles={ADMIN_KEY: frozenset({"operator"})},
        oidc=OidcSettings(issuer=ISSUER, audience=AUDIENCE, jwks_url=f"{idp.base_url}/jwks.json"),
        **LONG_RETENTION,
    )
    servers = [await start(settings), await start(settings)]
    running = Replicas(settings, [s.base_url for s in servers], jwks, [])
    try:
        yield running
    finally:
        for client in running.clients:
            await client.aclose()
        for served in servers:
            await shutdown(served)
        await shutdown(idp)


async def create_key(client: httpx.AsyncClient, **body: Any) -> dict[str, Any]:
    response = await client.post("/v1/admin/keys", json=body)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


def refused(reason: str) -> Any:
    def check(response: httpx.Response) -> bool:
        return (
            response.status_code == 401
            and response.headers["content-type"] == "application/problem+json"
            and reason in response.json()["detail"]
        )

    return check


async def test_a_key_works_on_every_replica_until_revoked_then_none_accepts_it(replicas: Replicas) -> None:
    admin = replicas.client(0)
    tenant = f"acme-{RUN}"
    created = await create_key(admin, tenant=tenant, roles=["submitter"], name="ci")
    key = created["key"]
    assert key.startswith(f"rs_live_{created['id']}_")
    assert created["status"] == "active"
    on_a, on_b = replicas.client(0, key), replicas.client(1, key)
    assert (await on_a.get("/v1/jobs")).status_code == 200  # at once on the replica that created it
    await eventually(lambda: on_b.get("/v1/jobs"), lambda r: r.status_code == 200, within=DEADLINE_S)

    listed = (await replicas.client(1).get("/v1/admin/keys", params={"tenant": tenant})).json()["data"]
    assert [k["id"] for k in listed] == [created["id"]]
    assert "key" not in listed[0]
    assert key.rsplit("_", 1)[1] not in str(listed)

    revoked = await admin.delete(f"/v1/admin/keys/{created['id']}")
    assert (revoked.status_code, revoked.json()["status"]) == (200, "revoked")
    assert refused("revoked")(await on_a.get("/v1/jobs"))  # the same replica: at once
    started = time.monotonic()
    await eventually(lambda: on_b.get("/v1/jobs"), refused("revoked"), within=DEADLINE_S)
    print(f"revocation seen by the other replica within {time.monotonic() - started:.2f}s")
    again = await admin.delete(f"/v1/admin/keys/{created['id']}")
    assert (again.status_code, again.json()["status"]) == (200, "revoked")  # idempotent

    # a replica started now rebuilds the store from the topic alone: revoked stays revoked, others work
    other = await create_key(admin, tenant=tenant, roles=["viewer"])
    served = await start(replicas.settings)
    try:
        async with httpx.AsyncClient(base_url=served.base_url, timeout=15.0) as fresh:
            assert refused("revoked")(await fresh.get("/v1/jobs", headers={"Authorization": f"Bearer {key}"}))
            auth = {"Authorization": f"Bearer {other['key']}"}
            assert (await fresh.get("/v1/jobs", headers=auth)).status_code == 200
    finally:
        await shutdown(served)


async def test_forged_key_records_are_ignored_by_every_replica(replicas: Replicas, stack: Endpoints) -> None:
    """Records written to the key store by anyone without the key-encryption key: one without a MAC, one
    MACed with another key, one whose MAC is valid for another record (its roles raised). None grants."""
    tenant = f"forged-{RUN}"
    await ensure_tenants(stack, [tenant])  # keys are minted only for tenants the registry holds
    unsigned_key, unsigned = mint(tenant, ["admin"])
    other_kek = StaticKeyProvider({"test-kek-1": new_key()}, "test-kek-1")  # same id, other key
    wrong_key, wrong = mint(tenant, ["admin"])
    wrong = signed(wrong, other_kek)
    consumer = AIOKafkaConsumer(
        bootstrap_servers=stack.kafka_bootstrap, group_id=None, **stack.kafka_security.aiokafka()
    )
    await consumer.start()
    try:
        probe = TopicProbe(consumer, API_KEYS)
        before = await probe.end_offsets()
        real = await create_key(replicas.client(0), tenant=tenant, roles=["viewer"])
        on_topic = await eventually(
            lambda: probe.records_since(before, key=real["id"].encode()),
            lambda found: bool(found),
            within=DEADLINE_S,
        )
    finally:
        await consumer.stop()
    escalated = replace(await _decoded(stack, on_topic[-1].value), roles=("admin",))  # the MAC kept
    async with registered_serde(stack) as serde, started_producer(stack, "forger") as producer:
        for record in (unsigned, wrong, escalated):
            await producer.send_and_wait(
                API_KEYS.name, serde.serialize(API_KEYS, record), key=record.key_id.encode()
            )
    # a real key created after the forgeries works on both replicas: they have read past the forgeries
    barrier = await create_key(replicas.client(0), tenant=tenant, roles=["viewer"])
    for replica in (0, 1):
        reader = replicas.client(replica, barrier["key"])
        await eventually(
            lambda r=reader: r.get("/v1/jobs"), lambda r: r.status_code == 200, within=DEADLINE_S
        )
        for forged_key in (unsigned_key, wrong_key):
            assert refused("unknown API key")(await replicas.client(replica, forged_key).get("/v1/jobs"))
        as_real = replicas.client(replica, real["key"])
        assert (await as_real.get("/v1/jobs")).status_code == 200  # still the viewer it was made
        assert (await as_real.get("/v1/admin/keys")).status_code == 403


async def _decoded(stack: Endpoints, raw: bytes | None) -> Any:
    assert raw is not None
    async with registered_serde(stack) as serde:
        return await serde.deserialize(API_KEYS, raw)


async def test_a_keys_roles_decide_its_scopes(replicas: Replicas) -> None:
    admin = replicas.client(0)
    viewer = replicas.client(0, (await create_key(admin, tenant=f"v-{RUN}", roles=["viewer"]))["key"])
    assert (await viewer.get("/v1/jobs")).status_code == 200
    assert (await viewer.post("/v1/jobs", json={"prompt": "a fox"})).status_code == 403
    assert (await viewer.get("/v1/admin/keys")).status_code == 403
    operator = replicas.client(0, (await create_key(admin, tenant=f"o-{RUN}", roles=["admin"]))["key"])
    assert (await operator.get("/v1/admin/keys")).status_code == 200


async def test_an_expired_key_is_refused(replicas: Replicas) -> None:
    expires = datetime.now(UTC) + timedelta(seconds=2)
    created = await create_key(replicas.client(0), tenant=f"e-{RUN}", expires_at=expires.isoformat())
    client = replicas.client(0, created["key"])
    assert (await client.get("/v1/jobs")).status_code == 200
    await eventually(lambda: client.get("/v1/jobs"), refused("expired"), within=DEADLINE_S, interval=0.2)


async def test_key_routes_need_the_admin_scope_and_valid_requests(replicas: Replicas) -> None:
    submitter = replicas.client(0, SUBMITTER_KEY)
    for method, path in (
        ("GET", "/v1/admin/keys"),
        ("POST", "/v1/admin/keys"),
        ("DELETE", "/v1/admin/keys/x"),
    ):
        response = await submitter.request(method, path, json={"tenant": "t"} if method == "POST" else None)
        assert response.status_code == 403, (method, path)
    admin = replicas.client(0)
    bad = await admin.post("/v1/admin/keys", json={"tenant": "no spaces", "roles": ["root"]})
    assert bad.status_code == 422
    assert {e["field"] for e in bad.json()["errors"]} == {"tenant", "roles"}
    for key_id in ("0123456789abcdef", "not-a-key-id"):
        missing = await admin.delete(f"/v1/admin/keys/{key_id}")
        assert (missing.status_code, missing.headers["content-type"]) == (404, "application/problem+json")
    made_up = replicas.client(0, "rs_live_0123456789abcdef_" + "A" * 43)
    assert refused("unknown API key")(await made_up.get("/v1/jobs"))


async def test_the_cli_creates_lists_and_revokes_keys(
    replicas: Replicas, capsys: pytest.CaptureFixture[str]
) -> None:
    env = {"REELSTREAM_API_URL": replicas.urls[0], "REELSTREAM_API_KEY": ADMIN_KEY}
    tenant = f"cli-{RUN}"

    async def run(*argv: str) -> str:
        assert await asyncio.to_thread(cli_main, argv, env) == 0  # sync HTTP: off the server's loop
        return capsys.readouterr().out

    key = (await run("keys", "create", "--tenant", tenant, "--role", "viewer", "--expires-in", "1d")).strip()
    assert key.startswith("rs_live_")
    key_id = key.split("_")[2]
    listing = await run("keys", "list", "--tenant", tenant)
    assert f"{key_id}\t{tenant}\tviewer\tactive" in listing
    assert key.rsplit("_", 1)[1] not in listing
    assert (await replicas.client(0, key).get("/v1/jobs")).status_code == 200
    (line,) = [
        row for row in (await run("keys", "list", "--tenant", tenant)).splitlines() if row.startswith(key_id)
    ]
    last_used = line.split("\t")[6]  # this replica accepted it just now: to the minute
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:00Z", last_used), line
    assert "revoked" in await run("keys", "revoke", key_id)
    assert refused("revoked")(await replicas.client(0, key).get("/v1/jobs"))


async def test_bearer_jwts_from_the_provider_map_to_tenant_and_scopes(replicas: Replicas) -> None:
    jwks, tenant = replicas.jwks, f"jwt-{RUN}"
    submitter = replicas.client(1, jwks.token("rsa-1", tenant=tenant, roles=["submitter"]))
    assert (await submitter.get("/v1/jobs")).status_code == 200
    assert (await submitter.get("/v1/admin/keys")).status_code == 403
    viewer = replicas.client(1, jwks.token("rsa-1", tenant=tenant, roles="viewer"))
    assert (await viewer.post("/v1/jobs", json={"prompt": "a fox"})).status_code == 403
    admin = replicas.client(1, jwks.token("rsa-1", tenant=tenant, roles=["admin"]))
    assert (await admin.get("/v1/admin/keys")).status_code == 200
    now = int(time.time())
    skewed = jwks.token("rsa-1", tenant=tenant, roles="viewer", iat=now + 10, nbf=now + 10, exp=now + 600)
    assert (await replicas.client(1, skewed).get("/v1/jobs")).status_code == 200  # within the skew
    for token, reason in (
        (jwks.token("rsa-1", tenant=tenant, exp=now - 120, iat=now - 400, nbf=now - 400), "expired"),
        (jwks.token("rsa-1", tenant=tenant, aud="other"), "another audience"),
        (jwks.hs256_with_public_key("rsa-1"), "algorithm not allowed"),
        (jwks.token("rsa-1", tenant=None), "no tenant claim"),
        (jwks.token("rsa-1", tenant=f"nobody-{RUN}"), "names no tenant"),  # not in the registry
        (jwks.token("rsa-1", tenant="no spaces allowed"), "not a tenant id"),
        (jwks.token("rsa-1", tenant=tenant, exp=None), "invalid token"),  # exp is required
        (jwks.token("rsa-1", tenant=tenant, iat=now, exp=now + 3700), "lives longer"),  # max 1 h
        (jwks.token("rsa-1", tenant=tenant, iat=None, exp=now + 3700), "lives longer"),
        (jwks.token("rsa-1", tenant=tenant, nbf=now + 120), "not valid yet"),  # beyond the 30 s skew
    ):
        response = await replicas.client(1, token).get("/v1/jobs")
        assert refused(reason)(response), response.text
        assert response.headers["www-authenticate"].startswith("Bearer")
        assert token not in response.text


async def test_a_revoked_key_gives_way_to_a_tombstone_after_the_grace_period(
    replicas: Replicas, stack: Endpoints
) -> None:
    # last in this module: with no grace, this replica tombstones every revoked key of the topic, the
    # earlier tests' too (their replicas then forget them as well)
    settings = replace(replicas.settings, key_grace_seconds=0.0, key_sweep_interval_seconds=0.2)
    consumer = AIOKafkaConsumer(
        bootstrap_servers=stack.kafka_bootstrap,
        **stack.kafka_security.aiokafka(),
        group_id=None,
        enable_auto_commit=False,
    )
    await consumer.start()
    served = await start(settings)
    try:
        probe = TopicProbe(consumer, API_KEYS)
        before = await probe.end_offsets()
        async with httpx.AsyncClient(
            base_url=served.base_url, headers={"Authorization": f"Bearer {ADMIN_KEY}"}, timeout=15.0
        ) as admin:
            created = await create_key(admin, tenant=f"gone-{RUN}")
            key_id = created["id"]
            assert (await admin.delete(f"/v1/admin/keys/{key_id}")).status_code == 200
            records = await eventually(
                lambda: probe.records_since(before, key=key_id.encode()),
                lambda found: any(r.value is None for r in found),
                within=DEADLINE_S,
            )
            assert [r.value is None for r in records] == [False, False, True]  # created, revoked, tombstone
            listed = (await admin.get("/v1/admin/keys", params={"tenant": f"gone-{RUN}"})).json()["data"]
            assert listed == []
            gone = await admin.get("/v1/jobs", headers={"Authorization": f"Bearer {created['key']}"})
            assert refused("unknown API key")(gone)
    finally:
        await shutdown(served)
        await consumer.stop()
