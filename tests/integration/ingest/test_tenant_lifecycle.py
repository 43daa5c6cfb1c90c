"""The operator suspends, resumes and deletes tenants, against the real ingest (real Kafka, registry,
MinIO): a suspended tenant's keys and tokens answer 403 `tenant-suspended`, a resumed one's work again, a
deleted one's keys are revoked, its webhook secrets gone, its record answers 404 and its id is not given
again, and its data keys are shredded (a job it submitted no longer opens, even with the key-encryption keys).
Through the SDK and the CLI, as an operator would."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from reelstream_client import AsyncClient
from reelstream_client.cli.main import main as cli_main
from reelstream_client.errors import NotFound

from reelstream.crypto.provider import KeyUnavailableError
from reelstream.endpoints import Endpoints
from schemas.events import SubmitJob
from schemas.serde import AvroSerde
from schemas.topics import COMMANDS
from tests.integration.ingest.test_roles import OWN, RUN, Matrix, json_of, matrix
from tests.job_keys import every_value, job_key_reader
from tests.keys import shared_key_dir

__all__ = ["matrix"]  # the role matrix's ingest (module-scoped fixture), started again for this module


async def _status(client: httpx.AsyncClient) -> httpx.Response:
    return await client.get("/v1/jobs")


async def test_suspend_resume_and_delete_a_tenant(
    matrix: Matrix, stack: Endpoints, serde: AvroSerde, capsys: pytest.CaptureFixture[str]
) -> None:
    tenant = f"life-{RUN}"
    operator = matrix.client(matrix.keys["operator"])
    async with AsyncClient(matrix.base_url, api_key=matrix.keys["operator"]) as sdk:
        await sdk.create_tenant(tenant, name="Lifecycle")
        created = await json_of(
            await operator.post("/v1/admin/keys", json={"tenant": tenant, "roles": ["admin"]}), 201
        )
        await json_of(await operator.post(f"/v1/admin/tenants/{tenant}/webhook-secrets", json={}), 201)
        key = matrix.client(created["key"])
        token = matrix.client(matrix.jwks.token("rsa-1", tenant=tenant, roles=["viewer"]))
        assert (await _status(key)).status_code == 200
        assert (await _status(token)).status_code == 200
        submitted = await json_of(await key.post("/v1/jobs", json={"prompt": f"a lynx {RUN}"}), 202)

        suspended = await sdk.suspend_tenant(tenant, reason="unpaid invoice")
        assert suspended.status == "suspended"
        for refused in (await _status(key), await _status(token)):
            assert refused.status_code == 403
            assert refused.headers["content-type"] == "application/problem+json"
            assert refused.json()["type"].endswith("/tenant-suspended"), refused.text
        assert (await _status(operator)).status_code == 200  # other tenants are untouched

    env = {"REELSTREAM_API_URL": matrix.base_url, "REELSTREAM_API_KEY": matrix.keys["operator"]}

    async def run(*argv: str) -> str:
        assert await asyncio.to_thread(cli_main, argv, env) == 0  # sync HTTP: off the server's loop
        return capsys.readouterr().out

    assert (await run("tenants", "resume", tenant)).startswith(f"{tenant}\tactive\tLifecycle")
    assert (await _status(key)).status_code == 200

    unconfirmed = await operator.delete(f"/v1/admin/tenants/{tenant}")
    assert [e["field"] for e in (await json_of(unconfirmed, 422))["errors"]] == ["confirm"]
    assert (await run("tenants", "delete", tenant, "--yes")) == f"{tenant}\tdeleted\n"
    assert (await _status(key)).status_code == 401  # its keys are revoked
    assert (await _status(token)).status_code == 401  # its tokens name no tenant
    keys = await json_of(await operator.get("/v1/admin/keys", params={"tenant": tenant}), 200)
    assert [k["status"] for k in keys["data"]] == ["revoked"]
    async with AsyncClient(matrix.base_url, api_key=matrix.keys["operator"]) as sdk:
        with pytest.raises(NotFound):
            await sdk.get_tenant(tenant)
        with pytest.raises(NotFound):
            await sdk.list_webhook_secrets(tenant)
        with pytest.raises(NotFound):
            await sdk.suspend_tenant(tenant)
    again = await operator.post("/v1/admin/tenants", json={"id": tenant})
    assert again.status_code == 409  # a deleted tenant's id is not given again
    # shredded: the job it submitted, sealed on the commands topic, opens for nobody any more
    sealed = [
        c
        for c in await every_value(stack, serde, COMMANDS)
        if isinstance(c, SubmitJob) and c.tenant_id == tenant
    ]
    assert [c.job_id for c in sealed] == [submitted["id"]]
    assert f"a lynx {RUN}" not in sealed[0].prompt
    async with job_key_reader(stack, serde, shared_key_dir()) as reader:
        with pytest.raises(KeyUnavailableError):
            reader.job_keys.open(sealed[0])


async def test_only_the_operator_suspends_or_deletes(matrix: Matrix) -> None:
    admin = matrix.client(matrix.keys["admin"])  # OWN's own admin
    assert (await admin.post(f"/v1/admin/tenants/{OWN}/suspend")).status_code == 403
    assert (await admin.delete(f"/v1/admin/tenants/{OWN}", params={"confirm": OWN})).status_code == 403
    assert (await _status(admin)).status_code == 200  # nothing changed


async def test_the_operator_sets_retention_overrides_through_the_sdk_and_the_cli(
    matrix: Matrix, capsys: pytest.CaptureFixture[str]
) -> None:
    tenant = f"keep-{RUN}"
    async with AsyncClient(matrix.base_url, api_key=matrix.keys["operator"]) as sdk:
        created = await sdk.create_tenant(tenant, retention_days=90)
        assert (created.retention_days, created.video_retention_days) == (90, None)
        updated = await sdk.update_tenant(tenant, retention_days=3, video_retention_days=1)
        assert (updated.retention_days, updated.video_retention_days) == (3, 1)
    env = {"REELSTREAM_API_URL": matrix.base_url, "REELSTREAM_API_KEY": matrix.keys["operator"]}

    def run(*argv: str) -> str:
        assert cli_main(argv, env) == 0
        return capsys.readouterr().out

    # an option left out keeps its value; `default` goes back to the platform's setting
    line = await asyncio.to_thread(run, "tenants", "update", tenant, "--retention-days", "default")
    assert line.rstrip("\n").endswith("\tjobs default videos 1d")
    line = await asyncio.to_thread(run, "tenants", "update", tenant, "--video-retention-days", "5")
    assert line.rstrip("\n").endswith("\tjobs default videos 5d")
    admin = matrix.client(matrix.keys["admin"])  # OWN's admin reads its own overrides, may not set them
    own = await json_of(await admin.get(f"/v1/admin/tenants/{OWN}"), 200)
    assert {"retention_days", "video_retention_days"} <= set(own)
    refused = await admin.put(f"/v1/admin/tenants/{OWN}/retention", json={"retention_days": 1})
    assert (refused.status_code, refused.headers["content-type"]) == (403, "application/problem+json")
