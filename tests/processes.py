"""Helpers for tests that run a service as a subprocess."""

from __future__ import annotations

import contextlib
import subprocess
from collections.abc import Iterator


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
