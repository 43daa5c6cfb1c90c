"""Object storage least privilege on a real MinIO: the users and policies devstack.storage_users makes (the
chart's Job makes the same from the same documents), each credential refused what it must not do and
allowed what its service needs."""

from __future__ import annotations

import io
import uuid
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import httpx
import pytest
from minio import Minio
from minio.error import S3Error

from devstack.manager import ensure_bucket
from devstack.storage_users import ServiceCredentials, provision
from reelstream.endpoints import Endpoints
from reelstream.object_store import minio_client
from reelstream.state_snapshot import SNAPSHOT_PREFIX

RUN = uuid.uuid4().hex[:8]


@pytest.fixture(scope="module")
def users(stack: Endpoints) -> dict[str, ServiceCredentials]:
    ensure_bucket(stack)
    return provision(stack, prefix=f"t-{RUN}")


@pytest.fixture(scope="module")
def other_bucket(stack: Endpoints) -> str:
    """A second bucket, outside what any service may write to."""
    root, name = minio_client(stack), f"other-{RUN}"
    root.make_bucket(name)
    return name


def _client(stack: Endpoints, credentials: ServiceCredentials) -> Minio:
    return minio_client(
        Endpoints(
            stack.kafka_bootstrap,
            stack.schema_registry_url,
            stack.s3_endpoint,
            credentials.access_key,
            credentials.secret_key,
            stack.s3_bucket,
        )
    )


def _put(client: Minio, bucket: str, key: str) -> Any:
    return client.put_object(bucket, key, io.BytesIO(b"mp4"), 3)


def _refused(call: Callable[[], Any]) -> None:
    with pytest.raises(S3Error) as caught:
        call()
    assert caught.value.code == "AccessDenied", caught.value.code


def test_the_worker_puts_artifacts_and_nothing_else(
    stack: Endpoints, users: dict[str, ServiceCredentials], other_bucket: str
) -> None:
    worker, bucket = _client(stack, users["worker"]), stack.s3_bucket
    key = f"tenant-{RUN}/job/1/video.mp4"
    _put(worker, bucket, key)
    assert worker.stat_object(bucket, key).size == 3  # it verifies what it uploaded
    _refused(lambda: list(worker.list_objects(bucket)))
    _refused(lambda: worker.remove_object(bucket, key))
    _refused(lambda: _put(worker, other_bucket, key))  # outside the artifact bucket
    _refused(lambda: worker.make_bucket(f"made-{RUN}"))


def test_ingest_reads_through_presigned_urls_and_deletes_but_never_writes_or_lists(
    stack: Endpoints, users: dict[str, ServiceCredentials]
) -> None:
    worker, ingest, bucket = _client(stack, users["worker"]), _client(stack, users["ingest"]), stack.s3_bucket
    key = f"tenant-{RUN}/job/2/video.mp4"
    _put(worker, bucket, key)
    url = ingest.presigned_get_object(bucket, key, timedelta(minutes=1))
    assert httpx.get(url, timeout=10).content == b"mp4"
    _refused(lambda: _put(ingest, bucket, f"tenant-{RUN}/forged.mp4"))
    _refused(lambda: _put(ingest, bucket, f"_state/other-{RUN}"))  # its snapshots' prefix only
    _refused(lambda: list(ingest.list_objects(bucket)))
    ingest.remove_object(bucket, key)
    assert httpx.get(url, timeout=10).status_code == 404


def test_the_stream_services_credential_can_do_nothing(
    stack: Endpoints, users: dict[str, ServiceCredentials]
) -> None:
    worker, streams, bucket = (
        _client(stack, users["worker"]),
        _client(stack, users["streams"]),
        stack.s3_bucket,
    )
    key = f"tenant-{RUN}/job/3/video.mp4"
    _put(worker, bucket, key)
    _refused(lambda: streams.stat_object(bucket, key))
    _refused(lambda: _put(streams, bucket, key))
    _refused(lambda: list(streams.list_objects(bucket)))
    _refused(lambda: streams.remove_object(bucket, key))


def test_only_ingest_writes_and_reads_the_local_store_snapshots(
    stack: Endpoints, users: dict[str, ServiceCredentials]
) -> None:
    ingest, worker, bucket = _client(stack, users["ingest"]), _client(stack, users["worker"]), stack.s3_bucket
    key = f"{SNAPSHOT_PREFIX}test-{RUN}.tar"
    _put(ingest, bucket, key)
    assert ingest.stat_object(bucket, key).size == 3  # ObjectStore.upload verifies what it put
    assert ingest.get_object(bucket, key).read() == b"mp4"
    _refused(lambda: _put(worker, bucket, key))
    _refused(lambda: worker.stat_object(bucket, key))
    _refused(lambda: _put(worker, bucket, f"_state/other-{RUN}"))
