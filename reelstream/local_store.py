"""The disk-backed local store behind ingest's views: RocksDB through `rocksdict` (docs/architecture.md,
Decisions). Pure storage, no Kafka: ordered byte keys, atomic batches, bounded memory.

One database per process, opened in the application's lifespan. Views share it under their own key prefix
(`Namespace`); each view checkpoints the offsets it consumed under its prefix in the same atomic write as the
data those offsets produced (`Batch.commit`), so a restart resumes where the last batch ended instead of
replaying the topic. Memory is what RocksDB is given: a block cache of `cache_bytes` and two memtables of
`write_buffer_bytes`; nothing per record is kept in Python.
"""

from __future__ import annotations

import logging
import shutil
import struct
import tempfile
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path

from rocksdict import BlockBasedOptions, Cache, Checkpoint, Options, Rdict, ReadOptions, WriteBatch

logger = logging.getLogger(__name__)

OFFSET = struct.Struct(">Q")
_CHECKPOINT = b"\x00ckpt/"  # <namespace>\x00ckpt/<partition BE4> → the next offset to read (BE8)
_CHECKPOINT_TIME = b"\x00ckpt-at"  # <namespace>\x00ckpt-at → µs since the epoch of the last commit (BE8)


class LocalStore:
    """`path` None: a fresh temporary directory, removed at `close` (a replica that always replays)."""

    def __init__(
        self, path: str | None, *, cache_bytes: int = 64 * 2**20, write_buffer_bytes: int = 16 * 2**20
    ) -> None:
        self._path, self._cache_bytes, self._write_buffer = path, cache_bytes, write_buffer_bytes
        self._db: Rdict | None = None
        self._temporary: str | None = None
        self._bulk = 0  # views replaying into an empty namespace

    def open(self, seed: Callable[[Path], None] | None = None) -> LocalStore:
        """Blocking. `seed`: called with the directory when it is empty (no database yet), to fill it first
        (`reelstream.state_snapshot.restore`: a peer's snapshot); whatever it leaves there is opened."""
        path = self._path
        if path is None:
            path = self._temporary = tempfile.mkdtemp(prefix="reelstream-state-")
        Path(path).mkdir(parents=True, exist_ok=True)
        seeded = seed is not None and not any(Path(path).iterdir())
        if seed is not None and seeded:
            seed(Path(path))
        table = BlockBasedOptions()
        table.set_block_cache(Cache(self._cache_bytes))
        table.set_bloom_filter(10, False)
        table.set_cache_index_and_filter_blocks(True)  # index and filters count against the cache
        options = Options(raw_mode=True)
        options.create_if_missing(True)
        options.set_block_based_table_factory(table)
        options.set_write_buffer_size(self._write_buffer)
        options.set_max_write_buffer_number(2)
        options.set_max_open_files(256)
        try:
            self._db = Rdict(path, options)
        except Exception as exc:  # rocksdict raises plain Exceptions; a seeded directory falls back to empty
            if not seeded:
                raise
            logger.warning("the seeded local store does not open (%s): starting empty", type(exc).__name__)
            shutil.rmtree(path)
            Path(path).mkdir()
            self._db = Rdict(path, options)
        return self

    def close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None
        if self._temporary is not None:
            shutil.rmtree(self._temporary, ignore_errors=True)
            self._temporary = None

    @property
    def path(self) -> Path:
        """The database's directory (once open)."""
        return Path(self._temporary or self._path or "")

    @property
    def db(self) -> Rdict:
        if self._db is None:
            raise RuntimeError("the local store is not open")
        return self._db

    def bulk_load(self, loading: bool) -> None:
        """While any view replays a topic into an empty namespace, compactions wait (a replay's writes then
        cost about half the CPU, and a quarter of the time, of writes compacted as they come; with
        automatic compactions off, RocksDB does not stall writes for the L0 files piling up)."""
        self._bulk += 1 if loading else -1
        if self._bulk == (1 if loading else 0):
            self.db.set_options({"disable_auto_compactions": "true" if loading else "false"})

    def namespace(self, prefix: bytes) -> Namespace:
        if b"\x00" in prefix:
            raise ValueError("a namespace prefix holds no NUL byte")
        return Namespace(self, prefix + b"\x00")

    def checkpoint(self, path: Path) -> None:
        """A consistent copy of the whole database at `path` (which must not exist): RocksDB's checkpoint,
        its immutable files hard-linked, the memtables flushed first. Every view's offsets are in it,
        committed with the data they produced. Blocking."""
        Checkpoint(self.db).create_checkpoint(str(path))

    def size_on_disk(self) -> int:
        return self.db.property_int_value("rocksdb.total-sst-files-size") or 0


