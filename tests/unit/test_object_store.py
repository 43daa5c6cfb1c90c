"""The one object-store client: endpoints parsed once, and failures that say the store is unavailable."""

from __future__ import annotations

import socket
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from reelstream.object_store import ObjectStore, ObjectStoreError, minio_client


@dataclass(frozen=True)
class S3:
    s3_endpoint: str
    s3_access_key: str = "access"
    s3_secret_key: str = "secret"


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.parametrize(
    ("endpoint", "host", "secure"),
    [
        ("http://127.0.0.1:9000", "127.0.0.1:9000", False),
        ("https://s3.example.test/", "s3.example.test", True),
        ("127.0.0.1:9000", "127.0.0.1:9000", False),
    ],
)
def test_the_endpoint_gives_host_and_scheme(endpoint: str, host: str, secure: bool) -> None:
    client = minio_client(S3(endpoint))
    assert client._base_url.host == host  # the SDK exposes no public accessor
    assert client._base_url.is_https is secure


async def test_signing_with_a_known_region_needs_no_server_and_names_the_key() -> None:
    client = minio_client(S3(f"http://127.0.0.1:{closed_port()}"))
    client._region_map["bucket"] = "us-east-1"  # what the first call would have asked the server for
    url = await ObjectStore(client, "bucket").presigned_get("tenant/job/1/video.mp4", timedelta(minutes=5))
    assert "/bucket/tenant/job/1/video.mp4?" in url
    assert "X-Amz-Expires=300" in url


async def test_a_download_url_asks_the_store_to_answer_it_as_an_attachment() -> None:
    client = minio_client(S3(f"http://127.0.0.1:{closed_port()}"))
    client._region_map["bucket"] = "us-east-1"
    store = ObjectStore(client, "bucket")
    url = await store.presigned_get("t/j/1/video.mp4", timedelta(minutes=5), attachment="j.mp4")
    disposition = parse_qs(urlsplit(url).query)["response-content-disposition"]
    assert disposition == ['attachment; filename="j.mp4"']
    plain = await store.presigned_get("t/j/1/video.mp4", timedelta(minutes=5))
    assert "response-content-disposition" not in plain


async def test_an_unreachable_store_is_a_retriable_storage_error(tmp_path: Path) -> None:
    store = ObjectStore(minio_client(S3(f"http://127.0.0.1:{closed_port()}")), "nowhere")
    video = tmp_path / "video.mp4"
    video.write_bytes(b"\0" * 16)
    with pytest.raises(ObjectStoreError) as upload:
        store.upload(video, "k", "sha")
    with pytest.raises(ObjectStoreError) as presign:
        await store.presigned_get("k", timedelta(minutes=1))
    for failure in (upload.value, presign.value):
        assert (failure.code, failure.retriable) == ("storage_unavailable", True)
