"""Snapshots of the local store (reelstream.state_snapshot): the format round-trips a store with its views'
offsets; a corrupt, truncated or foreign snapshot is refused and leaves the directory empty; `restore` never
raises for the snapshot's sake; replicas publish about once per interval."""

from __future__ import annotations

import contextlib
import io
import tarfile
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import IO

import pytest

from reelstream.local_store import LocalStore
from reelstream.object_store import ObjectStoreError
from reelstream.state_snapshot import (
    MANIFEST,
    SNAPSHOT_KEY,
    SnapshotError,
    Snapshotter,
    pack,
    publish,
    restore,
    unpack,
)


class MemoryObjects:
    """The object store's calls a snapshot makes, in memory."""

    def __init__(self) -> None:
        self.objects: dict[str, tuple[bytes, datetime]] = {}
        self.fail = False

    def upload(self, path: Path, key: str, sha256: str, content_type: str = "video/mp4") -> int:
        self.objects[key] = (path.read_bytes(), datetime.now(UTC))
        return path.stat().st_size

    def modified_at(self, key: str) -> datetime | None:
        return self.objects[key][1] if key in self.objects else None

    @contextlib.contextmanager
    def reading(self, key: str) -> Iterator[IO[bytes] | None]:
        if self.fail:
            raise ObjectStoreError("unreachable")
        yield io.BytesIO(self.objects[key][0]) if key in self.objects else None


def filled(path: Path, jobs: int = 300) -> LocalStore:
    store = LocalStore(str(path)).open()
    for name, partitions in ((b"status", 3), (b"idempotency", 1)):
        batch = store.namespace(name).batch()
        for n in range(jobs):
            batch.put(b"j%05d" % n, b"record %d " % n * 20)
        batch.commit({p: jobs + p for p in range(partitions)}, at_micros=1_000)
    return store


def contents(store: LocalStore) -> dict[bytes, bytes]:
    return {bytes(k): bytes(v) for k, v in store.db.items()}


def test_a_snapshot_restores_every_view_with_its_offsets(tmp_path: Path) -> None:
    source = filled(tmp_path / "a")
    objects = MemoryObjects()
    size = publish(source, objects, tmp_path)
    assert size == len(objects.objects[SNAPSHOT_KEY][0]) > 0
    outcome: list[str] = []
    seed = lambda path: outcome.append(restore(objects, path).result)  # noqa: E731
    restored = LocalStore(str(tmp_path / "b")).open(seed)
    try:
        assert outcome == ["restored"]
        assert contents(restored) == contents(source)
        assert restored.namespace(b"status").checkpoint() == ({0: 300, 1: 301, 2: 302}, 1_000)
        assert restored.namespace(b"idempotency").checkpoint() == ({0: 300}, 1_000)
    finally:
        source.close()
        restored.close()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no scratch left behind


def test_a_directory_with_a_database_is_not_seeded(tmp_path: Path) -> None:
    filled(tmp_path / "a").close()
    seeded: list[Path] = []
    LocalStore(str(tmp_path / "a")).open(seeded.append).close()
    assert seeded == []


def archive_of(tmp_path: Path) -> bytes:
    store = filled(tmp_path / "src")
    try:
        pack(store, tmp_path / "s.tar")
    finally:
        store.close()
    return (tmp_path / "s.tar").read_bytes()


def flipped(data: bytes, at: int) -> bytes:
    return data[:at] + bytes([data[at] ^ 0xFF]) + data[at + 1 :]


def test_a_corrupt_file_is_refused_and_nothing_is_left(tmp_path: Path) -> None:
    data = archive_of(tmp_path)
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        biggest = max(tar.getmembers(), key=lambda m: m.size)
    target = tmp_path / "t"
    target.mkdir()
    with pytest.raises(SnapshotError, match="checksum"):
        unpack(io.BytesIO(flipped(data, biggest.offset_data + biggest.size // 2)), target)
    assert list(target.iterdir()) == []


@pytest.mark.parametrize("cut", [0.3, 0.9])
def test_a_truncated_snapshot_is_refused(tmp_path: Path, cut: float) -> None:
    data = archive_of(tmp_path)
    target = tmp_path / "t"
    target.mkdir()
    with pytest.raises(SnapshotError):
        unpack(io.BytesIO(data[: int(len(data) * cut)]), target)
    assert list(target.iterdir()) == []


def test_a_snapshot_of_another_format_or_without_a_manifest_is_refused(tmp_path: Path) -> None:
    target = tmp_path / "t"
    target.mkdir()
    for name, body in ((MANIFEST, b'{"format": 2, "created_at": 0, "files": []}'), ("CURRENT", b"x")):
        buffer = io.BytesIO()
        with tarfile.open(fileobj=buffer, mode="w") as tar:
            info = tarfile.TarInfo(name)
            info.size = len(body)
            tar.addfile(info, io.BytesIO(body))
        with pytest.raises(SnapshotError):
            unpack(io.BytesIO(buffer.getvalue()), target)
    escaping = b'{"format": 1, "created_at": 0, "files": [{"name": "../x", "size": 1, "sha256": ""}]}'
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        info = tarfile.TarInfo(MANIFEST)
        info.size = len(escaping)
        tar.addfile(info, io.BytesIO(escaping))
    with pytest.raises(SnapshotError, match="plain name"):
        unpack(io.BytesIO(buffer.getvalue()), target)


def test_restore_falls_back_to_an_empty_directory(tmp_path: Path) -> None:
    objects, target = MemoryObjects(), tmp_path / "t"
    target.mkdir()
    assert restore(objects, target).result == "absent"
    objects.objects[SNAPSHOT_KEY] = (flipped(archive_of(tmp_path), 5000), datetime.now(UTC))
    assert restore(objects, target).result == "invalid"
    assert list(target.iterdir()) == []
    objects.fail = True
    assert restore(objects, target).result == "unavailable"
    store = LocalStore(str(target)).open()  # what the views then replay into
    try:
        assert store.namespace(b"status").checkpoint() == ({}, None)
    finally:
        store.close()


def test_replicas_publish_about_once_per_interval(tmp_path: Path) -> None:
    store, objects = filled(tmp_path / "a"), MemoryObjects()
    ready = [False]
    try:
        first = Snapshotter(store, objects, tmp_path, 600, lambda: ready[0])
        second = Snapshotter(store, objects, tmp_path, 600, lambda: True)
        assert first.publish_if_due() is None  # its views have not caught up
        assert second.publish_if_due() is not None
        ready[0] = True
        assert first.publish_if_due() is None  # the other replica's is fresh
        assert first.due(datetime.now(UTC) + timedelta(seconds=600))
    finally:
        store.close()


def test_a_seeded_directory_that_does_not_open_starts_empty(tmp_path: Path) -> None:
    def seed(path: Path) -> None:
        (path / "CURRENT").write_text("MANIFEST-999999\n")  # names a manifest that is not there

    store = LocalStore(str(tmp_path / "s")).open(seed)
    try:
        assert store.namespace(b"status").checkpoint() == ({}, None)
    finally:
        store.close()
