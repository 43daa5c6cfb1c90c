"""The one object-store (S3 / MinIO) client: the worker puts artifacts, ingest signs download URLs.

Every call that may reach the server is blocking in the MinIO SDK: `upload` is meant for a worker thread,
`presigned_get` runs itself in one. The SDK's and urllib3's exceptions become ObjectStoreError here, so
nothing above this module knows which client library stores the objects.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import IO, Protocol, cast
from urllib.parse import urlsplit

import urllib3
from minio import Minio
from minio.deleteobjects import DeleteObject
from minio.error import MinioException, S3Error

from reelstream.errors import ReelstreamError

SHA256_METADATA = "x-amz-meta-sha256"
CONNECT_TIMEOUT_SECONDS = 5
READ_TIMEOUT_SECONDS = 60
HTTP_RETRIES = 2
_FAILURES = (MinioException, urllib3.exceptions.HTTPError, OSError)
_ABSENT = ("NoSuchKey", "NoSuchObject")


class ObjectStoreError(ReelstreamError):
    """The object store refused, lost or could not be reached for a request; retrying may succeed."""

    code = "storage_unavailable"
    retriable = True


class S3Endpoint(Protocol):
    """Where the object store is and how to sign in (the settings' or the local stack's endpoints)."""

    @property
    def s3_endpoint(self) -> str: ...
    @property
    def s3_access_key(self) -> str: ...
    @property
    def s3_secret_key(self) -> str: ...


def minio_client(endpoints: S3Endpoint) -> Minio:
    """A client for `endpoints.s3_endpoint` (`http://host:port`, or https), with bounded timeouts."""
    endpoint = endpoints.s3_endpoint
    parts = urlsplit(endpoint if "://" in endpoint else f"//{endpoint}")
    http = urllib3.PoolManager(
        timeout=urllib3.Timeout(connect=CONNECT_TIMEOUT_SECONDS, read=READ_TIMEOUT_SECONDS),
        retries=urllib3.Retry(total=HTTP_RETRIES),
    )
    return Minio(
        parts.netloc,
        access_key=endpoints.s3_access_key,
        secret_key=endpoints.s3_secret_key,
        secure=parts.scheme == "https",
        http_client=http,
    )


@dataclass
class ObjectStore:
    """One bucket of the object store."""

    client: Minio
    bucket: str

    def upload(self, path: Path, key: str, sha256: str, content_type: str = "video/mp4") -> int:
        """Upload and verify size and checksum metadata of the stored object; blocking (run in a thread).
        Returns the stored size."""
        size = path.stat().st_size
        try:
            self.client.fput_object(
                self.bucket, key, str(path), content_type=content_type, metadata={SHA256_METADATA: sha256}
            )
            stored = self.client.stat_object(self.bucket, key)
        except _FAILURES as exc:
            raise ObjectStoreError(f"upload of {key} failed: {exc!r}") from exc
        stored_sha = (stored.metadata or {}).get(SHA256_METADATA)
        if stored.size != size or stored_sha != sha256:
            raise ObjectStoreError(
                f"stored object {key} does not match the upload (size {stored.size} vs {size})"
            )
        return size

    async def presigned_get(self, key: str, expires: timedelta, attachment: str | None = None) -> str:
        """A time-limited GET URL for `key`; with `attachment` (a file name) the store answers it as a
        download of that name. Signing is local once the bucket's region is known; the first call may ask
        the server for it, so it runs in a worker thread."""
        headers: dict[str, str | list[str] | tuple[str]] | None = None
        if attachment:
            headers = {"response-content-disposition": f'attachment; filename="{attachment}"'}
        try:
            return await asyncio.to_thread(
                self.client.presigned_get_object, self.bucket, key, expires, response_headers=headers
            )
        except _FAILURES as exc:
            raise ObjectStoreError(f"could not sign a URL in bucket {self.bucket}: {exc!r}") from exc

    def modified_at(self, key: str) -> datetime | None:
        """When `key` was last written; None if there is no such object. Blocking."""
        try:
            return self.client.stat_object(self.bucket, key).last_modified
        except S3Error as exc:
            if exc.code in _ABSENT:
                return None
            raise ObjectStoreError(f"stat of {key} failed: {exc.code}") from exc
        except _FAILURES as exc:
            raise ObjectStoreError(f"stat of {key} failed: {exc!r}") from exc

    @contextlib.contextmanager
    def reading(self, key: str) -> Iterator[IO[bytes] | None]:
        """The object's bytes as a stream (read in a worker thread); None if there is no such object. A
        failure while reading surfaces as the stream's own error (urllib3's, an OSError)."""
        try:
            response = self.client.get_object(self.bucket, key)
        except S3Error as exc:
            if exc.code not in _ABSENT:
                raise ObjectStoreError(f"get of {key} failed: {exc.code}") from exc
            yield None
            return
        except _FAILURES as exc:
            raise ObjectStoreError(f"get of {key} failed: {exc!r}") from exc
        try:
            yield cast(IO[bytes], response)
        finally:
            response.close()
            response.release_conn()

    def remove(self, keys: list[str]) -> None:
        """Delete these objects, by name (no service may list the bucket); blocking (run in a thread). A key
        with no object is fine (idempotent)."""
        try:
            errors = list(self.client.remove_objects(self.bucket, (DeleteObject(k) for k in keys)))
        except _FAILURES as exc:
            raise ObjectStoreError(
                f"deleting {len(keys)} objects in bucket {self.bucket} failed: {exc!r}"
            ) from exc
        if errors:
            raise ObjectStoreError(f"deleting {len(keys)} objects failed for {len(errors)}: {errors[0]!r}")


def video_key(tenant_id: str, job_id: str, attempt: int) -> str:
    """Where an attempt's video goes: `tenant/job/attempt/video.mp4`."""
    return f"{tenant_id}/{job_id}/{attempt}/video.mp4"


def poster_key_for(video_key: str) -> str:
    """`t/job/1/video.mp4` → `t/job/1/poster.jpg`: the poster sits beside its video."""
    folder, _, _ = video_key.rpartition("/")
    return f"{folder}/poster.jpg" if folder else "poster.jpg"
