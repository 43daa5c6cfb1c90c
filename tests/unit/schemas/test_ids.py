"""Record ids and drawn seeds: random from the operating system's generator, read in chunks."""

from __future__ import annotations

import subprocess
import sys
import uuid

import pytest

from schemas.events import ids, new_id, random_below


def test_ids_are_distinct_version_4_uuids_across_many_chunks() -> None:
    ids = [new_id() for _ in range(5000)]  # ~20 chunks of the buffer
    assert len(set(ids)) == len(ids)
    parsed = [uuid.UUID(hex=i) for i in ids]
    assert all(u.version == 4 and u.variant == uuid.RFC_4122 for u in parsed)


@pytest.mark.parametrize("raw", [bytes(16), b"\xff" * 16, bytes(range(16))])
def test_an_id_is_what_uuid_makes_of_the_same_bytes(raw: bytes, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ids._entropy, "take", lambda n: raw[:n])
    assert new_id() == uuid.UUID(bytes=raw, version=4).hex


def test_a_forked_child_never_hands_out_its_parents_bytes() -> None:
    probe = """
import os
from schemas.events import new_id
new_id()  # the parent's buffer now holds bytes for the next ids
read, write = os.pipe()
pid = os.fork()
if pid == 0:
    os.write(write, new_id().encode())
    os._exit(0)
os.waitpid(pid, 0)
child = os.read(read, 64).decode()
parent = new_id()
assert child != parent, (child, parent)
"""
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize("bound", [1, 2, 3, 10, 255, 256, 257, 2**63 - 1])
def test_random_below_stays_below_its_bound_and_covers_it(bound: int) -> None:
    draws = [random_below(bound) for _ in range(2000)]
    assert all(0 <= d < bound for d in draws)
    if bound <= 10:
        assert set(draws) == set(range(bound))
    else:  # both halves of the range come up
        assert min(draws) < bound // 2 <= max(draws)


def test_random_below_refuses_an_empty_range() -> None:
    with pytest.raises(ValueError, match="positive"):
        random_below(0)
