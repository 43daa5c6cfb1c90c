"""DELETE /v1/jobs/{id} and the retention sweep, against the real Kafka, registry and MinIO: the objects go,
the record is tombstoned, `job.deleted` is announced, another tenant reads 404, a snapshot that arrives after
the deletion (the worker's late success, the scheduler's own) is reaped, and time (an injected clock) expires
videos, then jobs."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from aiokafka import AIOKafkaConsumer

from devstack.manager import LIFECYCLE_RULE, lifecycle_days
from reelstream.endpoints import Endpoints
from reelstream.object_store import minio_client
from schemas import events as ev
from schemas.serde import AvroSerde
from schemas.topics import COMMANDS, JOB_EVENTS, JOB_STATUS
from tests.integration.ingest.support import (
    RunningApi,
    StatusWriter,
    TopicProbe,
    api_with_roles,
    eventually,
    snapshot,
)
from tests.integration.ingest.test_cancel_and_content import put_object
from tests.samples import artifact


@pytest.fixture
async def probes(stack: Endpoints, topics: None) -> AsyncIterator[dict[str, TopicProbe]]:
    consumers = []
    found = {}
    for topic in (COMMANDS, JOB_EVENTS, JOB_STATUS):
        consumer = AIOKafkaConsumer(
            bootstrap_servers=stack.kafka_bootstrap, group_id=None, **stack.kafka_security.aiokafka()
        )
        await consumer.start()
        consumers.append(consumer)
        found[topic.name] = TopicProbe(consumer, topic)
    try:
        yield found
    finally:
        for consumer in consumers:
            await consumer.stop()


async def stored(stack: Endpoints, prefix: str) -> list[str]:
    listed = await asyncio.to_thread(
        lambda: list(minio_client(stack).list_objects(stack.s3_bucket, prefix=prefix, recursive=True))
    )
    return [o.object_name for o in listed if o.object_name]


async def finished_job(
    client: httpx.AsyncClient, scheduler: StatusWriter, stack: Endpoints, tenant: str, **overrides: object
) -> tuple[str, ev.JobStatus]:
    """A succeeded job with its video and poster in MinIO, as the worker and the scheduler leave it."""
    job = ev.new_id()
    video, poster = f"{tenant}/{job}/1/video.mp4", f"{tenant}/{job}/1/poster.jpg"
    await put_object(stack, video, os.urandom(2048), "video/mp4")
    await put_object(stack, poster, os.urandom(256), "image/jpeg")
    status = snapshot(
        job, tenant, ev.JobState.SUCCEEDED, 3, artifact=artifact(key=video, poster_key=poster), **overrides
    )
    await scheduler.publish_and_wait(client, status)
    return job, status


async def tombstoned(probe: TopicProbe, since: dict, job: str) -> bool:
    records = await probe.records_since(since, key=job.encode())
    return bool(records) and records[-1].value is None


async def test_deleting_a_finished_job_removes_its_video_record_and_announces_it(
    ready_api: RunningApi,
    scheduler: StatusWriter,
    stack: Endpoints,
    probes: dict[str, TopicProbe],
    serde: AvroSerde,
) -> None:
    client, tenant = ready_api.client("alice"), ready_api.tenants["alice"]
    job, _ = await finished_job(client, scheduler, stack, tenant)
    events, statuses = probes[JOB_EVENTS.name], probes[JOB_STATUS.name]
    events_before, statuses_before = await events.end_offsets(), await statuses.end_offsets()
    assert len(await stored(stack, f"{tenant}/{job}/")) == 2

    response = await client.delete(f"/v1/jobs/{job}")

    assert (response.status_code, response.content) == (204, b"")
    assert await stored(stack, f"{tenant}/{job}/") == []
    assert (await client.get(f"/v1/jobs/{job}")).status_code == 404
    assert job not in {j["id"] for j in (await client.get("/v1/jobs", params={"limit": 100})).json()["data"]}
    assert await tombstoned(statuses, statuses_before, job)
    [record] = await events.records_since(events_before, key=job.encode())
    announced = await serde.deserialize(JOB_EVENTS, bytes(record.value))
    assert (announced.type, announced.tenant_id, announced.status.artifact) == ("deleted", tenant, None)
    again = await client.delete(f"/v1/jobs/{job}")  # gone: a repeat reads the job as unknown
    assert again.status_code == 404
    assert again.headers["content-type"] == "application/problem+json"


async def test_another_tenant_cannot_delete_a_job_and_reads_404(
    ready_api: RunningApi, scheduler: StatusWriter, stack: Endpoints
) -> None:
    alice, tenant = ready_api.client("alice"), ready_api.tenants["alice"]
    job, _ = await finished_job(alice, scheduler, stack, tenant)

    response = await ready_api.client("bob").delete(f"/v1/jobs/{job}")

    assert response.status_code == 404
    assert response.json()["detail"] == f"job {job} not found"
    assert (await alice.get(f"/v1/jobs/{job}")).status_code == 200
    assert len(await stored(stack, f"{tenant}/{job}/")) == 2


async def test_deleting_a_running_job_cancels_it_and_what_arrives_later_is_reaped(
    ready_api: RunningApi,
    scheduler: StatusWriter,
    stack: Endpoints,
    probes: dict[str, TopicProbe],
    serde: AvroSerde,
) -> None:
    client, tenant, job = ready_api.client("alice"), ready_api.tenants["alice"], ev.new_id()
    await scheduler.publish_and_wait(client, snapshot(job, tenant, ev.JobState.RUNNING, 2, progress=0.5))
    commands, statuses = probes[COMMANDS.name], probes[JOB_STATUS.name]
    commands_before = await commands.end_offsets()

    assert (await client.delete(f"/v1/jobs/{job}")).status_code == 204

    records = await commands.records_since(commands_before, key=tenant.encode())
    decoded = [await serde.deserialize(COMMANDS, bytes(r.value)) for r in records]
    [cancel] = [c for c in decoded if isinstance(c, ev.CancelJob) and c.job_id == job]
    assert cancel.delete is True
    # the worker had already uploaded, and a success reaches the status topic after the deletion
    statuses_before = await statuses.end_offsets()
    video = f"{tenant}/{job}/1/video.mp4"
    await put_object(stack, video, os.urandom(1024), "video/mp4")
    await scheduler.publish(snapshot(job, tenant, ev.JobState.SUCCEEDED, 5, artifact=artifact(key=video)))
    await eventually(lambda: stored(stack, f"{tenant}/{job}/"), lambda names: names == [])
    await eventually(lambda: tombstoned(statuses, statuses_before, job), bool)
    assert (await client.get(f"/v1/jobs/{job}")).status_code == 404


async def test_the_schedulers_snapshot_of_a_deleted_job_is_never_shown_and_is_reaped(
    ready_api: RunningApi, scheduler: StatusWriter, stack: Endpoints, probes: dict[str, TopicProbe]
) -> None:
    """Another replica deleted the job: this one knows only the scheduler's snapshot marked "deleted"."""
    client, tenant, job = ready_api.client("alice"), ready_api.tenants["alice"], ev.new_id()
    await scheduler.publish_and_wait(client, snapshot(job, tenant, ev.JobState.RUNNING, 2, progress=0.5))
    statuses = probes[JOB_STATUS.name]
    before = await statuses.end_offsets()
    gone = ev.ErrorInfo(ev.DELETED_CODE, "the job was deleted", False)
    await scheduler.publish(snapshot(job, tenant, ev.JobState.CANCELED, 4, error=gone))
    await eventually(lambda: client.get(f"/v1/jobs/{job}"), lambda r: r.status_code == 404)
    await eventually(lambda: tombstoned(statuses, before, job), bool)


