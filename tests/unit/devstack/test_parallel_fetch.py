"""A first run's fetches overlap: MinIO's `go install` runs beside the Maven fetches of Kafka and the schema
registry (fake `mvn` and `go` that each wait, with a deadline, until the other has started)."""

from __future__ import annotations

import sys
from pathlib import Path

from devstack.manager import LocalStack, StackLayout
from devstack.minio import MINIO_VERSION
from devstack.registry import APICURIO_VERSION

_WAIT_FOR_THE_OTHER = """
import pathlib, sys, time
marks = pathlib.Path({marks!r})
(marks / "{me}-started").touch()
deadline = time.monotonic() + 30
while not (marks / "{other}-started").exists():  # the condition, with a deadline
    if time.monotonic() > deadline:
        print("{other} never started while {me} ran")
        sys.exit(7)
    time.sleep(0.01)
"""

_MVN = """
import os, tarfile
args = dict(a[2:].split("=", 1) for a in sys.argv[1:] if a.startswith("-D") and "=" in a)
out = pathlib.Path(args["outputDirectory"])
out.mkdir(parents=True, exist_ok=True)
if "artifact" in args:  # the registry: its distribution archive
    app = out / "dist"
    app.mkdir()
    (app / "quarkus-run.jar").write_bytes(b"jar")
    with tarfile.open(out / "apicurio-registry-app-{version}-all.tar.gz", "w:gz") as tar:
        tar.add(app / "quarkus-run.jar", arcname="quarkus-run.jar")
else:  # Kafka's jars
    (out / "kafka.jar").write_bytes(b"jar")
print("Downloaded from central: https://repo.example/x.jar (1.0 kB at 1 MB/s)")
"""

_GO = """
import os
binary = pathlib.Path(os.environ["GOBIN"]) / "minio"
binary.parent.mkdir(parents=True)
binary.write_text("#!/bin/sh\\n")
binary.chmod(0o755)
"""


def _tool(folder: Path, name: str, body: str) -> None:
    path = folder / name
    path.write_text(f"#!{sys.executable}\n{body}")
    path.chmod(0o755)


def test_minio_builds_while_maven_fetches(tmp_path: Path) -> None:
    bin_dir, marks = tmp_path / "bin", tmp_path / "marks"
    bin_dir.mkdir()
    marks.mkdir()
    _tool(
        bin_dir,
        "mvn",
        _WAIT_FOR_THE_OTHER.format(marks=str(marks), me="mvn", other="go")
        + _MVN.format(version=APICURIO_VERSION),
    )
    _tool(bin_dir, "go", _WAIT_FOR_THE_OTHER.format(marks=str(marks), me="go", other="mvn") + _GO)
    env = {"PATH": str(bin_dir), "REELSTREAM_CACHE_DIR": str(tmp_path / "cache")}
    stack = LocalStack(StackLayout.ephemeral(tmp_path / "data", env), env)
    paths = stack._fetched()
    assert (paths["kafka"] / "kafka.jar").exists()
    assert (paths["schema-registry"] / "quarkus-run.jar").exists()
    assert paths["minio"] == tmp_path / "cache" / f"minio-{MINIO_VERSION}" / "bin" / "minio"
    assert paths["minio"].exists()
