"""A tenant's own webhooks on the real stack: the ingest API (uvicorn) for the admin calls, the notifier as a
process, a real HTTP receiver on loopback, the real broker and registry.

- two active secrets: every delivery carries two `v1,` signatures and verifies with either; after one is
  retired, deliveries carry only the other;
- a registered endpoint with a filter receives only the events its filter names, under its own webhook-id;
- a ping reaches the endpoint, signed.

The notifier follows the configuration topics while it runs, so a change reaches it within a fetch
interval: each test waits (against a deadline) for the first delivery that shows the change, then checks
what follows it. Job events are published straight to reelstream.jobs.events, as the scheduler does.
"""

from __future__ import annotations

import asyncio
import base64
import json
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import pytest
from aiokafka import AIOKafkaProducer

from reelstream.endpoints import Endpoints
from reelstream.http_settings import WebhookTargetPolicy
from reelstream.kafka.clients import Publisher, sender_of
from reelstream.webhooks.messages import WebhookVerificationError, verify
from reelstream.webhooks.targets import parse_networks
from reelstream.webhooks.tenants import endpoint_webhook_id
from schemas.events import JobEvent, JobEventType, JobState
from schemas.serde import AvroSerde
from schemas.topics import JOB_EVENTS
from tests.integration.ingest.support import RunningApi, api_with_roles
from tests.integration.notifier_process import NotifierProcess, running_notifier
from tests.kafka_clients import every_record
from tests.keys import shared_key_dir
from tests.samples import job_status
from tests.webhook_receiver import Delivery, Receiver, delivered, webhook_receiver

RUN = uuid.uuid4().hex[:8]
ROTATING, FILTERED, RETRIED = f"rotating-{RUN}", f"filtered-{RUN}", f"retried-{RUN}"
DISABLED = f"disabled-{RUN}"
DEADLINE_S = 60.0


