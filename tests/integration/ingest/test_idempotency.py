"""Idempotency-Key on POST /v1/jobs and PUT /v1/jobs/{id}, over real HTTP against the real broker: a repeat
never creates a second job, on this replica or another one."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import httpx
import pytest

from ingest.app import create_app
from ingest.context import tombstone_sender
from ingest.idempotency import record_key, request_sha256
from ingest.idempotency_view import IdempotencyView
from ingest.sweepers import sweep_idempotency
from reelstream.endpoints import Endpoints
from reelstream.kafka.clients import Publisher, new_producer, sender_of
from reelstream.local_store import LocalStore
from schemas.events import IdempotencyRecord, JobState, SubmitJob, new_id, utc_now
from schemas.serde import AvroSerde
from schemas.topics import COMMANDS, IDEMPOTENCY
from tests.integration.ingest.support import (
    RunningApi,
    StatusWriter,
    TopicProbe,
    eventually,
    serve,
    shutdown,
    snapshot,
)

BODY: dict[str, Any] = {"prompt": "a heron at dawn", "model": "tiny-mochi", "metadata": {"n": "1"}}


def key() -> str:
    return f"key-{uuid.uuid4()}"


async def submits_of(probe: TopicProbe, serde: AvroSerde, before: Any, tenant: str, job_id: str) -> int:
    """How many SubmitJob commands of `job_id` were written since `before`."""
    records = await probe.records_since(before, key=tenant.encode())
    commands = [await serde.deserialize(COMMANDS, bytes(r.value)) for r in records]
    return sum(1 for c in commands if isinstance(c, SubmitJob) and c.job_id == job_id)


@pytest.fixture
async def record_writer(stack: Endpoints, serde: AvroSerde) -> AsyncIterator[Publisher]:
    """Writes idempotency records the way another ingest replica does."""
    producer = new_producer(
        stack.kafka_bootstrap, client_id="test-ingest-other-replica", security=stack.kafka_security
    )
    await producer.start()
    try:
        yield Publisher(sender_of(producer), serde)
    finally:
        await producer.stop()


async def seen_by_api(client: httpx.AsyncClient, idem_key: str) -> None:
    """Wait until the API's view holds a record of `idem_key`, without creating anything: an invalid body
    is a 422 `invalid-request` while the key is unknown and `idempotency-key-reused` once it is known."""
    await eventually(
        lambda: client.post("/v1/jobs", json={"prompt": ""}, headers={"Idempotency-Key": idem_key}),
        lambda r: r.status_code == 422 and r.json()["type"].endswith("/idempotency-key-reused"),
    )


async def test_the_same_key_and_body_answer_the_original_job_and_submit_it_once(
    ready_api: RunningApi, commands_probe: TopicProbe, serde: AvroSerde
) -> None:
    client, tenant, idem = ready_api.client("alice"), ready_api.tenants["alice"], key()
    before = await commands_probe.end_offsets()
    first = await client.post("/v1/jobs", json=BODY, headers={"Idempotency-Key": idem})
    again = await client.post(
        "/v1/jobs", json=dict(reversed(BODY.items())), headers={"Idempotency-Key": idem}
    )

    assert (first.status_code, again.status_code) == (202, 202)
    assert "idempotent-replayed" not in first.headers
    assert again.headers["idempotent-replayed"] == "true"
    job_id = first.json()["id"]
    assert again.json()["id"] == job_id
    assert again.json()["parameters"] == first.json()["parameters"]  # the drawn seed too
    assert again.headers["location"] == f"/v1/jobs/{job_id}"
    assert await submits_of(commands_probe, serde, before, tenant, job_id) == 1


async def test_the_same_key_with_another_body_is_a_422_and_submits_nothing(
    ready_api: RunningApi, commands_probe: TopicProbe
) -> None:
    client, tenant, idem = ready_api.client("alice"), ready_api.tenants["alice"], key()
    assert (await client.post("/v1/jobs", json=BODY, headers={"Idempotency-Key": idem})).status_code == 202
    before = await commands_probe.end_offsets()
    other = await client.post("/v1/jobs", json={**BODY, "seed": 7}, headers={"Idempotency-Key": idem})
    assert other.status_code == 422
    assert other.headers["content-type"] == "application/problem+json"
    assert other.json()["type"].endswith("/idempotency-key-reused")
    assert await commands_probe.records_since(before, key=tenant.encode()) == []


@pytest.mark.parametrize("raw", ["", "has space", "x" * 256])
async def test_an_invalid_key_is_a_400_naming_the_header(ready_api: RunningApi, raw: str) -> None:
    response = await ready_api.client("dave").post("/v1/jobs", json=BODY, headers={"Idempotency-Key": raw})
    assert response.status_code == 400
    assert [e["field"] for e in response.json()["errors"]] == ["Idempotency-Key"]


async def test_keys_are_scoped_to_the_tenant(ready_api: RunningApi) -> None:
    idem = key()
    alice = await ready_api.client("alice").post("/v1/jobs", json=BODY, headers={"Idempotency-Key": idem})
    bob = await ready_api.client("bob").post("/v1/jobs", json=BODY, headers={"Idempotency-Key": idem})
    assert (alice.status_code, bob.status_code) == (202, 202)
    assert "idempotent-replayed" not in bob.headers
    assert bob.json()["id"] != alice.json()["id"]


async def test_concurrent_repeats_create_one_job(
    ready_api: RunningApi, commands_probe: TopicProbe, serde: AvroSerde
) -> None:
    """Racing requests: each is either the one that accepts, a 409 (still being accepted) or a replay."""
    client, tenant, idem = ready_api.client("alice"), ready_api.tenants["alice"], key()
    before = await commands_probe.end_offsets()
    responses = await asyncio.gather(
        *(client.post("/v1/jobs", json=BODY, headers={"Idempotency-Key": idem}) for _ in range(5))
    )
    codes = sorted(r.status_code for r in responses)
    assert set(codes) <= {202, 409}, codes
    assert 202 in codes, codes
    for conflict in (r for r in responses if r.status_code == 409):
        assert conflict.json()["type"].endswith("/idempotency-in-progress")
        assert int(conflict.headers["retry-after"]) > 0
    ids = {r.json()["id"] for r in responses if r.status_code == 202}
    assert len(ids) == 1
    assert await submits_of(commands_probe, serde, before, tenant, ids.pop()) == 1


async def test_a_repeat_while_another_replica_is_accepting_is_a_409_and_a_stale_one_is_taken_over(
    ready_api: RunningApi, commands_probe: TopicProbe, serde: AvroSerde, record_writer: Publisher
) -> None:
    """A pending record (another replica between its two writes) → 409; once it is older than the produce
    timeout that replica is presumed dead and the repeat produces the SAME job id (admission dedupes)."""
    client, tenant = ready_api.client("alice"), ready_api.tenants["alice"]
    now, sha = utc_now(), request_sha256(BODY)
    fresh = IdempotencyRecord(
        tenant, key(), sha, new_id(), completed=False, expires_at=now + timedelta(hours=1)
    )
    stale = IdempotencyRecord(
        tenant, key(), sha, new_id(), False, now + timedelta(hours=1), occurred_at=now - timedelta(minutes=5)
    )
    for pending in (fresh, stale):
        await record_writer.publish(IDEMPOTENCY, record_key(tenant, pending.idempotency_key), pending)
        await seen_by_api(client, pending.idempotency_key)

    busy = await client.post("/v1/jobs", json=BODY, headers={"Idempotency-Key": fresh.idempotency_key})
    assert busy.status_code == 409
    assert busy.json()["type"].endswith("/idempotency-in-progress")

    before = await commands_probe.end_offsets()
    taken = await client.post("/v1/jobs", json=BODY, headers={"Idempotency-Key": stale.idempotency_key})
    assert taken.status_code == 202
    assert taken.json()["id"] == stale.job_id
    assert await submits_of(commands_probe, serde, before, tenant, stale.job_id) == 1
    again = await client.post("/v1/jobs", json=BODY, headers={"Idempotency-Key": stale.idempotency_key})
    assert (again.status_code, again.json()["id"]) == (202, stale.job_id)
    assert again.headers["idempotent-replayed"] == "true"


async def test_another_replica_answers_the_repeat_with_the_original_job(
    ready_api: RunningApi, commands_probe: TopicProbe, serde: AvroSerde, scheduler: StatusWriter
) -> None:
    tenant, idem = ready_api.tenants["frank"], key()
    before = await commands_probe.end_offsets()
    first = await ready_api.client("frank").post("/v1/jobs", json=BODY, headers={"Idempotency-Key": idem})
    assert first.status_code == 202
    job_id = first.json()["id"]
    await scheduler.publish(snapshot(job_id, tenant, JobState.QUEUED, 1))  # what admission writes

    served = await serve(create_app(ready_api.settings))  # a second replica sharing the broker
    try:
        async with httpx.AsyncClient(
            base_url=served.base_url,
            timeout=30.0,
            headers={"Authorization": f"Bearer {ready_api.keys['frank']}"},
        ) as other:
            await eventually(lambda: other.get("/readyz"), lambda r: r.status_code == 200, within=60)
            again = await other.post("/v1/jobs", json=BODY, headers={"Idempotency-Key": idem})
            other_body = await other.post(
                "/v1/jobs", json={**BODY, "seed": 1}, headers={"Idempotency-Key": idem}
            )
    finally:
        await shutdown(served)
    assert again.status_code == 202
    assert again.headers["idempotent-replayed"] == "true"
    assert again.json()["id"] == job_id
    assert other_body.status_code == 422
    assert await submits_of(commands_probe, serde, before, tenant, job_id) == 1


async def test_put_creates_once_replays_the_same_body_and_refuses_another(
    ready_api: RunningApi, commands_probe: TopicProbe, serde: AvroSerde
) -> None:
    client, tenant, job_id = ready_api.client("alice"), ready_api.tenants["alice"], f"my-job_{new_id()[:12]}"
    before = await commands_probe.end_offsets()
    created = await client.put(f"/v1/jobs/{job_id}", json=BODY)
    repeated = await client.put(f"/v1/jobs/{job_id}", json=BODY)
    changed = await client.put(f"/v1/jobs/{job_id}", json={**BODY, "prompt": "a crane"})

    assert created.status_code == 201
    assert created.headers["location"] == f"/v1/jobs/{job_id}"
    assert created.json()["id"] == job_id
    assert (repeated.status_code, repeated.json()["id"]) == (200, job_id)
    assert repeated.headers["idempotent-replayed"] == "true"
    assert changed.status_code == 409
    assert changed.json()["type"].endswith("/job-id-unavailable")
    assert (await client.get(f"/v1/jobs/{job_id}")).json()["prompt"] == BODY["prompt"]
    assert await submits_of(commands_probe, serde, before, tenant, job_id) == 1


async def test_put_of_another_tenants_id_is_a_409_that_reveals_nothing(
    ready_api: RunningApi, commands_probe: TopicProbe
) -> None:
    job_id = f"shared-{new_id()[:16]}"
    assert (await ready_api.client("alice").put(f"/v1/jobs/{job_id}", json=BODY)).status_code == 201
    before = await commands_probe.end_offsets()
    bob = ready_api.client("bob")
    taken = await bob.put(f"/v1/jobs/{job_id}", json=BODY)
    assert taken.status_code == 409
    assert taken.json()["type"].endswith("/job-id-unavailable")
    assert BODY["prompt"] not in taken.text
    assert ready_api.tenants["alice"] not in taken.text
    assert (await bob.get(f"/v1/jobs/{job_id}")).status_code == 404
    assert await commands_probe.records_since(before, key=ready_api.tenants["bob"].encode()) == []


@pytest.mark.parametrize("job_id", ["short", "x" * 65, "has.dot12", "sp%20ace12"])
async def test_put_refuses_an_unsafe_id(ready_api: RunningApi, job_id: str) -> None:
    response = await ready_api.client("dave").put(f"/v1/jobs/{job_id}", json=BODY)
    assert response.status_code == 422
    assert [e["field"] for e in response.json()["errors"]] == ["job_id"]


async def test_expired_keys_are_tombstoned_and_a_fresh_replica_no_longer_holds_them(
    stack: Endpoints, serde: AvroSerde, record_writer: Publisher
) -> None:
    tenant, now = f"sweep-{uuid.uuid4().hex[:8]}", utc_now()
    expired = IdempotencyRecord(tenant, key(), "0" * 64, new_id(), True, now - timedelta(seconds=1))
    live = IdempotencyRecord(tenant, key(), "0" * 64, new_id(), True, now + timedelta(hours=1))
    gone_key, live_key = (record_key(tenant, r.idempotency_key) for r in (expired, live))
    for record in (expired, live):
        await record_writer.publish(IDEMPOTENCY, record_key(tenant, record.idempotency_key), record)
    producer = new_producer(
        stack.kafka_bootstrap, client_id="test-idempotency-sweeper", security=stack.kafka_security
    )
    await producer.start()
    store = LocalStore(None).open()
    view = IdempotencyView(
        stack.kafka_bootstrap,
        serde,
        store.namespace(b"idempotency"),
        client_id="test-sweeping-replica",
        security=stack.kafka_security,
    )
    await view.start()
    try:
        await view.wait_caught_up()
        assert gone_key in view.expired(utc_now())

        swept = await sweep_idempotency(view, tombstone_sender(producer, IDEMPOTENCY))

        assert gone_key in swept
        assert live_key not in swept
    finally:
        await view.stop()
        await producer.stop()
    fresh = IdempotencyView(
        stack.kafka_bootstrap,
        serde,
        store.namespace(b"fresh"),
        client_id="test-fresh-replica",
        security=stack.kafka_security,
    )
    await fresh.start()
    try:
        await fresh.wait_caught_up()  # it read the record and then its tombstone
        assert gone_key not in fresh.expired(utc_now())
        assert fresh.get(tenant, live.idempotency_key, utc_now()) == live
    finally:
        await fresh.stop()
        store.close()


async def test_two_replicas_racing_on_the_first_write_of_a_key_create_one_job(
    ready_api: RunningApi, commands_probe: TopicProbe, serde: AvroSerde, scheduler: StatusWriter
) -> None:
    """The same key and body sent at once to two replicas that have never seen the key: the first record
    of the key on its partition owns it. Exactly one job is submitted; the other answer is that job (a
    replay, once the job's first snapshot is out, as admission writes it) or a 409 (still being
    accepted), never a second job."""
    tenant, token = ready_api.tenants["frank"], ready_api.keys["frank"]
    served = await serve(create_app(ready_api.settings))  # a second replica sharing the broker
    try:
        async with (
            httpx.AsyncClient(base_url=ready_api.base_url, timeout=30.0) as one,
            httpx.AsyncClient(base_url=served.base_url, timeout=30.0) as two,
        ):
            await eventually(lambda: two.get("/readyz"), lambda r: r.status_code == 200, within=60)
            for _ in range(5):  # several rounds: the race is won by either replica, never by both
                idem, before = key(), await commands_probe.end_offsets()
                headers = {"Idempotency-Key": idem, "Authorization": f"Bearer {token}"}
                racing = [
                    asyncio.create_task(client.post("/v1/jobs", json=BODY, headers=headers))
                    for client in (one, two)
                ]
                done, _ = await asyncio.wait(racing, return_when=asyncio.FIRST_COMPLETED)
                first = done.pop().result()
                if first.status_code == 202:  # what admission writes: a replay on the other replica shows it
                    await scheduler.publish(snapshot(first.json()["id"], tenant, JobState.QUEUED, 1))
                answers = [await task for task in racing]
                codes = sorted(a.status_code for a in answers)
                assert codes in ([202, 202], [202, 409]), [a.text for a in answers]
                ids = {a.json()["id"] for a in answers if a.status_code == 202}
                assert len(ids) == 1, ids
                records = await commands_probe.records_since(before, key=tenant.encode())
                submitted = [await serde.deserialize(COMMANDS, bytes(r.value)) for r in records]
                assert {c.job_id for c in submitted if isinstance(c, SubmitJob)} == ids
    finally:
        await shutdown(served)
