"""The local store (RocksDB): a replay's bulk mode holds compactions back until the last replaying view has
caught up, then lets them run."""

from __future__ import annotations

import time
from pathlib import Path

from reelstream.local_store import LocalStore

DEADLINE_SECONDS = 30.0


def level0_files(store: LocalStore) -> int:
    return store.db.property_int_value("rocksdb.num-files-at-level0") or 0


def flushed_files(store: LocalStore, count: int) -> None:
    namespace = store.namespace(b"bulk")
    for n in range(count):
        batch = namespace.batch()
        batch.put(b"k%03d" % n, b"v" * 100)
        batch.commit({0: n + 1}, at_micros=n)
        store.db.flush()


def test_compactions_wait_while_any_view_replays_in_bulk(tmp_path: Path) -> None:
    store = LocalStore(str(tmp_path)).open()
    try:
        store.bulk_load(True)
        store.bulk_load(True)  # two views replaying
        flushed_files(store, 6)  # past RocksDB's trigger of 4 level-0 files
        assert level0_files(store) == 6
        store.bulk_load(False)  # one has caught up: still in bulk
        flushed_files(store, 1)
        assert level0_files(store) == 7
        store.bulk_load(False)
        deadline = time.monotonic() + DEADLINE_SECONDS
        while level0_files(store) >= 4 and time.monotonic() < deadline:
            time.sleep(0.05)  # RocksDB compacts in its own threads: polled until done, with a deadline
        assert level0_files(store) < 4
        assert store.namespace(b"bulk").get(b"k005") == b"v" * 100  # compacted, not lost
    finally:
        store.close()
