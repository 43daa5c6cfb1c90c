"""A stream app's stop after SIGTERM is bounded (streams.app.BoundedWorker): past its grace, the watchdog logs
every task still running, with where it waits, and the process exits. Run in a child process, because the
watchdog ends the process it runs in."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]

CHILD = textwrap.dedent(
    """
    import asyncio, logging, sys, threading
    from streams.app import _overdue

    logging.basicConfig(stream=sys.stderr, level=logging.INFO)

    async def view_that_never_stops() -> None:
        await asyncio.Event().wait()  # a stop waiting on something that never comes

    async def main() -> None:
        asyncio.create_task(view_that_never_stops(), name="stuck-view")
        threading.Timer(0.2, _overdue, (asyncio.get_running_loop(), 0.2)).start()
        await asyncio.Event().wait()
        print("unreachable: the watchdog exits the process")

    asyncio.run(main())
    """
)


def test_a_stop_that_hangs_is_reported_and_ended_by_the_watchdog() -> None:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    done = subprocess.run(
        [sys.executable, "-c", CHILD], env=env, capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    assert "unreachable" not in done.stdout
    stuck = [line for line in done.stderr.splitlines() if "still running" in line]
    assert any("stuck-view" in line and "view_that_never_stops" in line for line in stuck), done.stderr
    assert "exiting now" in done.stderr