async def test_a_success_written_after_another_replicas_tombstone_is_reaped_here(
    ready_api: RunningApi, scheduler: StatusWriter, stack: Endpoints, probes: dict[str, TopicProbe]
) -> None:
    """The race: another replica deleted a running job (its tombstone), but the scheduler had read the
    worker's success before the deletion's cancel, so the success lands after the tombstone. This replica
    never deleted the job: it must not show the job again, and reaps it (video gone, tombstone again)."""
    client, tenant, job = ready_api.client("alice"), ready_api.tenants["alice"], ev.new_id()
    await scheduler.publish_and_wait(client, snapshot(job, tenant, ev.JobState.RUNNING, 2, progress=0.5))
    await scheduler.publisher.tombstone(JOB_STATUS, job)  # the other replica's deletion
    await eventually(lambda: client.get(f"/v1/jobs/{job}"), lambda r: r.status_code == 404)
    statuses = probes[JOB_STATUS.name]
    before = await statuses.end_offsets()
    video = f"{tenant}/{job}/1/video.mp4"
    await put_object(stack, video, os.urandom(1024), "video/mp4")
    await scheduler.publish(snapshot(job, tenant, ev.JobState.SUCCEEDED, 5, artifact=artifact(key=video)))
    await eventually(lambda: tombstoned(statuses, before, job), bool)
    assert await stored(stack, f"{tenant}/{job}/") == []
    assert (await client.get(f"/v1/jobs/{job}")).status_code == 404


# ---- retention ------------------------------------------------------------------------------------------

# jobs that finished on a day long before any other test's, so that moving this replica's clock expires
# only them (every replica reads every tenant's jobs)
FINISHED = datetime(2000, 1, 1, tzinfo=UTC)
YEAR = timedelta(days=365)


