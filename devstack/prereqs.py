"""Find the tools the local stack needs, or say exactly which is missing and how to get it."""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Iterable, Mapping
from pathlib import Path

from reelstream.config import load_config
from reelstream.errors import ReelstreamError

DEFAULT_JVM_DIRS = (Path("/usr/lib/jvm"), Path("/opt/java"), Path("/usr/local/lib/jvm"))

HOW_TO_GET = {
    "java": "install a JDK (Debian: `apt-get install openjdk-17-jdk-headless`; the schema registry needs 21+,"
    " e.g. a Temurin JDK under /usr/lib/jvm) or point JAVA_HOME / REELSTREAM_JAVA_HOME at one",
    "mvn": "install Maven (Debian: `apt-get install maven`)",
    "go": "install Go ≥ 1.24 (Debian: `apt-get install golang`), or put a `minio` binary on PATH"
    " or name it in REELSTREAM_MINIO_BIN",
    "prometheus": "install Prometheus (Debian: `apt-get install prometheus`, which brings promtool too)"
    " or name its binary in REELSTREAM_PROMETHEUS_BIN",
    "node": "install Node 20 and npm (Debian: `apt-get install nodejs npm`, or https://nodejs.org)",
    "npm": "install Node 20 and npm (Debian: `apt-get install nodejs npm`, or https://nodejs.org)",
}


class MissingPrerequisite(ReelstreamError):
    """A tool the local stack needs is not installed (or too old)."""

    code = "missing_prerequisite"

    def __init__(self, tool: str, needed_for: str, detail: str = "") -> None:
        found = f" ({detail})" if detail else ""
        super().__init__(f"{tool} is required for {needed_for} but was not found{found}: {HOW_TO_GET[tool]}")
        self.tool = tool


def require_tool(name: str, needed_for: str, env: Mapping[str, str]) -> Path:
    found = shutil.which(name, path=env.get("PATH", ""))
    if found is None:
        raise MissingPrerequisite(name, needed_for)
    return Path(found)


def java_major_version(java: Path) -> int | None:
    try:
        out = subprocess.run(
            [str(java), "-version"], capture_output=True, text=True, timeout=30, check=False
        ).stderr
    except OSError:
        return None
    match = re.search(r'version "(\d+)(?:\.(\d+))?', out)
    if match is None:
        return None
    major = int(match.group(1))
    return int(match.group(2) or 0) if major == 1 else major


def _java_candidates(env: Mapping[str, str], jvm_dirs: Iterable[Path]) -> Iterable[Path]:
    for home in (load_config(env).values.java_home, env.get("JAVA_HOME")):
        if home:
            yield Path(home) / "bin" / "java"
    on_path = shutil.which("java", path=env.get("PATH", ""))
    if on_path:
        yield Path(on_path)
    for root in jvm_dirs:
        if root.is_dir():
            yield from sorted(root.glob("*/bin/java"), reverse=True)


def find_java(min_major: int, needed_for: str, env: Mapping[str, str], jvm_dirs: Iterable[Path]) -> Path:
    """The first Java of at least `min_major` among JAVA_HOME-style variables, PATH and the JVM folders."""
    seen: list[str] = []
    for candidate in _java_candidates(env, jvm_dirs):
        if not candidate.is_file():
            continue
        major = java_major_version(candidate)
        if major is not None and major >= min_major:
            return candidate
        seen.append(f"{candidate} is {major}")
    detail = f"need Java ≥ {min_major}; " + ("; ".join(seen) if seen else "no java on PATH or in JAVA_HOME")
    raise MissingPrerequisite("java", needed_for, detail)


def jvm_dirs_from(env: Mapping[str, str]) -> list[Path]:
    """REELSTREAM_JVM_DIRS (os.pathsep-separated) replaces the default folders searched for JDKs."""
    configured = load_config(env).values.jvm_dirs
    if configured is not None:
        return [Path(p) for p in configured.split(":") if p]
    return list(DEFAULT_JVM_DIRS)
