"""The webhook portal on the real stack: the ingest API (uvicorn) for a tenant admin's calls, the notifier as
a process, real HTTP receivers on loopback, the real broker and registry.

- an endpoint's update (its URL and its event filter) is what the notifier delivers by;
- a rotated secret: during the overlap every delivery carries both signatures, and the `standardwebhooks`
  library verifies it with either secret;
- the delivery log shows the failed attempt of a receiver answering 500; resending it reaches the receiver
  under the same webhook-id, and a receiver deduplicating with `standardwebhooks` processes it once;
  "resend failed since" sends what never arrived;
- another tenant's endpoint and delivery answer 404;
- the `reelstream webhooks` commands and the async SDK drive the same routes.

Job events are published to reelstream.jobs.events (and their snapshots to reelstream.jobs.status, whose
view a resend reads the job from), as the scheduler does. Changes reach the notifier within a fetch: each
step waits for the first delivery that shows it, against a deadline.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from aiokafka import AIOKafkaProducer
from reelstream_client import AsyncClient
from reelstream_client.cli.main import main as cli_main
from reelstream_client.cli.output import NOT_FOUND, OK
from reelstream_client.errors import ValidationError
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from reelstream.endpoints import Endpoints
from reelstream.http_settings import WebhookTargetPolicy
from reelstream.kafka.clients import Publisher, sender_of
from reelstream.webhooks.targets import parse_networks
from reelstream.webhooks.tenants import endpoint_webhook_id
from schemas.events import JobEvent, JobEventType, JobState
from schemas.serde import AvroSerde
from schemas.topics import JOB_EVENTS, JOB_STATUS
from tests.integration.ingest.support import RunningApi, api_with_roles, eventually
from tests.integration.notifier_process import NotifierProcess, running_notifier
from tests.keys import shared_key_dir
from tests.samples import job_status
from tests.webhook_receiver import Delivery, Receiver, delivered, webhook_receiver

RUN = uuid.uuid4().hex[:8]
UPDATED, ROTATED, RESENT, OTHER, CLI = (
    f"{what}-{RUN}" for what in ("updated", "rotated", "resent", "other", "cli")
)
DEADLINE_S = 60.0


@pytest.fixture(scope="module")
def notifier(
    stack: Endpoints, topics: None, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[NotifierProcess]:
    env = {"REELSTREAM_WEBHOOK_RETRY_SCHEDULE": "0,0.5,1"}  # scaled down: three attempts within seconds
    workdir = tmp_path_factory.mktemp("notifier")
    # the keys of the ingest under test, which seals the secrets its admin routes create
    with running_notifier(stack, workdir, "portal", env=env, key_dir=Path(shared_key_dir())) as handle:
        yield handle


@pytest.fixture(scope="module")
async def api(stack: Endpoints, topics: None) -> AsyncIterator[RunningApi]:
    loopback = WebhookTargetPolicy(allow_http=True, allow_networks=parse_networks("127.0.0.0/8"))
    async with api_with_roles(
        stack,
        {"ops": f"ops-{RUN}"},
        admins=["ops"],
        targets=loopback,
        also=[UPDATED, ROTATED, RESENT, OTHER, CLI],
    ) as running:
        yield running


@pytest.fixture
def publisher(producer: AIOKafkaProducer, serde: AvroSerde) -> Publisher:
    return Publisher(sender_of(producer), serde)


async def _publish(
    publisher: Publisher, tenant: str, event_type: JobEventType, state: JobState, job_id: str | None = None
) -> JobEvent:
    """A job event of a fresh job (no webhook_url of its own), its snapshot first."""
    job_id = job_id or f"job-{uuid.uuid4().hex}"
    now = datetime.now(UTC)
    status = job_status(
        job_id=job_id, tenant_id=tenant, state=state, webhook_url=None, created_at=now, updated_at=now
    )
    await publisher.publish(JOB_STATUS, job_id, status)
    event = JobEvent(job_id=job_id, tenant_id=tenant, type=event_type, status=status)
    await publisher.publish(JOB_EVENTS, job_id, event)
    return event


def _verified(secret: str, hook: Delivery) -> bool:
    """What a receiver using the `standardwebhooks` library decides."""
    try:
        Webhook(secret).verify(hook.body, {k.lower(): v for k, v in hook.headers.items()})
    except WebhookVerificationError:
        return False
    return True


async def _until(
    notifier: NotifierProcess, attempt: Callable[[], Awaitable[Delivery | None]], what: str
) -> Delivery:
    """`attempt()` (publish, then wait a little for its delivery) until it yields one, with a deadline."""
    deadline = time.monotonic() + DEADLINE_S
    while time.monotonic() < deadline:
        hook = await attempt()
        if hook is not None:
            return hook
    pytest.fail(f"{what} never happened within {DEADLINE_S:g}s:\n{notifier.log()[-4000:]}")


async def _delivery_of(
    receiver: Receiver, notifier: NotifierProcess, webhook_id: str, within: float = 5.0
) -> Delivery | None:
    try:
        return await delivered(receiver, notifier, lambda d: d.headers["webhook-id"] == webhook_id, within)
    except pytest.fail.Exception:
        return None


async def test_an_update_moves_the_endpoint_and_its_filter_decides_what_it_gets(
    api: RunningApi, notifier: NotifierProcess, publisher: Publisher
) -> None:
    ops = api.client("ops")
    base = f"/v1/admin/tenants/{UPDATED}/webhook-endpoints"
    with webhook_receiver() as first, webhook_receiver() as second:
        created = await ops.post(base, json={"url": first.url})
        assert created.status_code == 201, created.text
        endpoint = created.json()
        assert endpoint["enabled"] is True
        assert endpoint["event_types"] == []
        secret = endpoint["secret"]  # the tenant's first endpoint: its first secret, shown this once
        assert "secret" not in (await ops.get(base)).json()["data"][0]

        async def succeeded_to(receiver: Receiver) -> Delivery | None:
            event = await _publish(publisher, UPDATED, JobEventType.SUCCEEDED, JobState.SUCCEEDED)
            return await _delivery_of(receiver, notifier, endpoint_webhook_id(event.event_id, endpoint["id"]))

        hook = await _until(notifier, lambda: succeeded_to(first), "a delivery to the new endpoint")
        assert _verified(secret, hook)

        bad = await ops.patch(
            f"{base}/{endpoint['id']}", json={"url": "ftp://x", "event_types": ["job.nope"]}
        )
        assert bad.status_code == 422
        assert bad.headers["content-type"] == "application/problem+json"
        assert {e["field"] for e in bad.json()["errors"]} == {"url", "event_types"}

        changed = await ops.patch(
            f"{base}/{endpoint['id']}", json={"url": second.url, "event_types": ["job.started"]}
        )
        assert changed.status_code == 200, changed.text
        assert changed.json()["url"] == second.url
        assert changed.json()["event_types"] == ["job.started"]
        assert changed.json()["created_at"] == endpoint["created_at"]

        async def started_to_second() -> Delivery | None:
            event = await _publish(publisher, UPDATED, JobEventType.STARTED, JobState.RUNNING)
            return await _delivery_of(second, notifier, endpoint_webhook_id(event.event_id, endpoint["id"]))

        started = await _until(notifier, started_to_second, "job.started at the updated URL")
        assert json.loads(started.body)["type"] == "job.started"
        assert _verified(secret, started)
        # the notifier has the update: a succeeded job, then a started one, on one partition (in order)
        succeeded = await _publish(publisher, UPDATED, JobEventType.SUCCEEDED, JobState.SUCCEEDED)
        later = await _publish(publisher, UPDATED, JobEventType.STARTED, JobState.RUNNING)
        assert await _delivery_of(second, notifier, endpoint_webhook_id(later.event_id, endpoint["id"]), 30)
        assert not second.matching(lambda d: succeeded.job_id.encode() in d.body)  # not in the filter
        assert not first.matching(lambda d: later.job_id.encode() in d.body)  # the old URL gets nothing


async def test_a_rotated_secret_signs_alongside_the_new_one_during_the_overlap(
    api: RunningApi, notifier: NotifierProcess, publisher: Publisher
) -> None:
    ops = api.client("ops")
    tenant = ROTATED
    with webhook_receiver() as receiver:
        endpoint = (
            await ops.post(f"/v1/admin/tenants/{tenant}/webhook-endpoints", json={"url": receiver.url})
        ).json()
        old_secret, old_id = endpoint["secret"], endpoint["secret_id"]
        rotated = await ops.post(
            f"/v1/admin/tenants/{tenant}/webhook-secrets/{old_id}/rotate", json={"overlap_seconds": 3600}
        )
        assert rotated.status_code == 201, rotated.text
        body = rotated.json()
        new_secret = body["secret"]
        assert body["rotated"]["id"] == old_id
        assert body["rotated"]["expires_at"] is not None
        secrets_listed = (await ops.get(f"/v1/admin/tenants/{tenant}/webhook-secrets")).json()["data"]
        assert {s["id"] for s in secrets_listed} == {old_id, body["id"]}

        async def doubly_signed() -> Delivery | None:
            event = await _publish(publisher, tenant, JobEventType.SUCCEEDED, JobState.SUCCEEDED)
            hook = await _delivery_of(receiver, notifier, endpoint_webhook_id(event.event_id, endpoint["id"]))
            return hook if hook is not None and len(hook.headers["webhook-signature"].split()) == 2 else None

        hook = await _until(notifier, doubly_signed, "a delivery signed with both secrets")
        assert _verified(old_secret, hook)  # a receiver not yet switched
        assert _verified(new_secret, hook)  # and one already switched
        assert not _verified(notifier.secret, hook)
        log = notifier.log()
        assert old_secret not in log
        assert new_secret not in log
        gone = await ops.post(f"/v1/admin/tenants/{tenant}/webhook-secrets/whsk_nope/rotate")
        assert gone.status_code == 404


Page = list[dict[str, Any]]


async def _deliveries(ops: Any, path: str, wanted: Callable[[Page], bool]) -> Page:
    """The delivery log's page once `wanted` holds of it (ingest follows the deliveries topic)."""

    async def page() -> Page:
        response = await ops.get(path)
        assert response.status_code == 200, response.text
        data: Page = response.json()["data"]
        return data

    return await eventually(page, wanted, within=DEADLINE_S, interval=0.2)


