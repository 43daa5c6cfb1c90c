"""The stack tools say what they fetch and build while they do it: a line per step, a line every tick while
it runs with what it has done so far, and its outcome with its time and size."""

from __future__ import annotations

import io
import sys
import time
from pathlib import Path

import pytest

from devstack.fetch import FetchError, fetch_once, run_client
from devstack.steps import ConsoleSteps, StepProgress


def test_maven_downloads_are_counted_with_their_sizes() -> None:
    progress = StepProgress()
    for line in (
        "[INFO] Downloading from central: https://repo.example/org/a/1/a-1.jar",
        "[INFO] Downloaded from central: https://repo.example/org/a/1/a-1.jar (1.5 MB at 3.0 MB/s)",
        "Downloaded from central: https://repo.example/org/b/2/b-2.pom (812 B at 20 kB/s)",
        "[INFO] BUILD SUCCESS",
    ):
        progress.maven_line(line.removeprefix("[INFO] "))
    assert (progress.downloads, progress.downloaded_bytes) == (2, 1_500_812)
    assert progress.describe() == "2 files, 1.5 MB downloaded"


def test_go_module_downloads_and_compiled_packages_are_counted() -> None:
    progress = StepProgress()
    for line in (
        "go: downloading github.com/minio/minio v0.0.0-2026",
        "go: downloading golang.org/x/sys v0.30.0",
        "internal/goarch",
        "github.com/minio/minio/cmd",
        "",
    ):
        progress.go_line(line)
    assert (progress.modules, progress.packages) == (2, 2)


def test_a_client_s_lines_arrive_as_they_are_printed() -> None:
    seen: list[str] = []
    run_client([sys.executable, "-c", "print('one'); print('two', flush=True)"], "x", {}, on_line=seen.append)
    assert [s.strip() for s in seen] == ["one", "two"]


def test_a_failing_client_is_a_fetch_error_with_its_output_s_end() -> None:
    script = "import sys; print('resolving'); print('no such artifact'); sys.exit(3)"
    with pytest.raises(FetchError, match=r"exited 3[\s\S]*no such artifact"):
        run_client([sys.executable, "-c", script], "the thing", {})


def test_a_long_step_ticks_then_says_its_time_and_size_and_a_cached_one_says_so(tmp_path: Path) -> None:
    out = io.StringIO()
    steps = ConsoleSteps(out=out, tick=0.05)

    def build(staging: Path, progress: StepProgress) -> None:
        (staging / "blob").write_bytes(b"x" * 2_000_000)
        progress.maven_line("Downloaded from central: https://repo.example/blob.jar (2.0 MB at 1 MB/s)")
        deadline = time.monotonic() + 10
        while "…" not in out.getvalue().split("\n", 1)[-1] and time.monotonic() < deadline:
            time.sleep(0.01)  # until the ticker has spoken once (the condition), with a deadline

    fetch_once(tmp_path / "thing-1", build, "the thing 1", steps, "~2 MB")
    fetch_once(tmp_path / "thing-1", build, "the thing 1", steps)
    lines = out.getvalue().splitlines()
    assert "→ the thing 1 — ~2 MB …" in lines[0]
    assert "  … the thing 1: 0s, 1 files, 2.0 MB downloaded" in lines[1]
    assert "✓ the thing 1 in " in lines[-2]
    assert lines[-2].endswith("(1 files, 2.0 MB downloaded, 2.0 MB stored)")
    assert lines[-1].endswith("✓ the thing 1: cached (2.0 MB)")
