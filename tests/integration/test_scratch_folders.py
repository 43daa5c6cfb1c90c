"""A service's scratch folder (Faust's data folder among it) is removed when the service exits, and after a
SIGKILL by the next service to start. Real admission processes on the session's broker, each with a temp
folder of the test's own (TMPDIR), so nothing outside the test is looked at."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import pytest

from reelstream.endpoints import Endpoints
from reelstream.scratch import PREFIX
from tests.integration.admission_process import AdmissionProcess, running_admission, start_admission
from tests.processes import killed_on_failure

LIMITS = "*=rate:100,burst:100,queued:100"
DEADLINE_S = 60.0
T = TypeVar("T")


def eventually(probe: Callable[[], T | None], what: str, check: Callable[[], None] = lambda: None) -> T:
    deadline = time.monotonic() + DEADLINE_S
    while time.monotonic() < deadline:
        check()
        found = probe()
        if found:
            return found
        time.sleep(0.1)
    pytest.fail(f"not within {DEADLINE_S:g}s: {what}")


def scratch_of(tmp: Path, admission: AdmissionProcess) -> Path | None:
    """The admission process's scratch folder, once Faust has written its data folder in it."""
    pid = admission.process.pid
    folders = [p for p in tmp.glob(f"{PREFIX}*-{pid}") if any(p.iterdir())]
    return folders[0] if folders else None


def test_a_service_removes_its_scratch_folder_when_it_exits(
    stack: Endpoints, topics: None, tmp_path: Path
) -> None:
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    with running_admission(stack, tmp_path, "scratch-exit", LIMITS, {"TMPDIR": str(tmp)}) as admission:
        folder = eventually(lambda: scratch_of(tmp, admission), "a scratch folder", admission.check_running)
    # leaving the block SIGTERMed it and checked that it exited 0
    assert not folder.exists()
    assert list(tmp.iterdir()) == []


def test_the_next_start_removes_what_a_killed_service_left(
    stack: Endpoints, topics: None, tmp_path: Path
) -> None:
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    (tmp_path / "first").mkdir()
    (tmp_path / "second").mkdir()
    first = start_admission(stack, tmp_path / "first", "scratch-killed", LIMITS, {"TMPDIR": str(tmp)})
    with killed_on_failure(first.process):
        left = eventually(lambda: scratch_of(tmp, first), "a scratch folder", first.check_running)
    first.process.kill()  # SIGKILL: no clean-up of its own
    first.process.wait(timeout=10)
    assert left.exists()
    with running_admission(
        stack, tmp_path / "second", "scratch-next", LIMITS, {"TMPDIR": str(tmp)}
    ) as second:
        eventually(lambda: scratch_of(tmp, second), "the next start's scratch folder", second.check_running)
        assert not left.exists()
    assert list(tmp.iterdir()) == []
