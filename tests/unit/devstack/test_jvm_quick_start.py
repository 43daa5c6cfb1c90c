"""The local stack's JVMs start quickly: C1 only, and an AppCDS archive of their classes where the JDK makes
one by itself (19+); the start-up's timeline is printed as one line."""

from __future__ import annotations

import io
import time
from pathlib import Path

import pytest

from devstack.prereqs import java_major_version, quick_start_options
from devstack.steps import ConsoleSteps


def _fake_java(folder: Path, version: str) -> Path:
    """A `java` that answers `-version` as that JDK would (on stderr)."""
    folder.mkdir(parents=True)
    java = folder / "java"
    java.write_text(f"#!/bin/sh\necho 'openjdk version \"{version}\" 2025-04-15' >&2\n")
    java.chmod(0o755)
    return java


@pytest.mark.parametrize(("version", "cds"), [("25.0.1", True), ("19", True), ("17.0.15", False)])
def test_c1_always_and_an_appcds_archive_from_jdk_19(tmp_path: Path, version: str, cds: bool) -> None:
    java = _fake_java(tmp_path / version, version)
    archive = tmp_path / "cache" / "kafka-cds.jsa"
    options = quick_start_options(java, archive)
    assert options[0] == "-XX:TieredStopAtLevel=1"
    assert ("-XX:+AutoCreateSharedArchive" in options) is cds
    assert (f"-XX:SharedArchiveFile={archive}" in options) is cds


def test_an_unknown_java_gets_no_archive(tmp_path: Path) -> None:
    assert java_major_version(tmp_path / "no-java") is None
    assert quick_start_options(tmp_path / "no-java", tmp_path / "x.jsa") == ["-XX:TieredStopAtLevel=1"]


def test_the_timeline_lists_each_finished_step_with_its_time() -> None:
    steps = ConsoleSteps(out=io.StringIO())
    with steps.step("waiting for kafka to be ready"):
        pass
    with pytest.raises(RuntimeError), steps.step("topics and schemas"):
        raise RuntimeError("a failed step is not in the timeline")
    with steps.step("starting ingest"):
        deadline = time.monotonic() + 0.05
        while time.monotonic() < deadline:  # a step that takes measurable time (the condition is the time)
            pass
    line = steps.timeline()
    assert line.startswith("started in ")
    assert [name for name, _ in steps.timings] == ["waiting for kafka to be ready", "starting ingest"]
    assert steps.timings[1][1] >= 0.05
    assert ": waiting for kafka to be ready 0.0 s, starting ingest 0." in line
    assert "topics" not in line