class Namespace:
    """One view's keys: `get`, `scan` (ascending, `[start, stop)`) and `batch()` for writes, all relative
    to the namespace's prefix; and its checkpoint."""

    def __init__(self, store: LocalStore, prefix: bytes) -> None:
        self.store, self._prefix = store, prefix

    def get(self, key: bytes) -> bytes | None:
        value = self.store.db.get(self._prefix + key)
        return None if value is None else bytes(value)

    def scan(self, start: bytes, stop: bytes) -> Iterator[tuple[bytes, bytes]]:
        """Keys in `[start, stop)`, ascending, with their values; the prefix taken off."""
        options = ReadOptions()
        options.set_iterate_upper_bound(self._prefix + stop)
        cursor = self.store.db.iter(options)
        cursor.seek(self._prefix + start)
        cut = len(self._prefix)
        while cursor.valid():
            yield bytes(cursor.key())[cut:], bytes(cursor.value())
            cursor.next()

    def batch(self) -> Batch:
        return Batch(self)

    def checkpoint(self) -> tuple[dict[int, int], int | None]:
        """The offsets to resume from per partition, and when (µs since the epoch) they were committed."""
        offsets = {
            struct.unpack(">I", key[len(_CHECKPOINT) :])[0]: OFFSET.unpack(value)[0]
            for key, value in self.scan(_CHECKPOINT, _CHECKPOINT + b"\xff")
        }
        stamp = self.get(_CHECKPOINT_TIME)
        return offsets, None if stamp is None else OFFSET.unpack(stamp)[0]

    def clear(self) -> None:
        """Forget everything of this namespace (its data and checkpoint)."""
        self.store.db.delete_range(self._prefix, self._prefix[:-1] + b"\x01")

    def write(self, changes: Mapping[bytes, bytes | None]) -> None:
        batch = WriteBatch(raw_mode=True)
        for key, value in changes.items():
            if value is None:
                batch.delete(self._prefix + key)
            else:
                batch.put(self._prefix + key, value)
        self.store.db.write(batch)


class Batch:
    """Writes gathered in memory, read through (`get` sees them), written at `commit` in one atomic
    WriteBatch together with the offsets they came from. Bounded by what one fetch brings."""

    def __init__(self, namespace: Namespace) -> None:
        self._namespace = namespace
        self.changes: dict[bytes, bytes | None] = {}

    def get(self, key: bytes) -> bytes | None:
        if key in self.changes:
            return self.changes[key]
        return self._namespace.get(key)

    def put(self, key: bytes, value: bytes) -> None:
        self.changes[key] = value

    def delete(self, key: bytes) -> None:
        self.changes[key] = None

    def __len__(self) -> int:
        return len(self.changes)

    def commit(self, offsets: Mapping[int, int] | None = None, at_micros: int | None = None) -> None:
        """Write the changes, and with them the offsets to resume from (partition → next offset)."""
        for partition, offset in (offsets or {}).items():
            self.changes[_CHECKPOINT + struct.pack(">I", partition)] = OFFSET.pack(offset)
        if offsets and at_micros is not None:
            self.changes[_CHECKPOINT_TIME] = OFFSET.pack(at_micros)
        if self.changes:
            self._namespace.write(self.changes)
        self.changes = {}
