"""What the stack tools are doing, said as they do it: each step's name, then every few seconds how long it
has run and how much it has fetched or built so far, then its outcome with its time and size.

A step that takes minutes (Maven resolving jars, `go install` building MinIO) is never silent. Tests use
`QUIET`; the `dev` and `stack` commands a `ConsoleSteps` on stderr.
"""

from __future__ import annotations

import contextlib
import re
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol, TextIO

_UNITS = {"B": 1, "kB": 1_000, "KB": 1_000, "MB": 1_000_000, "GB": 1_000_000_000}
# Maven, not quiet: "Downloaded from <repo>: <url> (1.2 MB at 3.4 MB/s)"
_MAVEN_DOWNLOADED = re.compile(r"^Downloaded from [^:]+: \S+ \(([\d.]+) (B|kB|KB|MB|GB)\b")


def human_bytes(count: int) -> str:
    size = float(count)
    for unit in ("B", "kB", "MB"):
        if size < 1000:
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1000
    return f"{size:.2f} GB"


def folder_bytes(path: Path) -> int:
    """The total size of the files under `path` (0 when it does not exist)."""
    if not path.exists():
        return 0
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file() and not p.is_symlink())


@dataclass
class StepProgress:
    """What a running step has done so far, fed with its client's output lines."""

    downloaded_bytes: int = 0
    downloads: int = 0
    modules: int = 0  # Go modules downloaded
    packages: int = 0  # Go packages compiled
    stored_bytes: int = 0  # what the step left in the cache, once it is done

    def maven_line(self, line: str) -> None:
        match = _MAVEN_DOWNLOADED.match(line.strip())
        if match:
            self.downloads += 1
            self.downloaded_bytes += int(float(match.group(1)) * _UNITS[match.group(2)])

    def go_line(self, line: str) -> None:
        """`go install -v` output: "go: downloading <module> <version>", else a package it compiled."""
        text = line.strip()
        if text.startswith("go: downloading "):
            self.modules += 1
        elif text and " " not in text and "/" in text:
            self.packages += 1

    def describe(self) -> str:
        parts = []
        if self.downloads:
            parts.append(f"{self.downloads} files, {human_bytes(self.downloaded_bytes)} downloaded")
        if self.modules:
            parts.append(f"{self.modules} Go modules downloaded")
        if self.packages:
            parts.append(f"{self.packages} packages compiled")
        if self.stored_bytes:
            parts.append(f"{human_bytes(self.stored_bytes)} stored")
        return ", ".join(parts)


class Steps(Protocol):
    def step(self, what: str, hint: str = "") -> contextlib.AbstractContextManager[StepProgress]:
        """Run a step named `what` within the block (`hint`: what to expect, e.g. its usual duration)."""
        ...

    def done(self, what: str, detail: str) -> None:
        """Say that `what` needed no work (e.g. it was cached)."""


class QuietSteps:
    """Says nothing (tests, library callers)."""

    @contextlib.contextmanager
    def step(self, what: str, hint: str = "") -> Iterator[StepProgress]:
        yield StepProgress()

    def done(self, what: str, detail: str) -> None:
        return None


QUIET = QuietSteps()


@dataclass
class ConsoleSteps:
    """Prints each step's start, a line every `tick` seconds while it runs, and its outcome."""

    out: TextIO = field(default_factory=lambda: sys.stderr)
    tick: float = 10.0
    began: float = field(default_factory=time.monotonic)
    timings: list[tuple[str, float]] = field(default_factory=list)  # each finished step and its seconds

    def timeline(self) -> str:
        """One line: the time since the start, then each finished step's (`started in 41.2 s: a 3.1 s, …`)."""
        total = time.monotonic() - self.began
        steps = ", ".join(f"{what} {seconds:.1f} s" for what, seconds in self.timings)
        return f"started in {total:.1f} s" + (f": {steps}" if steps else "")

    def _say(self, text: str) -> None:
        print(f"[{time.monotonic() - self.began:5.0f}s] {text}", file=self.out, flush=True)

    def done(self, what: str, detail: str) -> None:
        self._say(f"✓ {what}: {detail}")

    @contextlib.contextmanager
    def step(self, what: str, hint: str = "") -> Iterator[StepProgress]:
        progress, stop = StepProgress(), threading.Event()
        started = time.monotonic()
        self._say(f"→ {what}" + (f" — {hint}" if hint else "") + " …")

        def ticker() -> None:
            while not stop.wait(self.tick):  # a ticker's period, not a wait for other work
                so_far = progress.describe()
                self._say(
                    f"  … {what}: {time.monotonic() - started:.0f}s" + (f", {so_far}" if so_far else "")
                )

        thread = threading.Thread(target=ticker, name="steps-ticker", daemon=True)
        thread.start()
        try:
            yield progress
        except BaseException:
            self._say(f"✗ {what} failed after {time.monotonic() - started:.1f}s")
            raise
        else:
            so_far = progress.describe()
            seconds = time.monotonic() - started
            self.timings.append((what, seconds))
            self._say(f"✓ {what} in {seconds:.1f}s" + (f" ({so_far})" if so_far else ""))
        finally:
            stop.set()
            thread.join()
