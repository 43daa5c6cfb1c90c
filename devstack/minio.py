"""MinIO object storage: a binary on PATH / in REELSTREAM_MINIO_BIN, or built once with `go install`."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import httpx

from devstack.fetch import go_binary
from devstack.process import ManagedProcess
from devstack.steps import QUIET, Steps
from reelstream.config import load_config

MINIO_MODULE = "github.com/minio/minio"
MINIO_VERSION = "v0.0.0-20260212201848-7aac2a2c5b7c"
# what a first build costs (measured: ~2.5 min on 2 cores, ~140 MB binary; Go's module and build caches
# make a later one quicker); said before it starts, since go prints little while it compiles
MINIO_HINT = "first build ~2-3 min, once; or put a `minio` binary on PATH"


def fetch_minio(cache_dir: Path, env: Mapping[str, str], steps: Steps = QUIET) -> Path:
    configured = load_config(env).values.minio_bin
    return go_binary("minio", MINIO_MODULE, MINIO_VERSION, cache_dir, env, configured, steps, MINIO_HINT)


@dataclass(frozen=True)
class MinioService:
    data_dir: Path
    log_dir: Path
    port: int
    console_port: int
    access_key: str
    secret_key: str

    name = "minio"

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def is_ready(self) -> bool:
        try:
            return httpx.get(f"{self.endpoint}/minio/health/ready", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    def process(self, binary: Path, env: Mapping[str, str]) -> ManagedProcess:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        argv = [
            str(binary),
            "server",
            str(self.data_dir),
            "--quiet",
            "--address",
            f"127.0.0.1:{self.port}",
            "--console-address",
            f"127.0.0.1:{self.console_port}",
        ]
        child_env = {
            **env,
            "MINIO_ROOT_USER": self.access_key,
            "MINIO_ROOT_PASSWORD": self.secret_key,
            "MINIO_BROWSER": "off",
            "MINIO_UPDATE": "off",
            "HOME": env.get("HOME", os.fspath(self.data_dir)),
        }
        return ManagedProcess(self.name, argv, self.log_dir / "minio.log", child_env)
