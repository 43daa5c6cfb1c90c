"""Ids and timestamps for records: random version-4 UUIDs from a buffered OS generator, millisecond UTC."""

from __future__ import annotations

import os
import threading
from datetime import UTC, datetime


class _Entropy:
    """Random bytes from the operating system's generator (`os.urandom`, as `uuid.uuid4` reads them), read
    4 KiB at a time: one system call per 256 ids rather than one per id (ingest makes two ids and a seed per
    submission; the calls were 7 % of its samples in a profile). A forked child starts with an empty buffer,
    so parent and child never hand out the same bytes."""

    def __init__(self, chunk: int = 4096) -> None:
        self._chunk = chunk
        self._reset()
        os.register_at_fork(after_in_child=self._reset)

    def _reset(self) -> None:
        self._buffer, self._taken = b"", 0
        self._lock = threading.Lock()  # a lock held in the parent at the fork would stay held in the child

    def take(self, n: int) -> bytes:
        with self._lock:
            if self._taken + n > len(self._buffer):
                self._buffer, self._taken = os.urandom(max(n, self._chunk)), 0
            start, self._taken = self._taken, self._taken + n
            return self._buffer[start : self._taken]


_entropy = _Entropy()


def new_id() -> str:
    """A random (version 4) UUID's hex: what `uuid.UUID(bytes=…, version=4).hex` gives, its version and
    variant bits set here (a third of its cost; two ids a submission)."""
    raw = bytearray(_entropy.take(16))
    raw[6] = raw[6] & 0x0F | 0x40  # version 4
    raw[8] = raw[8] & 0x3F | 0x80  # the RFC 4122 variant
    return raw.hex()


def random_below(bound: int) -> int:
    """A uniformly random integer in [0, bound), from the operating system's generator."""
    if bound <= 0:
        raise ValueError("bound must be positive")
    bits = bound.bit_length()
    while True:  # rejection sampling: no modulo bias
        value = int.from_bytes(_entropy.take((bits + 7) // 8), "big") >> (-bits % 8)
        if value < bound:
            return value


def utc_now() -> datetime:
    """Now, at the millisecond precision Avro's timestamp-millis keeps (so round trips compare equal)."""
    now = datetime.now(UTC)
    return now.replace(microsecond=now.microsecond // 1000 * 1000)
