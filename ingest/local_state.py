"""Ingest's local store opened in the lifespan: seeded from the newest snapshot in object storage when its
directory is empty, and snapshotted periodically once every view has caught up (reelstream.state_snapshot).
Generic over the store: every view kept in it (status, idempotency, and any other) comes with it."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from pathlib import Path

from reelstream.local_store import LocalStore
from reelstream.settings import IngestSettings
from reelstream.state_snapshot import RestoreOutcome, SnapshotObjects, Snapshotter, restore

logger = logging.getLogger(__name__)


async def open_local_store(
    settings: IngestSettings, objects: SnapshotObjects
) -> tuple[LocalStore, RestoreOutcome | None]:
    """The store, open; and what restoring a snapshot into its empty directory found (None: the directory
    held a database, or snapshots are off)."""
    store = LocalStore(settings.state_dir, cache_bytes=settings.state_cache_mib * 2**20)
    found: list[RestoreOutcome] = []

    def seed(path: Path) -> None:
        found.append(restore(objects, path))

    await asyncio.to_thread(store.open, seed if settings.state_snapshot_enabled else None)
    return store, found[0] if found else None


def snapshotter(
    settings: IngestSettings, store: LocalStore, objects: SnapshotObjects, ready: Callable[[], bool]
) -> Snapshotter | None:
    """Who publishes this replica's snapshots (its temporary files beside the store, on the same disk)."""
    if not settings.state_snapshot_enabled:
        return None
    return Snapshotter(store, objects, store.path.parent, settings.state_snapshot_interval_seconds, ready)
