"""Cancel produces a CancelJob unless the job is finished; content redirects to a signed MinIO URL."""

from __future__ import annotations

import asyncio
import io
import os
from urllib.parse import parse_qs, urlsplit

import httpx
from minio import Minio

from reelstream.endpoints import Endpoints
from schemas.events import CancelJob, JobState, new_id
from schemas.serde import AvroSerde
from schemas.topics import COMMANDS
from tests.integration.ingest.support import RunningApi, StatusWriter, TopicProbe, snapshot
from tests.samples import artifact


async def test_cancel_puts_a_cancel_command_on_the_broker(
    ready_api: RunningApi, scheduler: StatusWriter, commands_probe: TopicProbe, serde: AvroSerde
) -> None:
    client, tenant, job = ready_api.client("alice"), ready_api.tenants["alice"], new_id()
    await scheduler.publish_and_wait(client, snapshot(job, tenant, JobState.QUEUED, 1))
    before = await commands_probe.end_offsets()

    response = await client.post(f"/v1/jobs/{job}/cancel", json={"reason": "changed my mind"})

    assert response.status_code == 202
    assert (response.json()["id"], response.json()["status"]) == (job, "queued")
    records = await commands_probe.records_since(before, key=tenant.encode())
    commands = [await serde.deserialize(COMMANDS, bytes(r.value)) for r in records]
    [cancel] = [c for c in commands if isinstance(c, CancelJob) and c.job_id == job]
    assert (cancel.tenant_id, cancel.reason) == (tenant, "changed my mind")


async def test_cancel_of_a_finished_job_is_a_conflict_and_produces_nothing(
    ready_api: RunningApi, scheduler: StatusWriter, commands_probe: TopicProbe
) -> None:
    client, tenant, job = ready_api.client("alice"), ready_api.tenants["alice"], new_id()
    await scheduler.publish_and_wait(client, snapshot(job, tenant, JobState.SUCCEEDED, 3))
    before = await commands_probe.end_offsets()

    response = await client.post(f"/v1/jobs/{job}/cancel")

    assert response.status_code == 409
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["instance"] == f"/v1/jobs/{job}/cancel"
    records = await commands_probe.records_since(before, key=tenant.encode())
    assert records == []


async def test_content_redirects_to_a_short_lived_url_that_serves_the_video(
    ready_api: RunningApi, scheduler: StatusWriter, stack: Endpoints
) -> None:
    client, tenant, job = ready_api.client("alice"), ready_api.tenants["alice"], new_id()
    key, video = f"{tenant}/{job}/1/video.mp4", os.urandom(4096)
    await put_object(stack, key, video, "video/mp4")
    done = snapshot(job, tenant, JobState.SUCCEEDED, 3, artifact=artifact(key=key, bytes=len(video)))
    await scheduler.publish_and_wait(client, done)

    response = await client.get(f"/v1/jobs/{job}/content")

    assert response.status_code == 302
    assert response.headers["cache-control"] == "no-store"
    location = response.headers["location"]
    expires = int(parse_qs(urlsplit(location).query)["X-Amz-Expires"][0])
    assert 0 < expires <= ready_api.settings.presign_ttl_seconds <= 15 * 60
    async with httpx.AsyncClient() as plain:  # no API key: the signature is the only credential
        downloaded = await plain.get(location)
    assert downloaded.status_code == 200
    assert downloaded.content == video
    async with httpx.AsyncClient() as plain:  # and the URL is bound to that object
        other = await plain.get(location.replace(job, new_id()))
    assert other.status_code == 403


async def test_the_poster_variant_redirects_to_the_poster(
    ready_api: RunningApi, scheduler: StatusWriter, stack: Endpoints
) -> None:
    client, tenant, job = ready_api.client("alice"), ready_api.tenants["alice"], new_id()
    key, poster = f"{tenant}/{job}/1/poster.jpg", os.urandom(512)
    await put_object(stack, key, poster, "image/jpeg")
    done = snapshot(job, tenant, JobState.SUCCEEDED, 3, artifact=artifact(poster_key=key))
    await scheduler.publish_and_wait(client, done)

    response = await client.get(f"/v1/jobs/{job}/content", params={"variant": "poster"})
    unknown = await client.get(f"/v1/jobs/{job}/content", params={"variant": "thumbnail"})

    assert response.status_code == 302
    async with httpx.AsyncClient() as plain:
        downloaded = await plain.get(response.headers["location"])
    assert (downloaded.status_code, downloaded.content) == (200, poster)
    assert unknown.status_code == 422
    assert unknown.json()["errors"][0]["field"] == "variant"


async def test_a_browser_gets_the_signed_url_as_json_and_a_download_as_an_attachment(
    ready_api: RunningApi, scheduler: StatusWriter, stack: Endpoints
) -> None:
    client, tenant, job = ready_api.client("alice"), ready_api.tenants["alice"], new_id()
    key, video = f"{tenant}/{job}/1/video.mp4", os.urandom(2048)
    await put_object(stack, key, video, "video/mp4")
    done = snapshot(job, tenant, JobState.SUCCEEDED, 3, artifact=artifact(key=key, bytes=len(video)))
    await scheduler.publish_and_wait(client, done)
    as_json = {"Accept": "application/json"}

    played = await client.get(f"/v1/jobs/{job}/content", headers=as_json)
    saved = await client.get(f"/v1/jobs/{job}/content", params={"disposition": "attachment"}, headers=as_json)
    wrong = await client.get(f"/v1/jobs/{job}/content", params={"disposition": "later"})

    assert (played.status_code, played.headers["cache-control"]) == (200, "no-store")
    assert played.json()["expires_in"] == ready_api.settings.presign_ttl_seconds
    async with httpx.AsyncClient() as plain:
        inline = await plain.get(played.json()["url"])
        attachment = await plain.get(saved.json()["url"])
    assert (inline.content, "content-disposition" in inline.headers) == (video, False)
    assert attachment.content == video
    assert attachment.headers["content-disposition"] == f'attachment; filename="{job}.mp4"'
    assert wrong.status_code == 422
    assert wrong.json()["errors"][0]["field"] == "disposition"


async def test_content_of_an_unfinished_job_is_a_conflict(
    ready_api: RunningApi, scheduler: StatusWriter
) -> None:
    client, tenant, job = ready_api.client("alice"), ready_api.tenants["alice"], new_id()
    await scheduler.publish_and_wait(client, snapshot(job, tenant, JobState.RUNNING, 2, progress=0.5))
    response = await client.get(f"/v1/jobs/{job}/content")
    assert response.status_code == 409
    assert response.headers["content-type"] == "application/problem+json"
    assert "running" in response.json()["detail"]


async def put_object(stack: Endpoints, key: str, data: bytes, content_type: str) -> None:
    """Store an object the way a worker does, straight in MinIO."""
    minio = Minio(
        urlsplit(stack.s3_endpoint).netloc,
        access_key=stack.s3_access_key,
        secret_key=stack.s3_secret_key,
        secure=False,
    )
    await asyncio.to_thread(
        minio.put_object, stack.s3_bucket, key, io.BytesIO(data), len(data), content_type=content_type
    )