class DedupingReceiver:
    """A receiver as a tenant writes one with `standardwebhooks`: verify, then hand each webhook-id on once.
    `refusals`: how many attempts of a job to answer 500 first (an outage)."""

    def __init__(self, secret: str) -> None:
        self.secret = secret
        self.refusals: dict[str, int] = {}
        self.processed: set[str] = set()
        self.duplicates: dict[str, int] = {}

    def __call__(self, hook: Delivery) -> tuple[int, dict[str, str]]:
        if not _verified(self.secret, hook):
            return 400, {}
        job = json.loads(hook.body)["data"].get("id")
        if self.refusals.get(job, 0) > 0:
            self.refusals[job] -= 1
            return 500, {}
        webhook_id = hook.headers["webhook-id"]
        if webhook_id in self.processed:
            self.duplicates[webhook_id] = self.duplicates.get(webhook_id, 0) + 1
        self.processed.add(webhook_id)
        return 204, {}


async def test_the_log_shows_a_failed_attempt_and_a_resend_arrives_under_its_webhook_id(
    api: RunningApi, notifier: NotifierProcess, publisher: Publisher
) -> None:
    ops = api.client("ops")
    tenant = RESENT
    base = f"/v1/admin/tenants/{tenant}/webhook-endpoints"
    since = datetime.now(UTC).isoformat()
    with webhook_receiver() as receiver:
        endpoint = (await ops.post(base, json={"url": receiver.url})).json()
        endpoint_id = endpoint["id"]
        deduping = DedupingReceiver(endpoint["secret"])
        receiver.respond = deduping

        def attempts(webhook_id: str, count: int, status: int | None = None) -> Awaitable[list[Delivery]]:
            def wanted(d: Delivery) -> bool:
                return d.headers["webhook-id"] == webhook_id and status in (None, d.status)

            return asyncio.to_thread(receiver.wait_count, wanted, count, DEADLINE_S)

        async def reaches() -> Delivery | None:
            event = await _publish(publisher, tenant, JobEventType.SUCCEEDED, JobState.SUCCEEDED)
            return await _delivery_of(receiver, notifier, endpoint_webhook_id(event.event_id, endpoint_id))

        await _until(notifier, reaches, "a delivery to the registered endpoint")

        # a message refused once (500), then delivered by its retry
        flaky_job = f"job-{uuid.uuid4().hex}"
        deduping.refusals[flaky_job] = 1
        flaky = await _publish(publisher, tenant, JobEventType.FAILED, JobState.FAILED, flaky_job)
        flaky_id = endpoint_webhook_id(flaky.event_id, endpoint_id)
        assert [t.status for t in await attempts(flaky_id, 2)] == [500, 204]

        log_path = f"{base}/{endpoint_id}/deliveries?status=failed"
        failed = await _deliveries(ops, log_path, lambda data: any(d["webhook_id"] == flaky_id for d in data))
        attempt = next(d for d in failed if d["webhook_id"] == flaky_id)
        assert attempt["status"] == "failed"
        assert attempt["status_code"] == 500
        assert attempt["event_type"] == "job.failed"
        assert attempt["job_id"] == flaky_job
        assert attempt["attempt"] == 1
        assert attempt["latency_ms"] >= 0
        assert attempt["error_class"] is None

        # resend the failed attempt: it arrives again under the same webhook-id, and is deduplicated
        resend = await ops.post(f"{base}/{endpoint_id}/deliveries/{attempt['id']}/resend")
        assert resend.status_code == 202, resend.text
        assert resend.json()["webhook_id"] == flaky_id
        again = await attempts(flaky_id, 2, status=204)
        assert json.loads(again[-1].body)["data"]["id"] == flaky_job
        assert deduping.duplicates == {flaky_id: 1}  # handed on once; the resend was recognised

        # a message every attempt of which failed (the schedule exhausted), resent after the outage
        lost_job = f"job-{uuid.uuid4().hex}"
        deduping.refusals[lost_job] = 3
        lost = await _publish(publisher, tenant, JobEventType.SUCCEEDED, JobState.SUCCEEDED, lost_job)
        lost_id = endpoint_webhook_id(lost.event_id, endpoint_id)
        await attempts(lost_id, 3, status=500)
        await _deliveries(ops, log_path, lambda data: sum(d["webhook_id"] == lost_id for d in data) == 3)
        batch = await ops.post(f"{base}/{endpoint_id}/resend-failed", params={"since": since})
        assert batch.status_code == 202, batch.text
        resent = {item["webhook_id"] for item in batch.json()["data"]}
        assert lost_id in resent
        assert flaky_id not in resent  # it did arrive
        await attempts(lost_id, 1, status=204)
        assert lost_id in deduping.processed

        # another tenant: neither the endpoint nor the delivery exists there
        other = f"/v1/admin/tenants/{OTHER}/webhook-endpoints"
        assert (await ops.get(f"{other}/{endpoint_id}/deliveries")).status_code == 404
        assert (await ops.patch(f"{other}/{endpoint_id}", json={"enabled": False})).status_code == 404
        assert (await ops.post(f"{other}/{endpoint_id}/deliveries/{attempt['id']}/resend")).status_code == 404
        with webhook_receiver() as theirs:
            own = (await ops.post(other, json={"url": theirs.url})).json()["id"]
            cross = await ops.post(f"{other}/{own}/deliveries/{attempt['id']}/resend")
            assert cross.status_code == 404
            assert cross.headers["content-type"] == "application/problem+json"
        bad = await ops.get(f"{base}/{endpoint_id}/deliveries", params={"status": "lost", "cursor": "x"})
        assert bad.status_code == 422
        assert {e["field"] for e in bad.json()["errors"]} == {"status", "cursor"}
        missing = await ops.post(f"{base}/{endpoint_id}/resend-failed")
        assert missing.status_code == 422
        assert [e["field"] for e in missing.json()["errors"]] == ["since"]


