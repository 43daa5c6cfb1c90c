"""Scratch folders: the process's own is removed at the end, a dead process's by the next one, no other."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from reelstream.scratch import process_scratch, remove_stale, scratch_path


def dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait(timeout=30)
    return child.pid


def test_the_own_folder_exists_within_the_block_and_is_gone_after(tmp_path: Path) -> None:
    with process_scratch(scratch_path("svc", root=tmp_path)) as folder:
        (folder / "data").mkdir()
        (folder / "data" / "file").write_text("x")
        assert folder.name == f"reelstream-svc-{os.getpid()}"
    assert not folder.exists()


def test_only_folders_of_dead_processes_are_removed(tmp_path: Path) -> None:
    dead = scratch_path("faust-a-admission", pid=dead_pid(), root=tmp_path)
    alive = scratch_path("faust-b-admission", pid=os.getppid(), root=tmp_path)
    unrelated = [tmp_path / "reelstream-notes", tmp_path / "other-123", tmp_path / "reelstream-x-1-data"]
    for folder in (dead, alive, *unrelated):
        folder.mkdir()
    (dead / "leftover").write_text("x")
    assert remove_stale(tmp_path) == [dead]
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(p.name for p in (alive, *unrelated))
