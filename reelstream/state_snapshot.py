"""Snapshots of the local store in object storage: how a replica with an empty disk starts from a peer's
state instead of replaying every topic (issue #23's scale-out; docs/architecture.md, "Scale-out from a
snapshot").

A snapshot is one object, `SNAPSHOT_KEY`, written only by ingest (its storage policy allows writes under
`_state/ingest/` and nowhere else; a tenant id never starts with `_`, so no artifact can collide). It is an
uncompressed tar of a RocksDB checkpoint of the whole store (`LocalStore.checkpoint`: every view's data with
the offsets it was committed with, consistent across views), led by a manifest naming each file with its
size and SHA-256. One object, put in one request, so a reader sees a whole snapshot or the previous one.

A new replica restores it into its empty state directory before opening the store (`restore`), and each view
resumes from the offsets inside, reading only the tail. A missing snapshot, a corrupt one (a file that does
not match the manifest, a truncated stream, an unknown format) or one that cannot be opened leaves the
directory empty: the views replay from the beginning. A stale one is the views' own rule
(`reelstream.kafka.stored_view`: a checkpoint older than the max age, or past the topic's end, is discarded
and that topic replayed).

Every replica publishes (`Snapshotter`) on the same name, each at most once per interval and only when another
replica did not publish within it: about one upload per interval for the whole deployment.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import io
import json
import logging
import shutil
import tarfile
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any, Protocol

from reelstream.errors import ReelstreamError
from reelstream.local_store import LocalStore

logger = logging.getLogger(__name__)

FORMAT = 1
MANIFEST = "reelstream-snapshot.json"
SNAPSHOT_KEY = "_state/ingest/store.tar"
SNAPSHOT_PREFIX = "_state/ingest/"
_CHUNK = 1 << 20


class SnapshotError(ReelstreamError):
    """A snapshot that cannot be restored (corrupt, truncated, of another format)."""

    code = "snapshot_invalid"
    retriable = False


class SnapshotObjects(Protocol):
    """Where snapshots are kept (`reelstream.object_store.ObjectStore`); every call blocking."""

    def upload(self, path: Path, key: str, sha256: str, content_type: str = ...) -> int: ...
    def modified_at(self, key: str) -> datetime | None: ...
    def reading(self, key: str) -> contextlib.AbstractContextManager[IO[bytes] | None]: ...


@dataclass(frozen=True)
class Manifest:
    created_at: float  # seconds since the epoch
    files: tuple[tuple[str, int, str], ...]  # name, size, sha256

    def encode(self) -> bytes:
        files = [{"name": n, "size": s, "sha256": h} for n, s, h in self.files]
        return json.dumps({"format": FORMAT, "created_at": self.created_at, "files": files}).encode()

    @classmethod
    def decode(cls, raw: bytes) -> Manifest:
        try:
            data = json.loads(raw)
            if data["format"] != FORMAT:
                raise SnapshotError(f"snapshot format {data['format']!r}, not {FORMAT}")
            files = tuple((str(f["name"]), int(f["size"]), str(f["sha256"])) for f in data["files"])
            created = float(data["created_at"])
        except (ValueError, KeyError, TypeError) as exc:
            raise SnapshotError(f"unreadable snapshot manifest: {exc!r}"[:300]) from exc
        if any("/" in name or name in ("", ".", "..") for name, _, _ in files):
            raise SnapshotError("a snapshot file name is not a plain name")
        return cls(created, files)


def _digest(path: Path) -> tuple[int, str]:
    sha, size = hashlib.sha256(), 0
    with path.open("rb") as source:
        while chunk := source.read(_CHUNK):
            sha.update(chunk)
            size += len(chunk)
    return size, sha.hexdigest()


def pack(store: LocalStore, archive: Path) -> Manifest:
    """Write a snapshot of `store` to `archive` (a tar: the manifest, then the checkpoint's files).
    Blocking."""
    with tempfile.TemporaryDirectory(prefix=".checkpoint-", dir=archive.parent) as scratch:
        checkpoint = Path(scratch) / "db"
        store.checkpoint(checkpoint)
        names = sorted(p.name for p in checkpoint.iterdir() if p.is_file())
        manifest = Manifest(time.time(), tuple((n, *_digest(checkpoint / n)) for n in names))
        with tarfile.open(archive, "w", format=tarfile.PAX_FORMAT) as tar:
            head = manifest.encode()
            info = tarfile.TarInfo(MANIFEST)
            info.size = len(head)
            tar.addfile(info, io.BytesIO(head))
            for name in names:
                tar.add(checkpoint / name, arcname=name, recursive=False)
    return manifest


def unpack(stream: IO[bytes], target: Path) -> Manifest:
    """Extract a snapshot read from `stream` into the empty directory `target`, checking every file against
    the manifest as it streams by. Raises SnapshotError, leaving `target` empty. Blocking."""
    try:
        return _unpack(stream, target)
    except (tarfile.TarError, OSError, EOFError) as exc:
        _empty(target)
        raise SnapshotError(f"unreadable snapshot: {exc!r}"[:300]) from exc
    except SnapshotError:
        _empty(target)
        raise


def _unpack(stream: IO[bytes], target: Path) -> Manifest:
    with tarfile.open(fileobj=stream, mode="r|") as tar:
        members = iter(tar)
        head = next(members, None)
        if head is None or head.name != MANIFEST or not head.isfile():
            raise SnapshotError("a snapshot starts with its manifest")
        manifest = Manifest.decode(_read(tar, head))
        expected = iter(manifest.files)
        for member in members:
            name, size, sha256 = next(expected, ("", 0, ""))
            if member.name != name or not member.isfile() or member.size != size:
                raise SnapshotError(f"snapshot member {member.name!r} is not the manifest's next file")
            if _copy(tar, member, target / name) != sha256:
                raise SnapshotError(f"snapshot file {name} does not match its checksum")
        if next(expected, None) is not None:
            raise SnapshotError("a snapshot ends before the manifest's last file")
    return manifest


def _read(tar: tarfile.TarFile, member: tarfile.TarInfo) -> bytes:
    source = tar.extractfile(member)
    if source is None:
        raise SnapshotError(f"snapshot member {member.name!r} is not a file")
    return source.read()


def _copy(tar: tarfile.TarFile, member: tarfile.TarInfo, path: Path) -> str:
    source, sha = tar.extractfile(member), hashlib.sha256()
    if source is None:
        raise SnapshotError(f"snapshot member {member.name!r} is not a file")
    with path.open("wb") as sink:
        while chunk := source.read(_CHUNK):
            sha.update(chunk)
            sink.write(chunk)
    return sha.hexdigest()


def _empty(directory: Path) -> None:
    for path in directory.iterdir():
        if path.is_dir():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)


@dataclass
class RestoreOutcome:
    """What `restore` found: `restored` (with the snapshot's age), `absent`, `invalid` or `unavailable`."""

    result: str = "absent"
    age_seconds: float | None = None
    bytes_read: int = 0


class _Counting(io.RawIOBase):
    def __init__(self, inner: IO[bytes]) -> None:
        self.inner, self.count = inner, 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        data = self.inner.read(len(buffer))
        buffer[: len(data)] = data
        self.count += len(data)
        return len(data)


def restore(objects: SnapshotObjects, target: Path, key: str = SNAPSHOT_KEY) -> RestoreOutcome:
    """Fill the empty state directory `target` from the newest snapshot, if there is a sound one; otherwise
    leave it empty (the views replay). Never raises for the snapshot's sake. Blocking."""
    outcome = RestoreOutcome()
    try:
        with objects.reading(key) as stream:
            if stream is None:
                logger.info("no state snapshot at %s: the views replay their topics", key)
                return outcome
            counting = _Counting(stream)
            manifest = unpack(io.BufferedReader(counting, _CHUNK), target)
            outcome.bytes_read = counting.count
    except SnapshotError as exc:
        logger.warning("state snapshot %s not used (%s): the views replay their topics", key, exc)
        outcome.result = "invalid"
        return outcome
    except ReelstreamError as exc:  # the object store (ObjectStoreError)
        _empty(target)
        logger.warning("state snapshot %s unavailable (%s): the views replay their topics", key, exc.code)
        outcome.result = "unavailable"
        return outcome
    outcome.result, outcome.age_seconds = "restored", time.time() - manifest.created_at
    logger.info(
        "state restored from snapshot %s (%.0f s old, %d bytes)", key, outcome.age_seconds, counting.count
    )
    return outcome


def publish(store: LocalStore, objects: SnapshotObjects, scratch: Path, key: str = SNAPSHOT_KEY) -> int:
    """Snapshot `store` and put it at `key` (through a file in `scratch`, on the store's disk); its size.
    Blocking."""
    with tempfile.TemporaryDirectory(prefix=".snapshot-", dir=scratch) as folder:
        archive = Path(folder) / "store.tar"
        pack(store, archive)
        _, sha256 = _digest(archive)
        return objects.upload(archive, key, sha256, content_type="application/x-tar")


class Snapshotter:
    """Publishes the store every `interval` seconds while `ready()` (every view caught up), unless a snapshot
    younger than the interval is already there (another replica's). Run `run()` as a task."""

    def __init__(
        self,
        store: LocalStore,
        objects: SnapshotObjects,
        scratch: Path,
        interval: float,
        ready: Callable[[], bool],
        key: str = SNAPSHOT_KEY,
    ) -> None:
        self._store, self._objects, self._scratch = store, objects, scratch
        self._interval, self._ready, self.key = interval, ready, key
        self.published = 0

    def due(self, now: datetime | None = None) -> bool:
        """Blocking (asks the object store when the snapshot there was written)."""
        newest = self._objects.modified_at(self.key)
        now = now or datetime.now(UTC)
        return newest is None or (now - newest).total_seconds() >= self._interval * 0.9

    def publish_if_due(self) -> int | None:
        """The size published, or None when not ready or not due. Blocking."""
        if not self._ready() or not self.due():
            return None
        size = publish(self._store, self._objects, self._scratch, self.key)
        self.published += 1
        logger.info("state snapshot published to %s (%d bytes)", self.key, size)
        return size

    async def run(self) -> None:
        """Cancelled, it waits for a snapshot being written (the store must stay open until it is done)."""
        while True:
            await asyncio.sleep(self._interval)
            publishing = asyncio.ensure_future(asyncio.to_thread(self.publish_if_due))
            try:
                await asyncio.shield(publishing)
            except asyncio.CancelledError:
                await asyncio.gather(publishing, return_exceptions=True)
                raise
            except (ReelstreamError, OSError) as exc:
                logger.warning("state snapshot not published: %r", exc)
