"""Artifact storage on S3 / MinIO: upload, then check the object is really there before reporting success."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import urllib3
from minio import Minio
from minio.error import MinioException

from reelstream.endpoints import Endpoints
from reelstream.errors import ReelstreamError


class StorageError(ReelstreamError):
    """The object store refused or lost an upload; retrying may succeed."""

    code = "storage_unavailable"
    retriable = True


def minio_client(endpoints: Endpoints) -> Minio:
    secure = endpoints.s3_endpoint.startswith("https://")
    host = endpoints.s3_endpoint.split("://", 1)[-1].rstrip("/")
    http = urllib3.PoolManager(timeout=urllib3.Timeout(connect=5, read=60), retries=urllib3.Retry(total=2))
    return Minio(
        host,
        access_key=endpoints.s3_access_key,
        secret_key=endpoints.s3_secret_key,
        secure=secure,
        http_client=http,
    )


@dataclass
class ArtifactStore:
    client: Minio
    bucket: str

    def upload(self, path: Path, key: str, sha256: str, content_type: str = "video/mp4") -> int:
        """Upload and verify size and checksum metadata of the stored object; blocking (run in a thread)."""
        size = path.stat().st_size
        try:
            self.client.fput_object(
                self.bucket, key, str(path), content_type=content_type, metadata={"x-amz-meta-sha256": sha256}
            )
            stored = self.client.stat_object(self.bucket, key)
        except (MinioException, urllib3.exceptions.HTTPError, OSError) as exc:
            raise StorageError(f"upload of {key} failed: {exc!r}") from exc
        stored_sha = (stored.metadata or {}).get("x-amz-meta-sha256")
        if stored.size != size or stored_sha != sha256:
            raise StorageError(
                f"stored object {key} does not match the upload (size {stored.size} vs {size})"
            )
        return size