async def test_the_cli_and_the_async_sdk_drive_the_portal(
    api: RunningApi, capsys: pytest.CaptureFixture[str]
) -> None:
    """`reelstream webhooks …` (the sync SDK underneath) and `AsyncClient`, against the same ingest."""
    tenant = CLI
    env = {"REELSTREAM_API_URL": api.base_url, "REELSTREAM_API_KEY": api.keys["ops"]}

    async def run(*argv: str, expect: int = OK) -> tuple[str, str]:
        assert await asyncio.to_thread(cli_main, argv, env) == expect  # sync HTTP: off the server's loop
        captured = capsys.readouterr()
        return captured.out, captured.err

    with webhook_receiver() as receiver:
        out, _ = await run("webhooks", "add", receiver.url, "--tenant", tenant)
        endpoint_id, secret = out.split()
        assert endpoint_id.startswith("ep_")
        assert secret.startswith("whsec_")  # the tenant's first: printed once
        out, _ = await run(
            "webhooks", "update", endpoint_id, "--tenant", tenant, "--disable", "--event", "job.started"
        )
        assert out == f"{endpoint_id}\tdisabled\tjob.started\n"
        listed, _ = await run("webhooks", "list", "--tenant", tenant)
        assert f"{endpoint_id}\t{receiver.url}\tjob.started\tdisabled" in listed
        secret_id = (await run("webhooks", "secrets", "list", "--tenant", tenant))[0].split()[0]
        rotated, note = await run(
            "webhooks", "secrets", "rotate", secret_id, "--tenant", tenant, "--overlap", "1h"
        )
        assert rotated.startswith("whsec_")
        assert rotated.strip() != secret
        assert f"replaces {secret_id}" in note
        page, _ = await run(
            "webhooks", "deliveries", endpoint_id, "--tenant", tenant, "--status", "failed", "--json"
        )
        assert json.loads(page) == {"object": "list", "data": [], "next_cursor": None}
        out, _ = await run(
            "webhooks", "resend-failed", endpoint_id, "--tenant", tenant, "--since", "2026-01-01T00:00:00"
        )
        assert out == "0 resends queued (0 not resendable)\n"
        await run("webhooks", "resend", endpoint_id, "d_nope", "--tenant", tenant, expect=NOT_FOUND)

        async with AsyncClient(api.base_url, api_key=api.keys["ops"]) as client:
            enabled = await client.update_webhook_endpoint(tenant, endpoint_id, event_types=[], enabled=True)
            assert (enabled.enabled, enabled.event_types) == (True, [])
            log = await client.list_webhook_deliveries(tenant, endpoint_id, status="delivered", limit=5)
            assert log.data == []
            with pytest.raises(ValidationError):
                await client.resend_failed_webhooks(tenant, endpoint_id, since="yesterday")
