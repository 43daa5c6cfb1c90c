"""Fetch service binaries once into the user's cache directory, safely under concurrent runs."""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path

from reelstream.config import load_config
from reelstream.errors import ReelstreamError


class FetchError(ReelstreamError):
    """A package client (mvn, go) could not fetch what the stack needs."""

    code = "fetch_failed"
    retriable = True


def default_cache_dir(env: Mapping[str, str]) -> Path:
    configured = load_config(env).values.cache_dir
    if configured:
        return Path(configured)
    base = Path(env["XDG_CACHE_HOME"]) if env.get("XDG_CACHE_HOME") else Path.home() / ".cache"
    return base / "reelstream"


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def fetch_once(target: Path, build: Callable[[Path], None]) -> Path:
    """Build `target` with `build(staging_dir)` unless a complete copy is cached; return `target`.

    The staging folder is renamed into place only after `build` succeeded, so an interrupted fetch never
    leaves a half-filled cache entry behind.
    """
    marker = target / ".complete"
    if marker.exists():
        return target
    with _locked(target.parent / f".{target.name}.lock"):
        if marker.exists():
            return target
        staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
        try:
            build(staging)
            (staging / ".complete").touch()
            if target.exists():
                shutil.rmtree(target)
            os.replace(staging, target)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    return target


def run_client(argv: list[str], what: str, env: Mapping[str, str], cwd: Path | None = None) -> None:
    """Run a package client; on failure raise FetchError with the end of its output."""
    result = subprocess.run(
        argv, cwd=cwd, env=dict(env), capture_output=True, text=True, timeout=1800, check=False
    )
    if result.returncode != 0:
        tail = "\n".join((result.stdout + result.stderr).splitlines()[-20:])
        raise FetchError(
            f"fetching {what} failed (`{' '.join(argv[:3])} …` exited {result.returncode}):\n{tail}"
        )
