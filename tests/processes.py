"""Helpers for tests that run a service as a subprocess."""

from __future__ import annotations

import contextlib
import signal
import subprocess
from collections.abc import Callable, Iterator

import pytest


@contextlib.contextmanager
def killed_on_failure(process: subprocess.Popen[bytes]) -> Iterator[None]:
    """If the block fails, kill the process and reap it before the failure propagates: a test that fails
    halfway must not leave its service running (it would act on later tests' records)."""
    try:
        yield
    except BaseException:
        if process.poll() is None:
            process.kill()
        process.wait(timeout=10)
        raise


def stop_gracefully(process: subprocess.Popen[bytes], name: str, log: Callable[[], str]) -> None:
    """SIGTERM, which a service must obey by exiting 0 within 30 s; its log's tail explains a failure."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
    try:
        returncode = process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=10)
        pytest.fail(f"{name} ignored SIGTERM for 30 s:\n{log()[-4000:]}")
    assert returncode == 0, log()[-4000:]
