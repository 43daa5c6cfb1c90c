"""Fetch service binaries once into the user's cache directory, safely under concurrent runs."""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import subprocess
import tempfile
import threading
from collections import deque
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path

from devstack.prereqs import require_tool
from devstack.steps import QUIET, StepProgress, Steps, folder_bytes, human_bytes
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


def fetch_once(
    target: Path,
    build: Callable[[Path, StepProgress], None],
    what: str,
    steps: Steps = QUIET,
    hint: str = "",
) -> Path:
    """Build `target` with `build(staging_dir, progress)` unless a complete copy is cached; return `target`.
    `steps` hears what is fetched, how big it is, how long it takes (`hint`: what a user should expect).

    The staging folder is renamed into place only after `build` succeeded, so an interrupted fetch never
    leaves a half-filled cache entry behind.
    """
    marker = target / ".complete"
    if marker.exists():
        steps.done(what, f"cached ({human_bytes(folder_bytes(target))})")
        return target
    with _locked(target.parent / f".{target.name}.lock"):
        if marker.exists():
            steps.done(what, "fetched by another run meanwhile")
            return target
        staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
        try:
            with steps.step(what, hint) as progress:
                build(staging, progress)
                progress.stored_bytes = folder_bytes(staging)
            (staging / ".complete").touch()
            if target.exists():
                shutil.rmtree(target)
            os.replace(staging, target)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    return target


def go_binary(
    name: str,
    module: str,
    version: str,
    cache_dir: Path,
    env: Mapping[str, str],
    configured: str | None = None,
    steps: Steps = QUIET,
    hint: str = "",
) -> Path:
    """The `name` binary: `configured` (its REELSTREAM_*_BIN), else one on PATH, else `go install` of
    `module@version` into the cache, once."""
    if configured:
        return Path(configured)
    on_path = shutil.which(name, path=env.get("PATH", ""))
    if on_path:
        return Path(on_path)
    go = require_tool("go", f"building {name}", env)

    def build(staging: Path, progress: StepProgress) -> None:
        run_client(
            [str(go), "install", "-v", f"{module}@{version}"],
            f"{name} {version}",
            {**env, "GOBIN": str(staging / "bin"), "CGO_ENABLED": "0"},
            on_line=progress.go_line,
        )

    target = cache_dir / f"{name}-{version}"
    return fetch_once(target, build, f"{name} {version} (go install)", steps, hint) / "bin" / name


def run_client(
    argv: list[str],
    what: str,
    env: Mapping[str, str],
    cwd: Path | None = None,
    on_line: Callable[[str], None] | None = None,
    timeout: float = 1800.0,
) -> None:
    """Run a package client, handing each line of its output to `on_line` as it comes; on failure raise
    FetchError with the end of its output."""
    tail: deque[str] = deque(maxlen=20)
    with subprocess.Popen(
        argv, cwd=cwd, env=dict(env), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    ) as process:
        watchdog = threading.Timer(timeout, process.kill)
        watchdog.start()
        try:
            assert process.stdout is not None
            for line in process.stdout:
                tail.append(line.rstrip("\n"))
                if on_line is not None:
                    on_line(line)
            returncode = process.wait()
        finally:
            watchdog.cancel()
    if returncode != 0:
        raise FetchError(
            f"fetching {what} failed (`{' '.join(argv[:3])} …` exited {returncode}):\n" + "\n".join(tail)
        )
