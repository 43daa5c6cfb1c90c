"""A service's scratch folder: `<tmp>/reelstream-<name>-<pid>`, removed when the service exits, and removed by
the next service to start on the machine when its owner died without cleaning up (SIGKILL, OOM killer).

The pid in the name is what makes a leftover recognisable: a folder whose process no longer runs, owned by
this user, is stale. A folder whose pid was reused by some other live process is left for later.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

logger = logging.getLogger(__name__)

PREFIX = "reelstream-"
_OWNED = re.compile(rf"^{re.escape(PREFIX)}.+-(\d+)$")


def scratch_path(name: str, pid: int | None = None, root: Path | None = None) -> Path:
    """Where the scratch folder of process `pid` (this one by default) named `name` lives; no I/O."""
    base = root if root is not None else Path(tempfile.gettempdir())
    return base / f"{PREFIX}{name}-{os.getpid() if pid is None else pid}"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: alive
        return True
    return True


def remove_stale(root: Path | None = None) -> list[Path]:
    """Remove the scratch folders under `root` (the temp folder) whose process is gone; those removed."""
    base = root if root is not None else Path(tempfile.gettempdir())
    removed: list[Path] = []
    try:
        entries = list(base.iterdir())
    except OSError:
        return removed
    uid = os.getuid()
    for entry in entries:
        match = _OWNED.match(entry.name)
        if match is None or int(match.group(1)) == os.getpid() or _alive(int(match.group(1))):
            continue
        try:
            if not entry.is_dir() or entry.is_symlink() or entry.stat().st_uid != uid:
                continue
        except OSError:
            continue
        shutil.rmtree(entry, ignore_errors=True)
        removed.append(entry)
    if removed:
        logger.info("removed scratch folders of processes that are gone", extra={"count": len(removed)})
    return removed


@contextlib.contextmanager
def process_scratch(path: Path) -> Iterator[Path]:
    """Clean up the dead processes' leftovers beside `path`, create `path` (0700), remove it at the end."""
    remove_stale(path.parent)
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)