async def test_retention_expires_the_video_then_the_job(
    stack: Endpoints, topics: None, scheduler: StatusWriter, probes: dict[str, TopicProbe]
) -> None:
    now = [FINISHED + 4 * YEAR]
    tenants = {"rita": f"rita-{uuid.uuid4().hex[:8]}"}
    async with api_with_roles(
        stack,
        tenants,
        clock=lambda: now[0],
        job_retention_seconds=(10 * YEAR).total_seconds(),
        video_retention_seconds=(5 * YEAR).total_seconds(),
        retention_sweep_interval_seconds=0.1,
    ) as api:
        client, tenant = api.client("rita"), tenants["rita"]
        finished = {"updated_at": FINISHED, "state_times": {"queued": FINISHED, "succeeded": FINISHED}}
        job, _ = await finished_job(client, scheduler, stack, tenant, **finished)
        shown = (await client.get(f"/v1/jobs/{job}")).json()
        assert shown["expires_at"] == (FINISHED + 10 * YEAR).isoformat().replace("+00:00", "Z")
        assert shown["content_expires_at"] == (FINISHED + 5 * YEAR).isoformat().replace("+00:00", "Z")
        assert (await client.get(f"/v1/jobs/{job}/content")).status_code == 302  # not due yet

        now[0] = FINISHED + 5 * YEAR + timedelta(days=1)
        await eventually(lambda: stored(stack, f"{tenant}/{job}/"), lambda names: names == [])
        expired = await client.get(f"/v1/jobs/{job}/content")
        assert (expired.status_code, expired.headers["content-type"]) == (410, "application/problem+json")
        assert (await client.get(f"/v1/jobs/{job}")).status_code == 200  # the record stays

        statuses = probes[JOB_STATUS.name]
        before = await statuses.end_offsets()
        now[0] = FINISHED + 10 * YEAR + timedelta(days=1)
        await eventually(lambda: client.get(f"/v1/jobs/{job}"), lambda r: r.status_code == 404)
        await eventually(lambda: tombstoned(statuses, before, job), bool)


def iso(when: datetime) -> str:
    return when.isoformat().replace("+00:00", "Z")


async def test_a_tenants_override_expires_its_jobs_while_another_tenant_keeps_the_default(
    stack: Endpoints, topics: None, scheduler: StatusWriter, probes: dict[str, TopicProbe]
) -> None:
    """The operator shortens one tenant's record retention to a day after its job finished: the job shows
    its new expiry at once and is swept a day + ε after it finished; another tenant's job, finished at the
    same instant, keeps the platform's 10 years."""
    now = [FINISHED + timedelta(hours=1)]
    tenants = {
        "brief": f"brief-{uuid.uuid4().hex[:8]}",
        "keeps": f"keeps-{uuid.uuid4().hex[:8]}",
        "ops": "ops",
    }
    async with api_with_roles(
        stack,
        tenants,
        admins=["ops"],
        clock=lambda: now[0],
        job_retention_seconds=(10 * YEAR).total_seconds(),
        video_retention_seconds=(5 * YEAR).total_seconds(),
        retention_sweep_interval_seconds=0.1,
    ) as api:
        finished = {"updated_at": FINISHED, "state_times": {"queued": FINISHED, "succeeded": FINISHED}}
        jobs = {
            who: (await finished_job(api.client(who), scheduler, stack, tenants[who], **finished))[0]
            for who in ("brief", "keeps")
        }
        brief, keeps = api.client("brief"), api.client("keeps")
        assert (await brief.get(f"/v1/jobs/{jobs['brief']}")).json()["expires_at"] == iso(
            FINISHED + 10 * YEAR
        )

        path = f"/v1/admin/tenants/{tenants['brief']}/retention"
        assert (await api.client("keeps").put(path, json={"retention_days": 1})).status_code == 403
        changed = await api.client("ops").put(path, json={"retention_days": 1})
        assert (changed.status_code, changed.json()["retention_days"]) == (200, 1), changed.text
        shown = (await brief.get(f"/v1/jobs/{jobs['brief']}")).json()  # the job it already had follows
        assert (shown["expires_at"], shown["content_expires_at"]) == (iso(FINISHED + timedelta(days=1)),) * 2
        kept = (await keeps.get(f"/v1/jobs/{jobs['keeps']}")).json()
        assert kept["expires_at"] == iso(FINISHED + 10 * YEAR)

        statuses = probes[JOB_STATUS.name]
        before = await statuses.end_offsets()
        now[0] = FINISHED + timedelta(days=1, milliseconds=1)
        await eventually(lambda: brief.get(f"/v1/jobs/{jobs['brief']}"), lambda r: r.status_code == 404)
        await eventually(lambda: tombstoned(statuses, before, jobs["brief"]), bool)
        assert await stored(stack, f"{tenants['brief']}/{jobs['brief']}/") == []
        # the sweep that deleted it had taken every due job first: the other tenant's was not among them
        assert (await keeps.get(f"/v1/jobs/{jobs['keeps']}")).status_code == 200
        assert (await keeps.get(f"/v1/jobs/{jobs['keeps']}/content")).status_code == 302
        assert len(await stored(stack, f"{tenants['keeps']}/{jobs['keeps']}/")) == 2


async def test_the_stacks_bucket_expires_objects_a_day_past_the_video_retention(stack: Endpoints) -> None:
    """The second line: the store itself expires what every sweep missed (devstack sets the rule)."""
    config = await asyncio.to_thread(minio_client(stack).get_bucket_lifecycle, stack.s3_bucket)
    assert config is not None
    [rule] = config.rules
    assert rule.rule_id == LIFECYCLE_RULE
    assert rule.expiration is not None
    assert rule.expiration.days == lifecycle_days(7 * 86400) == 8
