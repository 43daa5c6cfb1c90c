"""The notifier as a subprocess, exactly as deployed, for tests that watch what it does.

There is no global webhook secret: each notifier gets a key-encryption key directory of its own and its
`secret` is issued, sealed, to the `tenants` the test names (devstack.keys, as `reelstream dev` does). A
notifier opens only what its own keys wrap, so several notifiers in one session, all reading the same
topics, each sign with their own secret, and a receiver tells their deliveries apart by it."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from devstack.keys import issue_webhook_secret
from reelstream.crypto.provider import write_key
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
    key_dir: Path
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
    tenants: Iterable[str] = (),
    key_dir: Path | None = None,
) -> Iterator[NotifierProcess]:
    """Start it with its own consumer group, keys and secret, the secret issued to `tenants` (or the given
    ones: a restart, or `key_dir` shared with an ingest under test); on exit SIGTERM it, which it must obey
    (exit 0), unless the test killed it."""
    secret = secret or generate_secret()
    app_prefix = app_prefix or f"{prefix}-{uuid.uuid4().hex[:12]}"
    if key_dir is None:
        key_dir = workdir / f"keys-{app_prefix}"
        write_key(key_dir, f"kek-{uuid.uuid4().hex[:12]}")
    tenants = tuple(tenants)
    if tenants:
        _issue(stack, key_dir, tenants, secret, f"whsk_{app_prefix}")
    env = {
        **os.environ,
        **stack.as_env(),
        "REELSTREAM_KEY_DIR": str(key_dir),
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
    handle = NotifierProcess(process, log_path, secret, time.monotonic(), app_prefix, key_dir)
    with killed_on_failure(process):
        yield handle
    if handle.killed:
        return
    stop_gracefully(process, "notifier", handle.log)


def _issue(stack: Endpoints, key_dir: Path, tenants: tuple[str, ...], secret: str, secret_id: str) -> None:
    """Issue the secret from a thread of its own: the caller may be a sync fixture or an async test."""
    with ThreadPoolExecutor(1) as pool:
        pool.submit(asyncio.run, issue_webhook_secret(stack, key_dir, tenants, secret, secret_id)).result()
