"""The notifier as a subprocess, exactly as deployed, for tests that watch what it does."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from reelstream.endpoints import Endpoints
from reelstream.webhooks.messages import generate_secret
from tests.processes import killed_on_failure, stop_gracefully

REPO = Path(__file__).resolve().parents[2]


@dataclass
class NotifierProcess:
    process: subprocess.Popen[bytes]
    log_path: Path
    secret: str
    started: float
    app_prefix: str
    killed: bool = False

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def kill(self) -> None:
        """SIGKILL: no shutdown at all, as in a crash."""
        self.killed = True
        self.process.kill()
        self.process.wait(timeout=10)

    def check_running(self) -> None:
        if self.process.poll() is not None:
            pytest.fail(f"notifier exited with {self.process.returncode}:\n{self.log()[-4000:]}")


@contextmanager
def running_notifier(
    stack: Endpoints,
    workdir: Path,
    prefix: str,
    *,
    secret: str | None = None,
    app_prefix: str | None = None,
    env: dict[str, str] | None = None,
) -> Iterator[NotifierProcess]:
    """Start it with its own consumer group and secret (or the given ones: a restart); on exit SIGTERM it,
    which it must obey (exit 0), unless the test killed it."""
    secret = secret or generate_secret()
    app_prefix = app_prefix or f"{prefix}-{uuid.uuid4().hex[:12]}"
    env = {
        **os.environ,
        **stack.as_env(),
        "REELSTREAM_WEBHOOK_SECRET": secret,
        "REELSTREAM_WEBHOOK_ALLOW_NETWORKS": "127.0.0.0/8",  # the receivers are on loopback
        "PYTHONUNBUFFERED": "1",  # the tests read its log while it runs
        "REELSTREAM_LOG_FORMAT": "text",  # and look for `job_id=…` and `partition=… offset=…` in it
        "REELSTREAM_APP_PREFIX": app_prefix,
        "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])),
        **(env or {}),
    }
    log_path = workdir / f"notifier-{uuid.uuid4().hex[:6]}.log"
    with log_path.open("wb") as log_file:
        process = subprocess.Popen(
            [sys.executable, "-m", "streams.notifier"],
            env=env,
            cwd=workdir,
            stdout=log_file,
            stderr=subprocess.STDOUT,
        )
    handle = NotifierProcess(process, log_path, secret, time.monotonic(), app_prefix)
    with killed_on_failure(process):
        yield handle
    if handle.killed:
        return
    stop_gracefully(process, "notifier", handle.log)
