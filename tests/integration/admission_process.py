"""Admission as a subprocess, exactly as deployed, for tests that watch what it decides."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from reelstream.endpoints import Endpoints
from tests.keys import shared_key_dir
from tests.processes import killed_on_failure, stop_gracefully

REPO = Path(__file__).resolve().parents[2]


@dataclass
class AdmissionProcess:
    process: subprocess.Popen[bytes]
    log_path: Path
    group: str = ""  # its consumer group (the Faust app's id)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def check_running(self) -> None:
        if self.process.poll() is not None:
            pytest.fail(f"admission exited with {self.process.returncode}:\n{self.log()[-4000:]}")


@contextmanager
def running_admission(
    stack: Endpoints,
    workdir: Path,
    prefix: str,
    tenant_limits: str,
    extra_env: dict[str, str] | None = None,
) -> Iterator[AdmissionProcess]:
    """Start it with its own consumer group and limits; on exit SIGTERM it, which it must obey (exit 0)."""
    handle = start_admission(stack, workdir, prefix, tenant_limits, extra_env)
    with killed_on_failure(handle.process):
        yield handle
    stop_gracefully(handle.process, "admission", handle.log)


def start_admission(
    stack: Endpoints,
    workdir: Path,
    prefix: str,
    tenant_limits: str,
    extra_env: dict[str, str] | None = None,
) -> AdmissionProcess:
    """Start it (the caller stops it)."""
    app_prefix = f"{prefix}-{uuid.uuid4().hex[:12]}"
    env = {
        **os.environ,
        **stack.as_env(),
        "REELSTREAM_TENANT_LIMITS": tenant_limits,
        "REELSTREAM_DEFAULT_MODEL": "tiny-mochi",
        "PYTHONUNBUFFERED": "1",
        "REELSTREAM_APP_PREFIX": app_prefix,
        "REELSTREAM_KEY_DIR": shared_key_dir(),  # it opens and seals jobs' fields (job_fields)
        "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])),
        **(extra_env or {}),
    }
    log_path = workdir / "admission.log"
    with log_path.open("wb") as log_file:
        process = subprocess.Popen(
            [sys.executable, "-m", "streams.admission"],
            env=env,
            cwd=workdir,
            stdout=log_file,
            stderr=subprocess.STDOUT,
        )
    return AdmissionProcess(process, log_path, f"{app_prefix}-admission")