@pytest.fixture(scope="module")
def notifier(
    stack: Endpoints, topics: None, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[NotifierProcess]:
    env = {
        "REELSTREAM_WEBHOOK_RETRY_SCHEDULE": "0,0.5,1",  # scaled down: retries within a second
        "REELSTREAM_WEBHOOK_DISABLE_AFTER_SECONDS": "2",  # and an endpoint's failure window
    }
    workdir = tmp_path_factory.mktemp("notifier")
    # the keys of the ingest under test, which seals the secrets its admin routes create
    # (these tenants create no secret of their own: they get the notifier's, issued as dev does)
    with running_notifier(
        stack,
        workdir,
        "tenant-hooks",
        env=env,
        key_dir=Path(shared_key_dir()),
        tenants=[FILTERED, RETRIED, DISABLED],
    ) as handle:
        yield handle


@pytest.fixture(scope="module")
async def admin_api(stack: Endpoints, topics: None) -> AsyncIterator[RunningApi]:
    loopback = WebhookTargetPolicy(allow_http=True, allow_networks=parse_networks("127.0.0.0/8"))  # receivers
    tenants = {"ops": f"ops-{RUN}", "user": ROTATING}
    others = [FILTERED, *(f"{what}-{RUN}" for what in ("pinged", "retried", "disabled", "scanned"))]
    async with api_with_roles(stack, tenants, admins=["ops"], targets=loopback, also=others) as api:
        yield api


@pytest.fixture
def publisher(producer: AIOKafkaProducer, serde: AvroSerde) -> Publisher:
    return Publisher(sender_of(producer), serde)


def _event(tenant: str, url: str | None, event_type: JobEventType, state: JobState) -> JobEvent:
    job_id = f"job-{uuid.uuid4().hex}"
    status = job_status(
        job_id=job_id,
        tenant_id=tenant,
        state=state,
        webhook_url=url.format(job_id=job_id) if url else None,
        prompt=f"a red fox {uuid.uuid4().hex}",
    )
    return JobEvent(job_id=job_id, tenant_id=tenant, type=event_type, status=status)


def _verifies(secret: str, hook: Delivery) -> bool:
    try:
        verify(secret, hook.headers, hook.body, now=int(time.time()))
    except WebhookVerificationError:
        return False
    return True


def _signatures(hook: Delivery) -> list[str]:
    return hook.headers["webhook-signature"].split()


async def _succeeded_hook(
    publisher: Publisher, receiver: Receiver, notifier: NotifierProcess, tenant: str
) -> Delivery:
    """Publish a succeeded job of `tenant` with its own webhook_url; the webhook it gets."""
    event = _event(tenant, f"{receiver.url}/{{job_id}}", JobEventType.SUCCEEDED, JobState.SUCCEEDED)
    await publisher.publish(JOB_EVENTS, event.job_id, event)
    return await delivered(receiver, notifier, lambda d: d.headers.get("webhook-id") == event.event_id)


async def _until_hook(
    publisher: Publisher,
    receiver: Receiver,
    notifier: NotifierProcess,
    tenant: str,
    done: Callable[[Delivery], bool],
) -> Delivery:
    """Deliveries of fresh jobs until one satisfies `done` (the notifier saw a change), with a deadline."""
    deadline = time.monotonic() + DEADLINE_S
    while time.monotonic() < deadline:
        hook = await _succeeded_hook(publisher, receiver, notifier, tenant)
        if done(hook):
            return hook
    pytest.fail(f"the notifier never applied the change within {DEADLINE_S:g}s:\n{notifier.log()[-4000:]}")


async def test_admin_routes_need_the_admin_scope_and_validate_their_input(admin_api: RunningApi) -> None:
    user, ops = admin_api.client("user"), admin_api.client("ops")
    base = f"/v1/admin/tenants/{ROTATING}"
    refused = await user.post(f"{base}/webhook-secrets")
    assert refused.status_code == 403
    assert refused.headers["content-type"] == "application/problem+json"
    assert (await user.get(f"{base}/webhook-endpoints")).status_code == 403

    unknown = await ops.delete(f"{base}/webhook-secrets/whsk_nope")
    assert unknown.status_code == 404
    assert unknown.headers["content-type"] == "application/problem+json"
    assert (await ops.post(f"{base}/webhook-endpoints/ep_nope/ping")).status_code == 404
    bad = await ops.post(f"{base}/webhook-endpoints", json={"url": "ftp://x", "event_types": ["job.nope"]})
    assert bad.status_code == 422
    assert {e["field"] for e in bad.json()["errors"]} == {"url", "event_types"}
    assert (await ops.post("/v1/admin/tenants/bad tenant/webhook-secrets")).status_code == 422


async def test_two_active_secrets_sign_every_delivery_and_a_retired_one_stops_signing(
    admin_api: RunningApi, notifier: NotifierProcess, receiver: Receiver, publisher: Publisher
) -> None:
    ops = admin_api.client("ops")
    base = f"/v1/admin/tenants/{ROTATING}/webhook-secrets"
    started = time.monotonic()
    created = [await ops.post(base, json={}) for _ in range(2)]
    assert [r.status_code for r in created] == [201, 201]
    old, new = (r.json() for r in created)
    assert old["secret"].startswith("whsec_")
    assert old["secret"] != new["secret"]
    listed = (await ops.get(base)).json()["data"]
    assert {s["id"] for s in listed} == {old["id"], new["id"]}
    assert all("secret" not in s for s in listed)  # shown once, at creation

    both = await _until_hook(publisher, receiver, notifier, ROTATING, lambda d: len(_signatures(d)) == 2)
    print(f"secrets created to first delivery signed with both: {time.monotonic() - started:.2f}s")
    assert _verifies(old["secret"], both)
    assert _verifies(new["secret"], both)
    assert not _verifies(notifier.secret, both)  # the tenant's own secrets only (there is no global one)

    started = time.monotonic()
    retired = await ops.delete(f"{base}/{old['id']}")
    assert retired.status_code == 204
    assert [s["id"] for s in (await ops.get(base)).json()["data"]] == [new["id"]]

    one = await _until_hook(publisher, receiver, notifier, ROTATING, lambda d: len(_signatures(d)) == 1)
    print(f"secret retired to first delivery without it: {time.monotonic() - started:.2f}s")
    after = await _succeeded_hook(publisher, receiver, notifier, ROTATING)  # and every delivery after it
    for hook in (one, after):
        assert len(_signatures(hook)) == 1
        assert _verifies(new["secret"], hook)
        assert not _verifies(old["secret"], hook)
    log = notifier.log()
    assert old["secret"] not in log
    assert new["secret"] not in log


async def test_a_registered_endpoint_gets_only_the_events_its_filter_names_and_a_signed_ping(
    admin_api: RunningApi, notifier: NotifierProcess, receiver: Receiver, publisher: Publisher
) -> None:
    ops = admin_api.client("ops")
    base = f"/v1/admin/tenants/{FILTERED}/webhook-endpoints"
    with webhook_receiver() as endpoint_receiver:
        token = uuid.uuid4().hex
        created = await ops.post(
            base, json={"url": f"{endpoint_receiver.url}?token={token}", "event_types": ["job.failed"]}
        )
        assert created.status_code == 201
        endpoint = created.json()
        assert endpoint["event_types"] == ["job.failed"]
        assert [e["id"] for e in (await ops.get(base)).json()["data"]] == [endpoint["id"]]

        async def publish_failed() -> tuple[JobEvent, int]:
            event = _event(FILTERED, None, JobEventType.FAILED, JobState.FAILED)
            meta = await publisher.publish(JOB_EVENTS, event.job_id, event)
            return event, int(meta.partition)

        # until the notifier knows the endpoint: a failed job (no URL of its own) reaching it
        deadline = time.monotonic() + DEADLINE_S
        while True:
            probe, partition = await publish_failed()
            hook_id = endpoint_webhook_id(probe.event_id, endpoint["id"])
            try:
                await delivered(
                    endpoint_receiver, notifier, lambda d, h=hook_id: d.headers["webhook-id"] == h, 5.0
                )
                break
            except pytest.fail.Exception:
                if time.monotonic() > deadline:
                    raise

        # a succeeded job then a failed one, in this order on one partition (handled in order)
        own_url = f"{receiver.url}/{{job_id}}"
        succeeded = _event(FILTERED, own_url, JobEventType.SUCCEEDED, JobState.SUCCEEDED)
        failed = _event(FILTERED, own_url, JobEventType.FAILED, JobState.FAILED)
        await publisher.publish(JOB_EVENTS, succeeded.job_id, succeeded, partition=partition)
        await publisher.publish(JOB_EVENTS, failed.job_id, failed, partition=partition)

        expected_id = endpoint_webhook_id(failed.event_id, endpoint["id"])
        hook = await delivered(endpoint_receiver, notifier, lambda d: d.headers["webhook-id"] == expected_id)
        assert json.loads(hook.body)["type"] == "job.failed"
        assert json.loads(hook.body)["data"]["id"] == failed.job_id
        assert hook.path.endswith(f"?token={token}")
        assert _verifies(notifier.secret, hook)  # the tenant's secret the fixture issued
        # the job's own URL got both events, under their event ids; the endpoint never got the succeeded one
        for event in (succeeded, failed):
            await delivered(receiver, notifier, lambda d, e=event.event_id: d.headers["webhook-id"] == e)
        assert not endpoint_receiver.matching(lambda d: succeeded.job_id.encode() in d.body)

        # a ping: 202, then a signed `ping` under the id the API answered
        pinged = await ops.post(f"{base}/{endpoint['id']}/ping")
        assert pinged.status_code == 202
        ping_id = pinged.json()["id"]
        ping = await delivered(endpoint_receiver, notifier, lambda d: d.headers["webhook-id"] == ping_id)
        body = json.loads(ping.body)
        assert body["type"] == "ping"
        assert body["data"] == {"tenant": FILTERED, "endpoint_id": endpoint["id"]}
        assert _verifies(notifier.secret, ping)

        # deleted: nothing more reaches it
        assert (await ops.delete(f"{base}/{endpoint['id']}")).status_code == 204
        assert (await ops.get(base)).json()["data"] == []
        assert token not in notifier.log()


async def test_a_ping_is_signed_with_the_tenants_own_secrets(
    admin_api: RunningApi, notifier: NotifierProcess, publisher: Publisher
) -> None:
    ops = admin_api.client("ops")
    tenant = f"pinged-{RUN}"
    secret = (await ops.post(f"/v1/admin/tenants/{tenant}/webhook-secrets")).json()["secret"]
    with webhook_receiver() as endpoint_receiver:
        created = await ops.post(
            f"/v1/admin/tenants/{tenant}/webhook-endpoints", json={"url": endpoint_receiver.url}
        )
        endpoint_id = created.json()["id"]
        # the ping is sent right after registering; it carries the URL, the secret may lag: wait for a
        # ping that verifies with the tenant's secret (pinging again while the notifier catches up)
        deadline = time.monotonic() + DEADLINE_S
        while True:
            response = await ops.post(f"/v1/admin/tenants/{tenant}/webhook-endpoints/{endpoint_id}/ping")
            assert response.status_code == 202
            ping_id = response.json()["id"]
            hook = await delivered(
                endpoint_receiver, notifier, lambda d, p=ping_id: d.headers["webhook-id"] == p
            )
            if _verifies(secret, hook) or time.monotonic() > deadline:
                break
        assert _verifies(secret, hook)
        assert not _verifies(notifier.secret, hook)
        assert json.loads(hook.body)["type"] == "ping"


async def test_each_endpoint_delivery_is_retried_on_its_own_under_its_own_webhook_id(
    admin_api: RunningApi, notifier: NotifierProcess, receiver: Receiver, publisher: Publisher
) -> None:
    ops = admin_api.client("ops")
    tenant = RETRIED
    with webhook_receiver() as flaky:
        flaky.respond = lambda d: (500, {}) if not flaky.deliveries else (204, {})  # the first one fails
        created = await ops.post(f"/v1/admin/tenants/{tenant}/webhook-endpoints", json={"url": flaky.url})
        endpoint_id = created.json()["id"]
        deadline = time.monotonic() + DEADLINE_S
        while True:  # until the notifier knows the endpoint (the first delivery to it is the failing one)
            event = _event(tenant, f"{receiver.url}/{{job_id}}", JobEventType.SUCCEEDED, JobState.SUCCEEDED)
            await publisher.publish(JOB_EVENTS, event.job_id, event)
            await delivered(receiver, notifier, lambda d, e=event.event_id: d.headers["webhook-id"] == e)
            hook_id = endpoint_webhook_id(event.event_id, endpoint_id)
            try:
                await delivered(flaky, notifier, lambda d, h=hook_id: d.headers["webhook-id"] == h, 5.0)
                break
            except pytest.fail.Exception:
                if time.monotonic() > deadline:
                    raise
        tries = await asyncio.to_thread(
            flaky.wait_count, lambda d, h=hook_id: d.headers["webhook-id"] == h, 2, DEADLINE_S
        )
    assert [t.status for t in tries] == [500, 204]
    assert tries[0].body == tries[1].body
    assert all(_verifies(notifier.secret, t) for t in tries)
    # the job's own URL got the event once: its delivery succeeded and is not retried with the endpoint's
    assert len(receiver.matching(lambda d: d.headers.get("webhook-id") == event.event_id)) == 1


async def test_an_endpoint_failing_for_its_whole_window_is_disabled_and_announced(
    admin_api: RunningApi, notifier: NotifierProcess, publisher: Publisher
) -> None:
    """Every attempt to one endpoint fails for longer than the window: it is disabled, and the tenant's
    endpoint subscribed to `endpoint.disabled` gets a signed notice naming it (never its URL)."""
    ops = admin_api.client("ops")
    tenant = DISABLED
    base = f"/v1/admin/tenants/{tenant}/webhook-endpoints"
    with webhook_receiver() as dead, webhook_receiver() as watch:
        dead.status = 503
        dead_id = (await ops.post(base, json={"url": dead.url + "?token=s3cret"})).json()["id"]
        watched = await ops.post(base, json={"url": watch.url, "event_types": ["endpoint.disabled"]})
        assert watched.status_code == 201, watched.text
        deadline = time.monotonic() + DEADLINE_S
        try:
            while True:  # job events until the dead endpoint has failed for its whole window
                event = _event(tenant, None, JobEventType.SUCCEEDED, JobState.SUCCEEDED)
                await publisher.publish(JOB_EVENTS, event.job_id, event)
                try:
                    notice = await delivered(watch, notifier, lambda d: b"endpoint.disabled" in d.body, 2.0)
                    break
                except pytest.fail.Exception:
                    if time.monotonic() > deadline:
                        raise
        finally:  # the URL's record outlives the test: re-enable it for any later receiver on its port
            await ops.post("/v1/admin/webhooks/enable", json={"url": dead.url + "?token=s3cret"})
    body = json.loads(notice.body)
    assert body["type"] == "endpoint.disabled"
    assert body["data"]["endpoint_id"] == dead_id
    assert "s3cret" not in notice.body.decode()
    assert _verifies(notifier.secret, notice)
    assert len(dead.deliveries) >= 2
    assert all(d.status == 503 for d in dead.deliveries)


async def test_no_webhook_secret_is_anywhere_in_the_raw_bytes_of_any_topic(
    admin_api: RunningApi,
    notifier: NotifierProcess,
    receiver: Receiver,
    publisher: Publisher,
    stack: Endpoints,
) -> None:
    """Secrets travel sealed: after secrets were created, used to sign, and one retired, the raw bytes of
    every record (keys, values, headers) of every topic on the broker hold none of them, in any form."""
    ops = admin_api.client("ops")
    tenant = f"scanned-{RUN}"
    base = f"/v1/admin/tenants/{tenant}/webhook-secrets"
    created = [(await ops.post(base, json={})).json() for _ in range(3)]
    values = [c["secret"] for c in created]
    signed = await _until_hook(publisher, receiver, notifier, tenant, lambda d: len(_signatures(d)) == 3)
    assert all(_verifies(value, signed) for value in values)  # they were used, so every path ran
    assert (await ops.delete(f"{base}/{created[0]['id']}")).status_code == 204
    forms = {form for value in values for form in _forms(value)}
    hits: dict[str, int] = {}
    scanned = 0
    async for topic, raw in every_record(
        stack.kafka_bootstrap, stack.kafka_security, deadline=DEADLINE_S * 3
    ):
        scanned += 1
        for form in forms:
            if form in raw:
                hits[topic] = hits.get(topic, 0) + 1
    print(f"scanned {scanned} records of every topic for {len(forms)} forms of {len(values)} secrets")
    assert scanned > 0
    assert hits == {}


def _forms(secret: str) -> list[bytes]:
    """The secret as text, its base64 body, and its key bytes (raw and hex)."""
    body = secret.removeprefix("whsec_")
    key = base64.b64decode(body)
    return [secret.encode(), body.encode(), key, key.hex().encode()]
